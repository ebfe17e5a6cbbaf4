/**
 * The execution's records as the engine reads and decides on them (the Durable Object stores them:
 * `durable/storage/state-store.ts`, `durable/storage/transition-log.ts`). Plain data, no behaviour.
 */
import type { ErrorInfo } from "./errors";
import type { WorkflowBudget, WorkflowDefinition } from "../schemas/definition";
import type { ExecutionCost, PriceBook } from "../schemas/costs";
import type { ExecutionConcurrency } from "../schemas/concurrency";
import type { ChildVersions, ParentLink } from "../schemas/execution-rpc";
import type { ApprovalGate, EventType, ExecutionStatus, StepStatus, WaitingFor } from "../schemas/executions";

/** The execution as it stands. */
export interface ExecutionRecord {
  id: string;
  tenant: string;
  workflowId: string;
  workflowVersion: number;
  definitionHash: string;
  definition: WorkflowDefinition;
  input: unknown;
  labels: Record<string, string>;
  requestHash: string | null;
  /** See planHashOf (src/engine/approvals.ts). */
  planHash: string;
  /** Approval gates, oldest first, with their decisions. */
  approvals: ApprovalGate[];
  status: ExecutionStatus;
  pausedFrom: ExecutionStatus | null;
  waitingFor: WaitingFor | null;
  /** undefined: no output (yet). */
  output: unknown;
  error: ErrorInfo | null;
  attempt: number;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  deadlineAt: number | null;
  stateVersion: number;
  /** The prices its llm calls are costed at, pinned when it started. */
  prices: PriceBook;
  /** The sum of its usage ledger (derived from the ledger, not stored apart). */
  cost: ExecutionCost;
  /** Its own budget (the workflow's, lowered by the start; raised by an approver), or null. */
  budget: ExecutionBudget | null;
  /** The shared budgets (tenant, workflow) that applied when it started. */
  budgetIds: string[];
  /** Its concurrency key (rendered at start), limit and priority; null when its workflow has none. */
  concurrency: ExecutionConcurrency | null;
  /** The origin it was started at (`https://host`): where its callback URLs point; null: relative URLs. */
  origin: string | null;
  /** The `workflow` step that started it as a child; null for a root execution. */
  parent: ParentLink | null;
  /** 1 for a root execution; its parent's plus one for a child (at most MAX_DEPTH). */
  depth: number;
  /** Child workflow versions pinned when it started (for `workflow` steps without `version`). */
  childVersions: ChildVersions;
}

/** The execution's own budget: the workflow's shape (`WorkflowBudget`), its amount lowered or raised. */
export type ExecutionBudget = WorkflowBudget;

/** A step of the execution as it stands (a pending step has no stored row until it starts). */
export interface StepRecord {
  id: string;
  idx: number;
  status: StepStatus;
  attempts: number;
  output: unknown;
  error: ErrorInfo | null;
  startedAt: number | null;
  endedAt: number | null;
  nextAttemptAt: number | null;
}

export type AttemptStatus = "running" | "completed" | "failed" | "cancelled";

/** An event as a transition emits it; the log gives it its seq (and its time, unless set here). */
export interface EventSpec {
  type: EventType;
  stepId?: string | undefined;
  data?: Record<string, unknown>;
  /** When it happened, if not when its transaction commits. */
  time?: number;
}

export type SignalVia = "signal" | "callback";

/** A signal for an event step, as received (SPEC §9). */
export interface Signal {
  event: string;
  data: unknown;
  receivedAt: number;
  via: SignalVia;
}

/** What a waiting `workflow` step's output says while its child runs. */
export interface ChildWait {
  execution_id: string;
  workflow_id: string;
  workflow_version: number;
}

export type MapItemStatus = "running" | "waiting" | "completed" | "failed" | "cancelled";

/** One finished attempt of an item (kept in its row). */
export interface ItemAttempt {
  attempt: number;
  status: "completed" | "failed" | "cancelled";
  started_at: number;
  ended_at: number;
  error?: ErrorInfo;
}

/** An item that has started: its one row. An item with no row has not started (`pending`). */
export interface MapItemRecord {
  stepId: string;
  index: number;
  status: MapItemStatus;
  /** Attempts made, the one running included. */
  attempts: number;
  /** The attempts that ended, oldest first. */
  log: ItemAttempt[];
  output: unknown;
  error: ErrorInfo | null;
  startedAt: number;
  endedAt: number | null;
  /** A failed attempt to be retried: not before then (the item is `running` meanwhile, no attempt in flight). */
  nextAttemptAt: number | null;
  /** The child a `workflow` sub-step waits for. */
  childId: string | null;
}
