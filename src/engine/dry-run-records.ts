/**
 * A dry run's execution records, in memory (see ./dry-run.ts): the same `ExecutionRecord` and
 * `StepRecord` a real run keeps, changed by applying `Decision`s as `ExecutionRuntime.apply` writes
 * them — step and execution moves checked against the state machine's tables, gates, timers,
 * events — and nothing else. What a decision sends out of the execution (index and audit rows,
 * usage, children to start, inbox items) is dropped: a dry run keeps and sends nothing.
 */
import type { Decision, TimerSet } from "./decision";
import type { EventSpec, ExecutionRecord, StepRecord } from "./model";
import { isTerminalExecution, transitionExecution, transitionStep } from "./state-machine";
import type { ExpressionScope } from "./steps/types";
import type { TimerKind } from "../schemas/vocabulary";
import { isoTime } from "../lib/time";

/** An event as the dry run recorded it: the decision's, stamped with the dry run's clock. */
export interface DryRunEvent extends EventSpec {
  time: number;
}

const timerKey = (kind: TimerKind, stepId: string | null): string => `${kind}\n${stepId ?? ""}`;

export class DryRunRecords {
  execution!: ExecutionRecord;
  readonly steps = new Map<string, StepRecord>();
  readonly events: DryRunEvent[] = [];
  private readonly timers = new Map<string, TimerSet>();

  /** `now`: the dry run's clock, which fast-forwarding moves on. */
  constructor(
    stepIds: readonly string[],
    public now: number,
  ) {
    stepIds.forEach((id, idx) => {
      this.steps.set(id, { id, idx, status: "pending", attempts: 0, output: undefined, error: null, startedAt: null, endedAt: null, nextAttemptAt: null });
    });
  }

  /** Applies decisions in the order `ExecutionRuntime.apply` writes them. */
  apply(d: Decision | readonly Decision[]): void {
    if (Array.isArray(d)) {
      for (const one of d as readonly Decision[]) this.apply(one);
      return;
    }
    const one = d as Decision;
    if (one.created) this.execution = one.created;
    for (const g of one.decidedGates ?? []) Object.assign(this.execution.approvals[g.index]!, g.patch);
    for (const t of one.timers?.clear ?? []) this.timers.delete(timerKey(t.kind, t.stepId));
    for (const m of one.steps ?? []) {
      const st = this.steps.get(m.stepId)!;
      const t = transitionStep(st.status, m.command);
      // The object refuses an illegal step move the same way: it is a bug in the decision, not a user error.
      if (!t.ok) throw new Error(`illegal step transition ${st.id}: ${st.status} --${m.command}-->`);
      Object.assign(st, m.patch, { status: t.to });
    }
    if (one.gates) this.execution.approvals.push(...one.gates);
    if (one.budget) this.execution.budget = one.budget;
    for (const m of one.execution ?? []) this.moveExecution(m.command, m.patch);
    for (const t of one.timers?.set ?? []) this.timers.set(timerKey(t.kind, t.stepId), t);
    const time = one.at ?? this.now;
    for (const e of one.events) this.events.push({ ...e, time: e.time ?? time });
  }

  /** As `ExecutionRuntime.moveExecution`: a move the table refuses changes nothing. */
  private moveExecution(command: Parameters<typeof transitionExecution>[1], patch: Partial<ExecutionRecord> = {}): void {
    const e = this.execution;
    const t = transitionExecution(e.status, command);
    if (!t.ok) return;
    Object.assign(e, patch, { status: t.to, stateVersion: e.stateVersion + 1 });
    if (t.to !== "waiting" && patch.waitingFor === undefined) e.waitingFor = null;
    if (isTerminalExecution(t.to)) {
      e.endedAt = this.now;
      for (const g of e.approvals) if (g.status === "pending") Object.assign(g, { status: "cancelled", decided_at: isoTime(this.now) });
      this.timers.clear();
    }
  }

  /** The earliest timer, or null: what fast-forwarding jumps to. */
  earliestTimer(): TimerSet | null {
    let first: TimerSet | null = null;
    for (const t of this.timers.values()) if (first === null || t.dueAt < first.dueAt) first = t;
    return first;
  }

  clearTimer(kind: TimerKind, stepId: string | null): void {
    this.timers.delete(timerKey(kind, stepId));
  }

  /** What expressions see now (a snapshot: the dry run runs one attempt at a time). */
  scope(): ExpressionScope {
    const e = this.execution;
    const steps: ExpressionScope["steps"] = {};
    for (const st of this.steps.values()) steps[st.id] = { output: st.output, status: st.status };
    return {
      input: e.input,
      steps,
      execution: { id: e.id, workflow_id: e.workflowId, workflow_version: e.workflowVersion, attempt: e.attempt, started_at: isoTime(e.startedAt) },
    };
  }
}
