/**
 * Signals for the execution's event steps (SPEC §9): one that a step waits for completes it (and a
 * `waiting` execution runs on); one that no step waits for yet is kept, at most MAX_KEPT_SIGNALS,
 * for the next event step of that name to take when it starts waiting (attempts.ts). `data` is
 * checked against the step's `schema` — the waiting step's, else the first event step of that name
 * still to run — so a signal refused now would not have been taken later. A name no event step of
 * the definition declares is refused: a mistyped event must not wait silently.
 */
import { decideSignal, MAX_KEPT_SIGNALS, signalReceived, type Signal, type SignalVia } from "../../engine/signals";
import type { StepRecord } from "../../engine/model";
import { validateJsonValue } from "../../engine/json-schema-validate";
import { isEndedStep, isTerminalExecution } from "../../engine/state-machine";
import type { AuditRow } from "../../schemas/audit";
import type { EventStep, Step } from "../../schemas/definition";
import type { SignalResult } from "../../schemas/execution-rpc";
import { audited } from "../../engine/decision";
import { toExecution } from "./read-model";
import type { ExecutionRuntime, LoadedState } from "./runtime";

export class Signals {
  constructor(private readonly rt: ExecutionRuntime) {}

  /** A signal sent by name (`POST …/signals/{event}`): to the step waiting for it, or kept. */
  receive(tenant: string, event: string, data: unknown, audit: AuditRow | null): SignalResult {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    if (isTerminalExecution(s.execution.status)) return { ok: false, reason: "invalid_state", status: s.execution.status };
    const named = s.execution.definition.steps.filter((d: Step): d is EventStep => d.type === "event" && d.event === event);
    if (named.length === 0) return { ok: false, reason: "unknown_event" };
    const waiting = named.find((d) => s.steps.get(d.id)?.status === "waiting");
    const target = waiting ?? named.find((d) => !isEndedStep(s.steps.get(d.id)!.status)) ?? named[0]!;
    const problems = dataProblems(target, data);
    if (problems) return problems;
    if (waiting) return this.deliver(s, s.steps.get(waiting.id)!, event, data, "signal", audit);
    if (this.rt.store.keptSignals() >= MAX_KEPT_SIGNALS) return { ok: false, reason: "full" };
    const now = this.rt.deps.clock.now();
    const signal: Signal = { event, data: this.rt.mask(s, data), receivedAt: now, via: "signal" };
    this.rt.apply(s, { signals: { keep: [signal] }, ...audited(audit, now), events: [signalReceived(signal, null)] });
    return { ok: true, execution: toExecution(s.execution), event, stepId: null, receivedAt: now };
  }

  /**
   * A callback (`POST /v1/callbacks/{token}`, the token already verified): for the one attempt of
   * the one step it was made for, while that attempt waits. Once the step took a signal (or timed
   * out, or the execution ended) the token is spent: `used`.
   */
  callback(tenant: string, stepId: string, attempt: number, data: unknown): SignalResult {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    const def = s.defs.get(stepId);
    const st = s.steps.get(stepId);
    if (!def || def.type !== "event" || !st) return { ok: false, reason: "not_found" };
    if (isTerminalExecution(s.execution.status) || st.status !== "waiting" || st.attempts !== attempt) return { ok: false, reason: "used" };
    return dataProblems(def, data) ?? this.deliver(s, st, def.event, data, "callback", null);
  }

  /** The signal (its data checked) completes the waiting step, in one transaction. */
  private deliver(s: LoadedState, st: StepRecord, event: string, data: unknown, via: SignalVia, audit: AuditRow | null): SignalResult {
    const now = this.rt.deps.clock.now();
    const signal: Signal = { event, data: this.rt.mask(s, data), receivedAt: now, via };
    this.rt.apply(s, decideSignal(s.execution, st, signal, audit, now));
    return { ok: true, execution: toExecution(s.execution), event, stepId: st.id, receivedAt: now };
  }
}

/** `data` against the event step's `schema`: the problems (JSON Pointers into `data`), or null when it fits. */
function dataProblems(step: EventStep, data: unknown): Extract<SignalResult, { reason: "invalid_data" }> | null {
  if (step.schema === undefined) return null;
  const problems = validateJsonValue(step.schema as Record<string, unknown> | boolean, data);
  if (problems.length === 0) return null;
  return { ok: false, reason: "invalid_data", problems: problems.map((p) => ({ path: p.path.replace(/^#/, ""), message: p.message })) };
}
