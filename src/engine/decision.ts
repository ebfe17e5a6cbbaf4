/**
 * A decision: everything one transition changes, as a value. Pure code (`engine/outcomes.ts`)
 * decides it from plain records; the Durable Object applies it in one transaction through one
 * function (`ExecutionRuntime.apply`, durable/execution/runtime.ts), in this order:
 *
 *   execution created → (decided gates, in memory) → timers cleared → finished attempts → kept attempts → step moves → started attempts → opened gates →
 *   execution moves → usage → timers set → outbox rows → events
 *
 * That order is the order of the SQL writes the object makes, so a decision writes exactly what
 * the hand-written transaction it replaced wrote. Fields a transition does not touch are left out
 * (no empty arrays on the hot path).
 */
import type { ErrorInfo } from "./errors";
import type { EventSpec, ExecutionBudget, ExecutionRecord, MapItemRecord, Signal, StepRecord } from "./model";
import type { ExecutionCommand, StepCommand } from "./state-machine";
import type { AuditRow } from "../schemas/audit";
import type { CreateExecutionArgs } from "../schemas/execution-rpc";
import type { ApprovalGate } from "../schemas/executions";
import type { TimerKind } from "../schemas/vocabulary";
import type { UsageEntry } from "./usage";


/** A step's move through the step table (`transitionStep`), with the fields it sets. */
export interface StepMove {
  stepId: string;
  command: StepCommand;
  patch?: Partial<StepRecord>;
}

/** An attempt that ended: its row is closed with its output or its error. */
export interface AttemptEnd {
  stepId: string;
  attempt: number;
  status: "completed" | "failed" | "cancelled";
  endedAt: number;
  output?: unknown;
  error: ErrorInfo | null;
}

/** A completed attempt written as its own row (see `Decision.kept`). */
export interface KeptAttempt {
  stepId: string;
  attempt: number;
  startedAt: number;
  endedAt: number;
  output: unknown;
}

/** An attempt that began: a new `running` row. */
export interface AttemptStart {
  stepId: string;
  attempt: number;
  startedAt: number;
}

export interface TimerRef {
  kind: TimerKind;
  /** null: the execution's timer of that kind. */
  stepId: string | null;
}

export interface TimerSet extends TimerRef {
  dueAt: number;
}

/**
 * The execution's move through the execution table (`transitionExecution`), with the fields it
 * sets. Applying it also bumps `state_version` and enqueues the execution's index row (see
 * `ExecutionRuntime.moveExecution`); a move the table refuses changes nothing.
 */
export interface ExecutionMove {
  command: ExecutionCommand;
  patch?: Partial<ExecutionRecord>;
}

/** An audit row for the outbox (the D1 index), stamped `at`. */
export interface AuditOut {
  audit: AuditRow;
  at: number;
}

/** A pending gate decided in place: `patch` is assigned to the execution's gate at `index`. */
export interface GateDecided {
  index: number;
  patch: Partial<ApprovalGate>;
}

export interface Decision {
  /**
   * The execution this decision creates (a start request): inserted first, with its index row.
   * The only field that makes a row of the execution table rather than moving it.
   */
  created?: ExecutionRecord;
  /** When the transition happened (the events' time), if not when it is applied. */
  at?: number;
  /**
   * Gates decided (approved, rejected, expired), changed in place in memory first; written with
   * the execution's row by the execution move that always follows (no statement of their own).
   */
  decidedGates?: GateDecided[];
  finished?: AttemptEnd[];
  /**
   * Completed attempts that so far are only their step's row (a pure step's first one), written as
   * attempt rows before the step moves on (a rerun), so its history stays. Ignored where a row exists.
   */
  kept?: KeptAttempt[];
  steps?: StepMove[];
  started?: AttemptStart[];
  /** The execution's own budget changes (raised by an approver): written with its row. */
  budget?: ExecutionBudget;
  /** Approval gates that open: appended to the execution's gates (their `approval_expiry` timers are in `timers.set`). */
  gates?: ApprovalGate[];
  execution?: ExecutionMove[];
  timers?: { clear?: TimerRef[]; set?: TimerSet[] };
  /**
   * Usage ledger records of the attempt that ends here (its calls, its declared cost): written with
   * it, added to the execution's cost, and sent to D1 through the outbox.
   */
  usage?: UsageEntry[];
  /** Audit rows of the request carried out (index rows go with `execution` moves). */
  outbox?: AuditOut[];
  /**
   * Child executions to start (`workflow` steps) and to cancel (a map's items cut short): sent
   * through the outbox, each retried until the child acknowledges it.
   */
  children?: { start?: CreateExecutionArgs[]; cancel?: string[] };
  /** A map step's evaluated items, kept when its attempt begins (its earlier run's item rows go). */
  mapRun?: { stepId: string; attempt: number; items: unknown[] };
  /** Map items as they stand after this decision (each its one row). */
  items?: MapItemRecord[];
  /** Signals kept for an event step that does not wait yet, and kept ones taken (by their seq). */
  signals?: { keep?: Signal[]; take?: number[] };
  events: EventSpec[];
}

/** The request's audit row, if it has one, stamped `at`: the `outbox` of its decision. */
export function audited(audit: AuditRow | null, at: number): Pick<Decision, "outbox"> {
  return audit ? { outbox: [{ audit, at } satisfies AuditOut] } : {};
}
