/**
 * `wait`: `{ seconds }` sleeps that long from now; `{ until }` (a literal RFC 3339 timestamp with
 * an offset, or a template yielding one) sleeps until that instant, and an instant in the past does
 * not wait. `until` is read with `parseRfc3339`, the parser registration checks a literal with, so
 * what registers runs. The outcome is a `sleep`: the Durable Object arms a timer and completes the
 * step with `{ waited_until }` when it fires. No secrets, no timeout of its own (a sleep is not an
 * attempt). A dry run fast-forwards: the step completes at once with that output.
 */
import { isoTime, isRfc3339, parseRfc3339 } from "../../lib/time";
import type { WaitStep } from "../../schemas/definition";
import { NonRetriableError } from "../errors";
import { renderTemplate } from "../evaluate";
import type { StepKind, StepOutcome } from "./types";

export const waitKind: StepKind<WaitStep> = {
  async run(step, ctx): Promise<StepOutcome> {
    const now = ctx.now();
    let until: number;
    if (step.seconds !== undefined) {
      until = now + step.seconds * 1000;
    } else if (step.until !== undefined) {
      const rendered = await renderTemplate(step.until, ctx.scope, undefined, "until");
      const at = typeof rendered === "string" ? parseRfc3339(rendered.trim()) : null;
      if (at === null) {
        const shown = typeof rendered === "string" ? `'${rendered.slice(0, 100)}'` : JSON.stringify(rendered)?.slice(0, 100) ?? "undefined";
        throw new NonRetriableError(
          "TEMPLATE_ERROR",
          `until: ${shown} is not an RFC 3339 timestamp with an offset (e.g. 2026-12-01T09:00:00Z)`,
        );
      }
      until = Math.max(at, now);
    } else {
      throw new NonRetriableError("TEMPLATE_ERROR", "a wait step needs 'seconds' or 'until'");
    }
    return { kind: "sleep", until, output: { waited_until: isoTime(until) } };
  },
  attemptTimeoutMs: () => null,
  check(step, ctx) {
    if (step.until === undefined) return;
    if (ctx.template(step.until, ["until"]) === "literal" && !isRfc3339(step.until)) {
      ctx.problem(["until"], "INVALID_TIMESTAMP", `until '${step.until}' is not an RFC 3339 timestamp with an offset (e.g. 2026-12-01T09:00:00Z) nor a {{ }} template`);
    }
  },
  async simulate(step, ctx) {
    const outcome = await waitKind.run(step, ctx);
    return { outcome: outcome.kind === "sleep" ? { kind: "completed", output: outcome.output } : outcome };
  },
};
