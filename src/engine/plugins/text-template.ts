/**
 * `text.template`: args `{ template, values? }` → `{ text }`. The template is rendered over the
 * step's expression context with `values` merged over it (so `{{ name }}` reads `values.name`, and
 * `{{ input.x }}` / `{{ steps.a.output }}` still work unless `values` shadows them).
 *
 * `template` is declared raw: the plugin step runner does not render it before the call, or its
 * `{{ }}` segments would be evaluated without `values` (and the rendered text then evaluated a
 * second time). `values` is rendered like any other argument. Secrets are not available.
 */
import { NonRetriableError } from "../errors";
import { interpolate, renderTemplate } from "../evaluate";
import type { PluginDefinition } from "./types";

export const textTemplate: PluginDefinition = {
  description: "Renders a {{ }} template over the expression context merged with `values`: { template, values? } → { text }.",
  rawArgs: ["template"],
  async handler(args, ctx) {
    const { template, values } = args;
    if (typeof template !== "string") {
      throw new NonRetriableError("PLUGIN_ERROR", "text.template: 'template' must be a string");
    }
    if (values !== undefined && (typeof values !== "object" || values === null || Array.isArray(values))) {
      throw new NonRetriableError("PLUGIN_ERROR", "text.template: 'values' must be an object");
    }
    const scope: Record<string, unknown> = { ...ctx.scope, ...(values as Record<string, unknown> | undefined) };
    const rendered = await renderTemplate(template, scope, undefined, "args.template");
    return { text: typeof rendered === "string" ? rendered : interpolate(rendered) };
  },
};
