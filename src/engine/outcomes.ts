/**
 * What an attempt's result does to its step, decided in pure code: each function takes the plain
 * records it needs and returns a `Decision` (engine/decision.ts) that the Durable Object applies in
 * one transaction (`ExecutionRuntime.apply`). Nothing here reads a clock, storage or randomness
 * of its own: `now` and `random` are given.
 *
 * - `decideOutcome`: a successful attempt's `StepOutcome`, through `outcomeDeciders` (one per
 *   outcome kind; the compiler checks the table is complete): completed, sleep, ask, approval.
 * - `decideFailure`: a failed attempt, through the retry policy: retry later or fail the step.
 * - `decideStart`, `decideSkip`, `decideHold`: a step's first moves (an attempt begins, its `if`
 *   is false, it waits for its level-3 approval).
 * - `decideInterrupted`, `decideWake`, `decideNeedsSkipped`: what the drive finds (an attempt cut
 *   off, a wake timer due, steps whose `needs` were skipped).
 *
 * Whatever a decision records (outputs, errors, questions, comments) is masked here with the
 * execution's secret values; with none, values are kept as they are (no copy).
 */
import { approvalRequestedData, pendingGate } from "./approvals";
import type { Decision } from "./decision";
import type { ErrorInfo, StepError } from "./errors";
import { maskSecrets } from "./evaluate";
import type { ChildWait, StepRecord } from "./model";
import { resolveRetryPolicy, retryDelayMs, shouldRetry, stepTimeoutMs } from "./retry";
import { kindOf, stepKinds } from "./steps/registry";
import type { StepKinds, StepOutcome } from "./steps/types";
import type { Step, WorkflowDefinition } from "../schemas/definition";
import type { ApprovalGate, ExecutionStatus } from "../schemas/executions";
import { isoTime, parseRfc3339 } from "../lib/time";

/** Larger values are left out of events (the step trace still has them). */
export const MAX_EVENT_VALUE_BYTES = 16 * 1024;

/** Values too large for an event are replaced by a marker; the full value is in the step trace. */
export function eventValue(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  const text = JSON.stringify(value);
  return text.length <= MAX_EVENT_VALUE_BYTES ? { output: value } : { output_truncated: true, output_bytes: text.length };
}

/** `value` with every secret value masked (`***`); `value` itself when there are none. */
export function masked<T>(secrets: readonly string[], value: T): T {
  return secrets.length === 0 ? value : maskSecrets(value, secrets);
}

/** What deciding on an attempt's result needs to know. */
export interface Settling {
  /** The step, `running` this attempt. */
  step: Readonly<StepRecord>;
  def: Step;
  attempt: number;
  /** When the attempt ended. */
  now: number;
  workflow: Pick<WorkflowDefinition, "sla_class" | "approval">;
  /** The execution's plan hash (a level-2 approval step asks for it). */
  planHash: string;
  /** The values of the secrets the definition names: masked in whatever is recorded. */
  secrets: readonly string[];
}

type OutcomeDecider<O extends StepOutcome> = (c: Settling, outcome: O) => Decision;

/** One decider per kind of `StepOutcome`, each given its own variant: the compiler checks the table is complete. */
export type OutcomeDeciders = { [K in StepOutcome["kind"]]: OutcomeDecider<Extract<StepOutcome, { kind: K }>> };

/** The events of a gate that opens for a step: it waits, and the approval is requested. */
function gateOpens(stepId: string, attempts: number, gate: ApprovalGate, planHash: string): Decision["events"] {
  return [
    { type: "step.waiting", stepId, data: { attempt: attempts, kind: "approval" } },
    { type: "approval.requested", stepId, data: approvalRequestedData(gate, planHash) },
  ];
}

export const outcomeDeciders: OutcomeDeciders = {
  completed: ({ step, attempt, now, secrets }, outcome) => {
    const output = masked(secrets, outcome.output);
    return {
      finished: [{ stepId: step.id, attempt, status: "completed", endedAt: now, output, error: null }],
      steps: [{ stepId: step.id, command: "complete", patch: { output, endedAt: now } }],
      events: [{ type: "step.completed", stepId: step.id, data: { attempt, ...eventValue(output) } }],
    };
  },
  sleep: ({ step, attempt, secrets }, outcome) => {
    const output = masked(secrets, outcome.output);
    return {
      steps: [{ stepId: step.id, command: "wait", patch: { output } }],
      timers: { set: [{ kind: "step_wake", stepId: step.id, dueAt: outcome.until }] },
      events: [{ type: "step.waiting", stepId: step.id, data: { attempt, kind: "sleep", until: isoTime(outcome.until) } }],
    };
  },
  ask: ({ step, def, attempt, now, secrets }, outcome) => {
    // While it waits, the step's output holds the questions asked (prompts rendered).
    const questions = masked(secrets, outcome.questions);
    // Only a kind that waits for answers asks; its timeout_seconds bounds that wait.
    const timeout = def.timeout_seconds;
    const expiresAt = timeout === undefined ? undefined : now + timeout * 1000;
    return {
      steps: [{ stepId: step.id, command: "wait", patch: { output: { questions } } }],
      ...(expiresAt !== undefined ? { timers: { set: [{ kind: "step_wake", stepId: step.id, dueAt: expiresAt }] } } : {}),
      events: [
        { type: "step.waiting", stepId: step.id, data: { attempt, kind: "answers" } },
        { type: "answers.requested", stepId: step.id, data: { questions, ...(expiresAt !== undefined ? { expires_at: isoTime(expiresAt) } : {}) } },
      ],
    };
  },
  event: ({ step, def, attempt, now }, outcome) => {
    // Its timeout_seconds bounds the wait for the signal (the Durable Object delivers it, or one kept).
    const timeout = def.timeout_seconds;
    const until = timeout === undefined ? undefined : now + timeout * 1000;
    // While it waits, the step's output says what it waits for and where a callback goes.
    const waitingFor = { event: outcome.event, callback_url: outcome.callbackUrl };
    return {
      steps: [{ stepId: step.id, command: "wait", patch: { output: waitingFor } }],
      ...(until !== undefined ? { timers: { set: [{ kind: "step_wake", stepId: step.id, dueAt: until }] } } : {}),
      events: [{ type: "step.waiting", stepId: step.id, data: { attempt, kind: "event", ...waitingFor, ...(until !== undefined ? { until: isoTime(until) } : {}) } }],
    };
  },
  child: ({ step, attempt }, outcome) => {
    // While it waits, the step's output names the child; the start goes out through the outbox with this move.
    const start = outcome.start;
    const waitingFor: ChildWait = { execution_id: start.id, workflow_id: start.workflowId, workflow_version: start.workflowVersion };
    return {
      steps: [{ stepId: step.id, command: "wait", patch: { output: waitingFor } }],
      children: { start: [start] },
      events: [{ type: "step.waiting", stepId: step.id, data: { attempt, kind: "child", ...waitingFor } }],
    };
  },
  approval: ({ step, def, now, workflow, planHash, secrets }, outcome) => {
    const expiresAt = now + stepTimeoutMs(def, workflow.sla_class, workflow.approval)!;
    const shown = outcome.comment === undefined ? {} : { request_comment: masked(secrets, outcome.comment) };
    const gate = pendingGate({ kind: "approval_step", step_id: step.id, level: outcome.level, ...shown }, now, expiresAt);
    return {
      steps: [{ stepId: step.id, command: "wait" }],
      gates: [gate],
      timers: { set: [{ kind: "approval_expiry", stepId: step.id, dueAt: parseRfc3339(gate.expires_at)! }] },
      events: gateOpens(step.id, step.attempts, gate, planHash),
    };
  },
};

/** A successful attempt's outcome, through `outcomeDeciders`. */
export function decideOutcome(c: Settling, outcome: StepOutcome): Decision {
  return (outcomeDeciders[outcome.kind] as OutcomeDecider<StepOutcome>)(c, outcome);
}

/**
 * A failed attempt: retried after the policy's delay (the decision is stamped when the attempt
 * ended, so `retry_at` is never before the event's own time), or the step fails. `random` is
 * called only for a retry with jitter.
 */
export function decideFailure(c: Settling, err: StepError, random: () => number): Decision {
  const { step, def, attempt, now } = c;
  const error: ErrorInfo = masked(c.secrets, { ...err.toInfo(), step_id: step.id, attempt });
  const finished: Decision["finished"] = [{ stepId: step.id, attempt, status: "failed", endedAt: now, error }];
  const policy = resolveRetryPolicy(def.retry, c.workflow.sla_class);
  if (shouldRetry(policy, err, attempt)) {
    const retryAt = now + retryDelayMs(policy, attempt, random, err.retryAfterMs);
    return {
      at: now,
      finished,
      steps: [{ stepId: step.id, command: "schedule_retry", patch: { error, nextAttemptAt: retryAt } }],
      timers: { set: [{ kind: "step_retry", stepId: step.id, dueAt: retryAt }] },
      events: [{ type: "step.retrying", stepId: step.id, data: { attempt, error, retry_at: isoTime(retryAt) } }],
    };
  }
  return {
    finished,
    steps: [{ stepId: step.id, command: "fail", patch: { error, endedAt: now } }],
    events: [{ type: "step.failed", stepId: step.id, data: { attempt, error, tolerated: def.on_error === "continue" } }],
  };
}

/** pending → running: a new attempt row and a step.started event. */
export function decideStart(step: Readonly<StepRecord>, now: number): Decision {
  const attempt = step.attempts + 1;
  return {
    steps: [{ stepId: step.id, command: "start", patch: { attempts: attempt, startedAt: step.startedAt ?? now, nextAttemptAt: null, error: null } }],
    started: [{ stepId: step.id, attempt, startedAt: now }],
    events: [{ type: "step.started", stepId: step.id, data: { attempt } }],
  };
}

/** The step's `if` is false: it is skipped. */
export function decideSkip(step: Readonly<StepRecord>, now: number): Decision {
  return {
    steps: [{ stepId: step.id, command: "skip", patch: { endedAt: now } }],
    events: [{ type: "step.skipped", stepId: step.id, data: { reason: "condition_false" } }],
  };
}

/** A step held for its own approval (workflow level 3) before its first attempt: `gate` opens. */
export function decideHold(step: Readonly<StepRecord>, gate: ApprovalGate, planHash: string): Decision {
  return {
    steps: [{ stepId: step.id, command: "hold" }],
    gates: [gate],
    timers: { set: [{ kind: "approval_expiry", stepId: step.id, dueAt: parseRfc3339(gate.expires_at)! }] },
    events: gateOpens(step.id, step.attempts, gate, planHash),
  };
}

/** Re-attempts of a step that keeps being cut off, beyond its retry policy, before it fails. */
export const EXTRA_INTERRUPTED_ATTEMPTS = 2;

/**
 * A running step with no attempt in flight was cut off (the object restarted while it ran): its
 * attempt failed `INTERRUPTED`; it is re-attempted at once, unless its attempts (the policy's
 * plus `EXTRA_INTERRUPTED_ATTEMPTS`) are used up.
 */
export function decideInterrupted(step: Readonly<StepRecord>, def: Step, workflow: Pick<WorkflowDefinition, "sla_class">, now: number): Decision {
  const policy = resolveRetryPolicy(def.retry, workflow.sla_class);
  const attempt = step.attempts;
  const error: ErrorInfo = { code: "INTERRUPTED", message: "The attempt was interrupted (the object restarted while it ran).", step_id: step.id, attempt };
  const finished: Decision["finished"] = [{ stepId: step.id, attempt, status: "failed", endedAt: now, error }];
  if (attempt >= policy.max_attempts + EXTRA_INTERRUPTED_ATTEMPTS) {
    return {
      finished,
      steps: [{ stepId: step.id, command: "fail", patch: { error, endedAt: now } }],
      events: [{ type: "step.failed", stepId: step.id, data: { attempt, error } }],
    };
  }
  return {
    finished,
    steps: [{ stepId: step.id, command: "interrupt", patch: { nextAttemptAt: null } }],
    events: [{ type: "step.retrying", stepId: step.id, data: { attempt, error, retry_at: isoTime(now) } }],
  };
}

/**
 * A waiting step's wake timer: a sleep ends (the step completes with its output), the answers an
 * input step asked for are overdue (`on_timeout: default` completes it with the defaults, marked
 * `timed_out`; otherwise it fails `ANSWERS_TIMEOUT`), or an event step's signal is (`continue`
 * completes it with no data; otherwise it fails `EVENT_TIMEOUT`). A `waiting` execution wakes with it.
 */
export function decideWake(step: Readonly<StepRecord>, def: Step, executionStatus: ExecutionStatus, now: number, kinds: StepKinds = stepKinds): Decision {
  const attempt = step.attempts;
  // A step that waits for answers wakes at their deadline (its kind says what that decides); any other, at the end of its sleep.
  const kind = kindOf(def.type, kinds);
  const wake: Pick<Decision, "execution"> = executionStatus === "waiting" ? { execution: [{ command: "wake", patch: { waitingFor: null } }] } : {};
  const timedOut = kind?.answers ? kind.answers.onTimeout(def) : kind?.signals ? kind.signals.onTimeout(def) : undefined;
  if (timedOut === null) {
    const error: ErrorInfo = kind?.signals
      ? { code: "EVENT_TIMEOUT", message: "No signal arrived within timeout_seconds.", step_id: step.id, attempt }
      : { code: "ANSWERS_TIMEOUT", message: "No answers arrived within timeout_seconds.", step_id: step.id, attempt };
    return {
      finished: [{ stepId: step.id, attempt, status: "failed", endedAt: now, error }],
      steps: [{ stepId: step.id, command: "fail", patch: { error, endedAt: now, output: undefined } }],
      ...wake,
      events: [{ type: "step.failed", stepId: step.id, data: { attempt, error, tolerated: def.on_error === "continue" } }],
    };
  }
  const output = timedOut ?? step.output;
  const marker = timedOut ? { timed_out: true } : {};
  return {
    finished: [{ stepId: step.id, attempt, status: "completed", endedAt: now, output, error: null }],
    steps: [{ stepId: step.id, command: "complete", patch: { endedAt: now, output } }],
    ...wake,
    events: [{ type: "step.completed", stepId: step.id, data: { attempt, ...eventValue(output), ...marker } }],
  };
}

/** Steps whose `needs` were skipped are skipped too, in the order given. */
export function decideNeedsSkipped(stepIds: readonly string[], now: number): Decision {
  return {
    steps: stepIds.map((stepId) => ({ stepId, command: "skip", patch: { endedAt: now } })),
    events: stepIds.map((stepId) => ({ type: "step.skipped", stepId, data: { reason: "needs_skipped" } })),
  };
}
