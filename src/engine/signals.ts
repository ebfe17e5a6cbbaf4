/**
 * Signals (SPEC §9), in pure code: what an `event` step completes with, and the decision that
 * delivers a signal to the step waiting for it (applied by `ExecutionRuntime.apply`). A signal
 * that no step waits for is kept by the Durable Object (at most MAX_KEPT_SIGNALS) and taken, first
 * in, first out, by the next event step of that name when it starts waiting.
 */
import { audited, type Decision } from "./decision";
import type { ExecutionRecord, Signal, SignalVia, StepRecord } from "./model";
import { eventValue } from "./outcomes";
import type { AuditRow } from "../schemas/audit";
import { isoTime } from "../lib/time";

/** Most signals an execution keeps for steps that do not wait yet. */
export const MAX_KEPT_SIGNALS = 100;

export type { Signal, SignalVia };

/** An event step's output: the signal. */
export function signalOutput(signal: Signal): { data: unknown; received_at: string; via: SignalVia } {
  return { data: signal.data, received_at: isoTime(signal.receivedAt), via: signal.via };
}

/** `signal.received`: who got it (`step_id`, null when it is kept for later) and how. */
export function signalReceived(signal: Signal, stepId: string | null) {
  return { type: "signal.received" as const, ...(stepId ? { stepId } : {}), data: { event: signal.event, via: signal.via, kept: stepId === null } };
}

/**
 * A signal for the step waiting for it: the step completes with it and a `waiting` execution runs
 * on. `data` is already checked against the step's schema and masked.
 */
export function decideSignal(execution: Readonly<ExecutionRecord>, step: Readonly<StepRecord>, signal: Signal, audit: AuditRow | null, now: number): Decision {
  const output = signalOutput(signal);
  return {
    timers: { clear: [{ kind: "step_wake", stepId: step.id }] },
    finished: [{ stepId: step.id, attempt: step.attempts, status: "completed", endedAt: now, output, error: null }],
    steps: [{ stepId: step.id, command: "complete", patch: { output, endedAt: now } }],
    ...(execution.status === "waiting" ? { execution: [{ command: "wake" as const, patch: { waitingFor: null } }] } : {}),
    ...audited(audit, now),
    events: [signalReceived(signal, step.id), { type: "step.completed", stepId: step.id, data: { attempt: step.attempts, ...eventValue(output) } }],
  };
}
