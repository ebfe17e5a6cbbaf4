/**
 * Decisions on the execution as a whole, in pure code (see engine/decision.ts; applied by
 * `ExecutionRuntime.apply`): a user's pause, resume and retry, answers to an input step, and the
 * drive's end of a run (completed, partial, failed) or its wait. Each takes the records it needs;
 * the caller has already checked the command against the execution table where a refusal must
 * be answered (a move the table refuses is skipped when applied, as before).
 */
import { approvalRequestedData, executionGateLevel, gateExpiryMs, gateWaitingFor, pendingGate } from "./approvals";
import { audited, type Decision } from "./decision";
import type { ErrorInfo } from "./errors";
import type { ExecutionRecord, StepRecord } from "./model";
import { eventValue } from "./outcomes";
import { executionTimeoutMs } from "./retry";
import { transitionExecution } from "./state-machine";
import { NO_COST } from "./usage";
import { queuedEvent, queueOrAdmit, queueTimer, slotWaitingFor } from "./slots";
import type { AuditRow } from "../schemas/audit";
import type { CreateExecutionArgs } from "../schemas/execution-rpc";
import type { WaitingFor } from "../schemas/executions";
import { parseRfc3339 } from "../lib/time";

/**
 * A start request creates the execution: it runs at once (`execution.started`), or — with a
 * workflow approval of level 1 or 2 — waits for its gate before anything runs
 * (`approval.requested`, with the gate's expiry timer). Either way it gets its deadline.
 */
export function decideCreate(req: CreateExecutionArgs, now: number): Decision & { created: ExecutionRecord } {
  const gateLevel = executionGateLevel(req.definition.approval);
  const gate = gateLevel === null ? null : pendingGate({ kind: "execution", level: gateLevel }, now, now + gateExpiryMs(req.definition.approval!, gateLevel));
  const slot = !gate && req.concurrency ? slotWaitingFor(req.concurrency.key) : null;
  const created: ExecutionRecord = {
    id: req.id,
    tenant: req.tenant,
    workflowId: req.workflowId,
    workflowVersion: req.workflowVersion,
    definitionHash: req.definitionHash,
    definition: req.definition,
    input: req.input,
    labels: req.labels,
    requestHash: req.requestHash,
    planHash: req.planHash,
    approvals: gate ? [gate] : [],
    status: gate ? "pending_approval" : slot ? "queued" : "running",
    pausedFrom: null,
    waitingFor: gate ? gateWaitingFor(gate, req.planHash) : slot,
    output: undefined,
    error: null,
    attempt: 1,
    createdAt: now,
    startedAt: gate || slot ? null : now,
    endedAt: null,
    deadlineAt: now + executionTimeoutMs(req.definition),
    stateVersion: 1,
    prices: req.prices,
    cost: { ...NO_COST },
    budget: req.budget,
    budgetIds: req.budgetIds,
    concurrency: req.concurrency,
    origin: req.origin,
    parent: req.parent,
    depth: req.depth,
    childVersions: req.childVersions,
  };
  const timers: NonNullable<Decision["timers"]>["set"] = [{ kind: "execution_timeout", stepId: null, dueAt: created.deadlineAt! }];
  if (gate) timers.push({ kind: "approval_expiry", stepId: null, dueAt: parseRfc3339(gate.expires_at)! });
  if (slot) timers.push(...(queueTimer(req.concurrency!.queueTtlSeconds, now).timers?.set ?? []));
  return {
    created,
    timers: { set: timers },
    ...audited(req.audit, now),
    events: [
      { type: "execution.created", data: { workflow_id: req.workflowId, workflow_version: req.workflowVersion, labels: req.labels } },
      gate
        ? { type: "approval.requested", data: approvalRequestedData(gate, req.planHash) }
        : slot
          ? queuedEvent(slot, req.concurrency!.priority)
          : { type: "execution.started", data: { attempt: 1 } },
    ],
  };
}

/** A user pauses the execution; it resumes into the status it had. */
export function decidePause(execution: Readonly<ExecutionRecord>, audit: AuditRow | null, now: number): Decision {
  return {
    execution: [{ command: "pause", patch: { pausedFrom: execution.status } }],
    ...audited(audit, now),
    events: [{ type: "execution.paused", data: {} }],
  };
}

export function decideResume(audit: AuditRow | null, now: number): Decision {
  return {
    execution: [{ command: "resume", patch: { pausedFrom: null } }],
    ...audited(audit, now),
    events: [{ type: "execution.resumed", data: {} }],
  };
}

/**
 * A user redrives an ended execution: its failed and cancelled steps go back to pending, and it
 * runs again as its next attempt with a new deadline. It re-enters through `queued`: with a
 * concurrency key it waits there for a slot like a new one, without one it is admitted at once.
 */
export function decideRetry(execution: Readonly<ExecutionRecord>, steps: Iterable<Readonly<StepRecord>>, audit: AuditRow | null, now: number): Decision {
  const redrive: NonNullable<Decision["steps"]> = [];
  for (const st of steps) {
    if (st.status === "failed" || st.status === "cancelled") redrive.push({ stepId: st.id, command: "redrive", patch: { error: null, endedAt: null, nextAttemptAt: null } });
  }
  const attempt = execution.attempt + 1;
  const deadlineAt = now + executionTimeoutMs(execution.definition);
  const entry = queueOrAdmit(execution, { command: "retry", patch: { attempt, error: null, endedAt: null, output: undefined, deadlineAt } }, { command: "admit" }, attempt, now);
  return {
    steps: redrive,
    execution: entry.execution,
    timers: { set: [{ kind: "execution_timeout", stepId: null, dueAt: deadlineAt }, ...(entry.timers?.set ?? [])] },
    ...audited(audit, now),
    events: entry.events,
  };
}

/**
 * A user reruns an ended execution from a step (SPEC §10): the steps of `rerun` (that step, its
 * downstream, and whatever did not complete: engine/redrive.ts) go back to pending, their outputs
 * dropped; the others keep theirs. A new input comes with its plan hash. It re-enters through
 * `queued`, like a retry.
 */
export function decideRerun(
  execution: Readonly<ExecutionRecord>,
  steps: ReadonlyMap<string, Readonly<StepRecord>>,
  rerun: readonly string[],
  fromStep: string,
  input: { input: unknown; planHash: string } | null,
  audit: AuditRow | null,
  now: number,
): Decision {
  const redrive: NonNullable<Decision["steps"]> = [];
  const kept: NonNullable<Decision["kept"]> = [];
  for (const id of rerun) {
    const st = steps.get(id);
    if (!st || st.status === "pending") continue;
    // A pure step's first attempt lives in its step row only: kept as a row before the step moves on.
    if (st.status === "completed" && st.attempts === 1 && st.startedAt !== null && st.endedAt !== null) {
      kept.push({ stepId: id, attempt: 1, startedAt: st.startedAt, endedAt: st.endedAt, output: st.output });
    }
    redrive.push({ stepId: id, command: "redrive", patch: { output: undefined, error: null, endedAt: null, nextAttemptAt: null } });
  }
  const attempt = execution.attempt + 1;
  const deadlineAt = now + executionTimeoutMs(execution.definition);
  const patch = { attempt, error: null, endedAt: null, output: undefined, deadlineAt, ...(input ? { input: input.input, planHash: input.planHash } : {}) };
  const entry = queueOrAdmit(execution, { command: "rerun", patch }, { command: "admit" }, attempt, now);
  return {
    ...(kept.length > 0 ? { kept } : {}),
    steps: redrive,
    execution: entry.execution,
    timers: { set: [{ kind: "execution_timeout", stepId: null, dueAt: deadlineAt }, ...(entry.timers?.set ?? [])] },
    ...audited(audit, now),
    events: [{ type: "execution.rerun", data: { from_step: fromStep, rerun: [...rerun], attempt, ...(input ? { plan_hash: input.planHash } : {}) } }, ...entry.events],
  };
}

/**
 * Valid answers (masked) complete the waiting input step; the execution, if it was `waiting` for
 * them, runs on. `by`: who answered.
 */
export function decideAnswer(
  execution: Readonly<ExecutionRecord>,
  step: Readonly<StepRecord>,
  answers: Record<string, unknown>,
  audit: AuditRow | null,
  now: number,
): Decision {
  const stepId = step.id;
  return {
    timers: { clear: [{ kind: "step_wake", stepId }] },
    finished: [{ stepId, attempt: step.attempts, status: "completed", endedAt: now, output: answers, error: null }],
    steps: [{ stepId, command: "complete", patch: { output: answers, endedAt: now } }],
    execution: [{ command: "answer", patch: execution.status === "waiting" ? { waitingFor: null } : {} }],
    ...audited(audit, now),
    events: [
      { type: "answers.received", stepId, data: { answers, by: audit?.actor ?? null } },
      { type: "step.completed", stepId, data: { attempt: step.attempts, output: answers } },
    ],
  };
}

/** Every step ended: the execution ends `completed`, `partial` or `failed`, with its output (if any). */
export function decideEnd(outcome: "completed" | "partial" | "failed", output: unknown): Decision {
  const command = outcome === "completed" ? "complete" : outcome === "partial" ? "complete_partial" : "fail";
  const type = outcome === "completed" ? "execution.completed" : outcome === "partial" ? "execution.partial" : "execution.failed";
  return { execution: [{ command, patch: { output } }], events: [{ type, data: eventValue(output) }] };
}

/** The execution fails with `error` (e.g. its output expression failed), with no step left open. */
export function decideFailed(error: ErrorInfo): Decision {
  return { execution: [{ command: "fail", patch: { error } }], events: [{ type: "execution.failed", data: { error } }] };
}

/** Nothing runs and a step waits: the execution is `waiting` for it, if its status allows (else nothing changes). */
export function decideWaiting(execution: Readonly<ExecutionRecord>, waitingFor: WaitingFor): Decision {
  if (!transitionExecution(execution.status, "wait").ok) return { events: [] };
  return { execution: [{ command: "wait", patch: { waitingFor } }], events: [{ type: "execution.waiting", data: { waiting_for: waitingFor } }] };
}

/**
 * Every step that has not ended is cancelled: a running or waiting one closes its attempt
 * (`step.cancelled` with `error`), and each loses its retry and wake timers. One decision per step
 * and then one for its timers, in the steps' order, so the writes keep the order they have always
 * had (attempt, step, timers; step by step). Applied together with the execution's move.
 */
export function decideCancelOpenSteps(steps: Iterable<Readonly<StepRecord>>, error: ErrorInfo, now: number): Decision[] {
  const out: Decision[] = [];
  for (const st of steps) {
    if (st.status !== "pending" && st.status !== "running" && st.status !== "waiting") continue;
    const move: NonNullable<Decision["steps"]> = [{ stepId: st.id, command: "cancel", patch: { endedAt: now, nextAttemptAt: null } }];
    out.push(
      st.status === "pending"
        ? { steps: move, events: [] }
        : {
            finished: [{ stepId: st.id, attempt: st.attempts, status: "cancelled", endedAt: now, error: { ...error, step_id: st.id, attempt: st.attempts } }],
            steps: move,
            events: [{ type: "step.cancelled", stepId: st.id, data: { attempt: st.attempts, error } }],
          },
      {
        timers: {
          clear: [
            { kind: "step_retry", stepId: st.id },
            { kind: "step_wake", stepId: st.id },
          ],
        },
        events: [],
      },
    );
  }
  return out;
}

/** A user cancels the execution: its open steps are cancelled with it. */
export function decideCancel(steps: Iterable<Readonly<StepRecord>>, audit: AuditRow | null, now: number): Decision[] {
  return [
    ...decideCancelOpenSteps(steps, { code: "CANCELLED", message: "The execution was cancelled." }, now),
    { execution: [{ command: "cancel" }], ...audited(audit, now), events: [{ type: "execution.cancelled", data: {} }] },
  ];
}

/** The execution's timeout passed: it ends `timed_out`, its open steps cancelled. */
export function decideTimeout(steps: Iterable<Readonly<StepRecord>>, error: ErrorInfo, now: number): Decision[] {
  return [
    ...decideCancelOpenSteps(steps, error, now),
    { execution: [{ command: "time_out", patch: { error } }], events: [{ type: "execution.timed_out", data: { error } }] },
  ];
}

/** A step failed (not tolerated): the execution fails with `error`, its other open steps cancelled. */
export function decideStepFailedExecution(steps: Iterable<Readonly<StepRecord>>, stepId: string, error: ErrorInfo, now: number): Decision[] {
  return [
    ...decideCancelOpenSteps(steps, { code: "CANCELLED", message: `Cancelled because step '${stepId}' failed.` }, now),
    decideFailed(error),
  ];
}
