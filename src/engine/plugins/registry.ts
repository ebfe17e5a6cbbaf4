/**
 * The plugin registry: handlers written in TypeScript and registered here by name, which `plugin`
 * steps call (SPEC §2). This is how operators extend Stepline: write a handler, add it to
 * `plugins`, deploy. Registration of a definition refuses a plugin name that is not a key here
 * (`PLUGIN_NAMES` in `../plugins.ts`).
 *
 * Contract of a handler:
 * - it gets the step's `args`, rendered as templates (except the `rawArgs` it declares), and the
 *   attempt's `StepContext` (outbound `fetch`, abort `signal`, expression `scope`, `now`);
 * - its return value is the step's output and must be JSON (`undefined` becomes `null`);
 * - it throws a `StepError` (`NonRetriableError`, `RetryableError`) to steer retries; anything
 *   else it throws becomes a non-retriable `PLUGIN_ERROR`;
 * - it may run more than once for one step (at-least-once execution): side effects must be
 *   idempotent, e.g. keyed by `executionId`/`stepId`.
 */
import { jsonValidate } from "./json-validate";
import { textTemplate } from "./text-template";
import type { PluginDefinition } from "./types";

export const plugins: Readonly<Record<string, PluginDefinition>> = Object.freeze({
  "json.validate": jsonValidate,
  "text.template": textTemplate,
});

/** The plugin registered under `name` (own keys only: `toString` is not a plugin). */
export function getPlugin(name: string): PluginDefinition | undefined {
  return Object.hasOwn(plugins, name) ? plugins[name] : undefined;
}
