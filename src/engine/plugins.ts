/**
 * Names of the plugins registered in code (`./plugins/registry.ts`). Registration refuses a
 * `plugin` step naming anything else.
 */
import { plugins } from "./plugins/registry";

export const PLUGIN_NAMES: readonly string[] = Object.freeze(Object.keys(plugins));
