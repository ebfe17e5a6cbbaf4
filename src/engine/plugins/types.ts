/**
 * The shape of a plugin (see `registry.ts` for the contract of a handler). Its own module so the
 * plugins and the registry that lists them both import it, without a circle between them.
 */
import type { StepContext } from "../steps/types";

export type PluginHandler = (args: Record<string, unknown>, ctx: StepContext) => Promise<unknown>;

export interface PluginDefinition {
  /** One line for people reading the registry. */
  description: string;
  /**
   * Top-level argument names passed to the handler as written, not rendered as templates first:
   * for arguments that are templates the handler renders itself (`text.template`'s `template`).
   */
  rawArgs?: readonly string[];
  /**
   * Codes of the `StepError`s the handler throws beyond the engine's own (`ERROR_CODES`), UPPER_SNAKE:
   * declared so that a step's `retry_on` may name them (registration refuses any other code).
   */
  errorCodes?: readonly string[];
  handler: PluginHandler;
}
