/**
 * `plugin`: calls the handler registered under `step.plugin` (see `../plugins/registry.ts`) with
 * `args` rendered as templates — except the arguments the plugin declares raw (`rawArgs`), which it
 * receives as written. Secrets are not available to plugins. The handler's value (JSON; `undefined`
 * → null) is the output. A `StepError` it throws is kept (so a plugin steers its retries); anything
 * else becomes a non-retriable `PLUGIN_ERROR`. Registration refuses a name that is not registered.
 * A dry run runs it as usual (with the dry run's `fetch`, which sends nothing).
 */
import type { PluginStep } from "../../schemas/definition";
import { NonRetriableError, StepError } from "../errors";
import { renderTemplate } from "../evaluate";
import { toPlainJson } from "../plain-json";
import { getPlugin } from "../plugins/registry";
import type { StepKind } from "./types";

export const pluginKind: StepKind<PluginStep> = {
  async run(step, ctx) {
    const plugin = getPlugin(step.plugin);
    if (!plugin) {
      throw new NonRetriableError("UNKNOWN_PLUGIN", `no plugin named '${step.plugin}' is registered in this deployment`, { plugin: step.plugin });
    }
    const raw = new Set(plugin.rawArgs ?? []);
    const args: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(step.args ?? {})) {
      args[name] = raw.has(name) ? value : await renderTemplate(value, ctx.scope, undefined, `args.${name}`);
    }
    let result: unknown;
    try {
      result = await plugin.handler(args, ctx);
    } catch (error) {
      if (error instanceof StepError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new NonRetriableError("PLUGIN_ERROR", `plugin '${step.plugin}' failed: ${message}`);
    }
    let output: unknown;
    try {
      output = toPlainJson(result) ?? null;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new NonRetriableError("PLUGIN_ERROR", `plugin '${step.plugin}' returned a value that is not JSON: ${message}`);
    }
    return { kind: "completed", output };
  },
  check(step, ctx) {
    const registered = ctx.plugins;
    if (registered && !registered.includes(step.plugin)) {
      const list = registered.length > 0 ? ` (registered: ${registered.join(", ")})` : " (none are registered)";
      ctx.problem(["plugin"], "UNKNOWN_PLUGIN", `no plugin named '${step.plugin}' is registered${ctx.suggestion(step.plugin, registered) || list}`);
    }
    if (step.args !== undefined) ctx.templates(step.args, ["args"]);
  },
  async simulate(step, ctx) {
    return { outcome: await pluginKind.run(step, ctx) };
  },
};
