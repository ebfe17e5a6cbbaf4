/**
 * `wait`: `{ seconds }` sleeps that long from now; `{ until }` (a literal RFC 3339 timestamp with
 * an offset, or a template yielding one) sleeps until that instant, and an instant in the past does
 * not wait. The outcome is a `sleep`: the Durable Object arms a timer and completes the step with
 * `{ waited_until }` when it fires. No secrets.
 */
import type { WaitStep } from "../../schemas/definition";
import { NonRetriableError } from "../errors";
import { renderTemplate } from "../evaluate";
import type { StepOutcome, StepRunner } from "./types";

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Epoch milliseconds of an RFC 3339 date-time with an offset (`Z` or `±hh:mm`), or null. */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, year, month, day, hour, minute, second, fraction = "", , offH, offM] = m;
  const y = Number(year);
  const mo = Number(month);
  const d = Number(day);
  const h = Number(hour);
  const mi = Number(minute);
  const s = Number(second);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  if (d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return null; // day 0 of the next month = last day of this one
  if (offH !== undefined && (Number(offH) > 23 || Number(offM) > 59)) return null;
  const normalised = `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction.slice(0, 4)}${m[8] === "z" ? "Z" : m[8]}`;
  const ms = Date.parse(normalised);
  return Number.isNaN(ms) ? null : ms;
}

export const waitRunner: StepRunner<WaitStep> = {
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
    return { kind: "sleep", until, output: { waited_until: new Date(until).toISOString() } };
  },
};
