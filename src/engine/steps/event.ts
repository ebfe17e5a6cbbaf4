/**
 * `event`: waits for a signal named `event` (`POST /v1/executions/{id}/signals/{event}`, SPEC §9).
 * The attempt only says what it waits for; the Durable Object completes the step with the first
 * signal kept for that name, or when one arrives, with `{ data, received_at, via }`. Its
 * `timeout_seconds` bounds the wait (a timer): `on_timeout: continue` completes it with
 * `{ data: null, received_at: null, via: "timeout" }`, `fail` (the default) fails it
 * `EVENT_TIMEOUT`. While it waits its output is `{ event, callback_url }`: the one-use URL that
 * delivers the signal without an API key. A dry run asks as usual (with no callback URL: its
 * context gives none) and delivers the request's `signals[event]`, or fast-forwards to the timeout.
 */
import type { EventStep } from "../../schemas/definition";
import type { StepKind } from "./types";

/** What an event step's timeout completes it with under `on_timeout: continue`. */
export const TIMED_OUT_SIGNAL = { data: null, received_at: null, via: "timeout" } as const;

export const eventKind: StepKind<EventStep> = {
  async run(step, ctx) {
    return { kind: "event", event: step.event, callbackUrl: await ctx.callbackUrl(step.timeout_seconds) };
  },
  waitsFor: "signal",
  signals: {
    onTimeout: (step) => (step.on_timeout === "continue" ? TIMED_OUT_SIGNAL : null),
  },
  attemptTimeoutMs: () => null,
  async simulate(step, ctx) {
    return { outcome: await eventKind.run(step, ctx) };
  },
};
