/**
 * What registration checks against the plugins registered in code (`./plugins/registry.ts`): a
 * `plugin` step names one of `PLUGIN_NAMES`; a `retry_on` names one of `RETRY_ON_CODES`, the
 * engine's step error codes plus those the plugins declare.
 */
import { ERROR_CODES } from "./errors";
import { plugins } from "./plugins/registry";

export const PLUGIN_NAMES: readonly string[] = Object.freeze(Object.keys(plugins));

export const RETRY_ON_CODES: readonly string[] = Object.freeze([
  ...new Set<string>([...ERROR_CODES, ...Object.values(plugins).flatMap((p) => p.errorCodes ?? [])]),
]);
