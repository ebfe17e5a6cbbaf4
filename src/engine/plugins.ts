/**
 * Names of the plugins registered in code. Registration refuses a `plugin` step naming anything
 * else. (The handlers themselves arrive with the engine's step-runner registry.)
 */
export const PLUGIN_NAMES = ["json.validate", "text.template"] as const;
