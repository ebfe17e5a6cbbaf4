/**
 * The execution and step state machines (SPEC §3): one transition table each.
 *
 * Every status change of an execution or a step is a lookup in one of the two tables below;
 * nothing else in the code base may decide that a status may follow another. The tables are
 * checked by the compiler: every status has a row, every command is used by some row, every
 * non-terminal execution status can be cancelled and timed out, and terminal statuses accept
 * nothing but `retry`. A lookup is pure: it neither reads nor writes storage.
 *
 * An illegal request changes nothing; the caller answers it 409 `INVALID_STATE` with the current
 * status and the commands the current status accepts (`TransitionRefused`).
 *
 * The tables work at the level of statuses. Finer guards that need more than the status are the
 * caller's, checked before the lookup: whether the execution is waiting for *this* approval or
 * *this* question (`waiting_for`, the step's own status), the plan hash of a level-2 approval, and
 * whether the execution holds a concurrency slot.
 *
 * ## Execution: decisions on edge cases
 *
 * - `waiting` means the execution is blocked on the outside world: no step is `running` and at
 *   least one step is `waiting` (a sleep, an approval, an answer, a child execution). A human
 *   step waiting in one branch while another branch runs leaves the execution `running`; hence
 *   `approve` and `answer` are accepted in `running` too (running → running, no status change:
 *   the step-level table is what refuses an answer nobody asked for), and `reject` and
 *   `expire_approval` in `running` end it `rejected`.
 * - After any move to `running` (`approve`, `answer`, `wake`, `resume`, `admit`) the caller
 *   re-plans; if nothing can run and a step still waits, it sends `wait` right away.
 * - `pause` is accepted in `running` and `waiting`, not in `queued`: a queued execution holds no
 *   concurrency slot yet, and `resume` goes to `running`, so pausing a queued execution would let
 *   it bypass its concurrency limit on resume. An operator who wants to stop a queued execution
 *   cancels it. A paused execution keeps its concurrency slot (it resumes without queueing).
 * - `paused` freezes decisions, not facts: an attempt in flight at pause time finishes and its
 *   outcome is recorded on the step, a sleep that ends completes its step, answers and approvals
 *   are recorded (`approve`/`answer`: paused → paused) — but no step starts and the engine's
 *   outcome events (`wake`, `wait`, `complete`, `complete_partial`, `fail`) are refused. On
 *   `resume` the caller re-plans: the execution then completes, fails or waits as the recorded
 *   step statuses say.
 * - Deadlines keep running while paused: `time_out` and `expire_approval` apply to `paused`, and
 *   `reject` ends a paused execution (a human's refusal is final whatever the operator did).
 * - `cancel` and `time_out` apply to every non-terminal status, `pending_approval` and `queued`
 *   included (the execution timeout counts waits, the wait for approval and for a slot included).
 * - `fail` applies to `running` and `waiting` (e.g. an input step whose wait timed out with
 *   `on_timeout: fail`, or a failed child execution). `complete` / `complete_partial` apply to
 *   `running` only: a waiting execution whose last sleep ends is first woken (`wake`).
 * - Terminal statuses accept nothing but `retry`, from `failed` and `timed_out` (a redrive of the
 *   failed and cancelled steps; completed steps keep their outputs). `partial` is a success and is
 *   not retried; `cancelled` and `rejected` were decisions of a person and are not retried either.
 *   `retry` goes to `queued`, not straight to `running`: the execution released its concurrency
 *   slot when it ended, and must be admitted (`admit`) again like a new one. The caller re-arms
 *   the execution timeout from the retry.
 * - Repeating a request is illegal, not idempotent (`pause` on `paused`, `cancel` on
 *   `cancelled`): SPEC §4 answers cancel of a terminal execution with 409.
 *
 * ## Step: decisions on edge cases
 *
 * - `hold` (pending → waiting) and `release` (waiting → pending) gate a step before its first
 *   attempt: a level-3 approval. A held step is `waiting`, so it does not count against
 *   parallelism and is not proposed again by the scheduler. Released, it is `pending` again and
 *   the scheduler starts it like any ready step (its attempt begins with `start`, so the
 *   attempt count and `step.started` stay those of a step that was never held).
 * - `fail` is also accepted in `pending`: a step can fail before any attempt (its `if` condition
 *   cannot be evaluated), without a fake attempt.
 * - `schedule_retry` is accepted wherever an attempt can fail (`running`, and `waiting` for a
 *   step whose attempt ends later, e.g. a child execution that failed).
 * - `interrupt` applies to `running` only: a waiting step has no attempt in flight (its timer is
 *   durable), so an eviction does not touch it.
 * - `redrive` (execution `retry`) takes `failed` and `cancelled` steps back to `pending`;
 *   `completed` and `skipped` steps stay as they are.
 *
 * The status lists themselves are vocabulary (`schemas/vocabulary.ts`); this module owns what may
 * follow what.
 */
import type { ExecutionStatus, StepStatus } from "../schemas/executions";

// ---------------------------------------------------------------------------------------------
// Execution

export const TERMINAL_EXECUTION_STATUSES = [
  "completed",
  "partial",
  "failed",
  "cancelled",
  "timed_out",
  "rejected",
] as const satisfies readonly ExecutionStatus[];
export type TerminalExecutionStatus = (typeof TERMINAL_EXECUTION_STATUSES)[number];
export type ActiveExecutionStatus = Exclude<ExecutionStatus, TerminalExecutionStatus>;

const TERMINAL_EXECUTION = new Set<ExecutionStatus>(TERMINAL_EXECUTION_STATUSES);

export function isTerminalExecution(status: ExecutionStatus): status is TerminalExecutionStatus {
  return TERMINAL_EXECUTION.has(status);
}

const TERMINAL_EVENT_TYPES = new Set<string>(TERMINAL_EXECUTION_STATUSES.map((st) => `execution.${st}`));

/** True for the event that ends an execution (`execution.completed`, `execution.failed`, …): streams end after it. */
export function isTerminalEvent(type: string): boolean {
  return TERMINAL_EVENT_TYPES.has(type);
}

/** Commands people send through the API (each one can be refused with 409). */
export const EXECUTION_USER_COMMANDS = ["approve", "reject", "cancel", "pause", "resume", "retry", "rerun", "answer"] as const;

/** Events the engine raises itself (alarms, step outcomes, the scheduler's verdicts). */
export const EXECUTION_ENGINE_COMMANDS = [
  "admit",
  "wait",
  "wake",
  "complete",
  "complete_partial",
  "fail",
  "time_out",
  "expire_approval",
] as const;

export const EXECUTION_COMMANDS = [...EXECUTION_USER_COMMANDS, ...EXECUTION_ENGINE_COMMANDS] as const;
export type ExecutionUserCommand = (typeof EXECUTION_USER_COMMANDS)[number];
export type ExecutionEngineCommand = (typeof EXECUTION_ENGINE_COMMANDS)[number];
export type ExecutionCommand = (typeof EXECUTION_COMMANDS)[number];

/** The shape the compiler holds the table to, row by row. */
type ExecutionTableShape = {
  [S in ExecutionStatus]: S extends TerminalExecutionStatus
    ? Partial<Record<"retry" | "rerun", ExecutionStatus>>
    : Partial<Record<ExecutionCommand, ExecutionStatus>> & { cancel: "cancelled"; time_out: "timed_out" };
};

/** THE execution transition table: status → command → next status. Absent = illegal. */
export const EXECUTION_TRANSITIONS = {
  pending_approval: {
    approve: "queued",
    reject: "rejected",
    cancel: "cancelled",
    time_out: "timed_out",
    expire_approval: "rejected",
  },
  queued: {
    cancel: "cancelled",
    admit: "running",
    time_out: "timed_out",
  },
  running: {
    approve: "running", // a step approval in one branch while another runs
    reject: "rejected",
    cancel: "cancelled",
    pause: "paused",
    answer: "running", // a question in one branch while another runs
    wait: "waiting",
    complete: "completed",
    complete_partial: "partial",
    fail: "failed",
    time_out: "timed_out",
    expire_approval: "rejected",
  },
  waiting: {
    approve: "running",
    reject: "rejected",
    cancel: "cancelled",
    pause: "paused",
    answer: "running",
    wake: "running",
    fail: "failed",
    time_out: "timed_out",
    expire_approval: "rejected",
  },
  paused: {
    approve: "paused", // recorded; the step proceeds on resume
    reject: "rejected",
    cancel: "cancelled",
    resume: "running",
    answer: "paused", // recorded; the step proceeds on resume
    time_out: "timed_out",
    expire_approval: "rejected",
  },
  // `retry` reruns what failed; `rerun` (a retry from a step) reruns a step and its downstream, whatever the end.
  completed: { rerun: "queued" },
  partial: { rerun: "queued" },
  failed: { retry: "queued", rerun: "queued" },
  cancelled: { rerun: "queued" },
  timed_out: { retry: "queued", rerun: "queued" },
  rejected: { rerun: "queued" },
} as const satisfies ExecutionTableShape;

// Every command is accepted by at least one status (a command no row uses is a dead command).
type UsedExecutionCommand = { [S in ExecutionStatus]: keyof (typeof EXECUTION_TRANSITIONS)[S] }[ExecutionStatus];
const _everyExecutionCommandUsed: Exclude<ExecutionCommand, UsedExecutionCommand> extends never ? true : never = true;
void _everyExecutionCommandUsed;

// ---------------------------------------------------------------------------------------------
// Step

/** Statuses in which a step has ended (for this run of the execution: `failed`/`cancelled` may be redriven). */
export const ENDED_STEP_STATUSES = ["completed", "failed", "skipped", "cancelled"] as const satisfies readonly StepStatus[];
export type EndedStepStatus = (typeof ENDED_STEP_STATUSES)[number];

const ENDED_STEP = new Set<StepStatus>(ENDED_STEP_STATUSES);

export function isEndedStep(status: StepStatus): status is EndedStepStatus {
  return ENDED_STEP.has(status);
}

export const STEP_COMMANDS = [
  "start",
  "complete",
  "fail",
  "schedule_retry",
  "wait",
  "skip",
  "cancel",
  "interrupt",
  "redrive",
  "hold",
  "release",
] as const;
export type StepCommand = (typeof STEP_COMMANDS)[number];

type StepTableShape = {
  [S in StepStatus]: S extends "completed" | "skipped" | "failed" | "cancelled"
    ? Partial<Record<"redrive", StepStatus>>
    : Partial<Record<StepCommand, StepStatus>> & { cancel: "cancelled" };
};

/** THE step transition table: status → command → next status. Absent = illegal. */
export const STEP_TRANSITIONS = {
  pending: {
    start: "running",
    fail: "failed", // before any attempt: the `if` condition could not be evaluated
    skip: "skipped",
    cancel: "cancelled",
    hold: "waiting", // gated before its first attempt (level-3 approval)
  },
  running: {
    complete: "completed",
    fail: "failed",
    schedule_retry: "pending",
    wait: "waiting",
    cancel: "cancelled",
    interrupt: "pending",
  },
  waiting: {
    complete: "completed",
    fail: "failed",
    schedule_retry: "pending",
    cancel: "cancelled",
    release: "pending",
  },
  // A retry from a step runs completed and skipped steps again too.
  completed: { redrive: "pending" },
  failed: { redrive: "pending" },
  skipped: { redrive: "pending" },
  cancelled: { redrive: "pending" },
} as const satisfies StepTableShape;

type UsedStepCommand = { [S in StepStatus]: keyof (typeof STEP_TRANSITIONS)[S] }[StepStatus];
const _everyStepCommandUsed: Exclude<StepCommand, UsedStepCommand> extends never ? true : never = true;
void _everyStepCommandUsed;

// ---------------------------------------------------------------------------------------------
// Lookups

export interface TransitionApplied<S> {
  ok: true;
  to: S;
  /** False for the accepted self-transitions (`answer` while `running`): nothing to persist but the fact. */
  changed: boolean;
}

/** An illegal request: nothing changed; `allowed` lists the commands `from` accepts, in table order. */
export interface TransitionRefused<S, C> {
  ok: false;
  from: S;
  command: C;
  allowed: C[];
}

export type TransitionResult<S, C> = TransitionApplied<S> | TransitionRefused<S, C>;
export type ExecutionTransition = TransitionResult<ExecutionStatus, ExecutionCommand>;
export type StepTransition = TransitionResult<StepStatus, StepCommand>;

type Table<S extends string, C extends string> = Readonly<Record<S, Readonly<Partial<Record<C, S>>>>>;

function lookup<S extends string, C extends string>(
  table: Table<S, C>,
  commands: readonly C[],
  from: S,
  command: C,
): TransitionResult<S, C> {
  const row = table[from];
  const to = Object.hasOwn(row, command) ? row[command] : undefined;
  if (to !== undefined) return { ok: true, to, changed: to !== from };
  return { ok: false, from, command, allowed: commands.filter((c) => Object.hasOwn(row, c)) };
}

/** The execution status after `command` in status `from`, or why it is refused. */
export function transitionExecution(from: ExecutionStatus, command: ExecutionCommand): ExecutionTransition {
  return lookup<ExecutionStatus, ExecutionCommand>(EXECUTION_TRANSITIONS, EXECUTION_COMMANDS, from, command);
}

/** The step status after `command` in status `from`, or why it is refused. */
export function transitionStep(from: StepStatus, command: StepCommand): StepTransition {
  return lookup<StepStatus, StepCommand>(STEP_TRANSITIONS, STEP_COMMANDS, from, command);
}

/** Commands `status` accepts, in table order; `kind: "user"` keeps those a person may send (for 409 details). */
export function allowedExecutionCommands(status: ExecutionStatus, kind: "all" | "user" = "all"): ExecutionCommand[] {
  const row: Readonly<Partial<Record<ExecutionCommand, ExecutionStatus>>> = EXECUTION_TRANSITIONS[status];
  const commands: readonly ExecutionCommand[] = kind === "user" ? EXECUTION_USER_COMMANDS : EXECUTION_COMMANDS;
  return commands.filter((c) => Object.hasOwn(row, c));
}

/** Commands a step in `status` accepts, in table order. */
export function allowedStepCommands(status: StepStatus): StepCommand[] {
  const row: Readonly<Partial<Record<StepCommand, StepStatus>>> = STEP_TRANSITIONS[status];
  return STEP_COMMANDS.filter((c) => Object.hasOwn(row, c));
}
