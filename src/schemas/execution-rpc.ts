/**
 * The execution Durable Object's RPC contract, shared by both sides: the argument schemas (the
 * object parses every argument again — the Worker is not trusted to have validated them), the
 * result types, and the paths of the two streams (`fetch` carries only those). The Worker side is
 * `durable/execution/client.ts`; the object is `durable/execution/execution-object.ts`.
 */
import { z } from "@hono/zod-openapi";
import { AuditRow } from "./audit";
import { ConcurrencyKey, ExecutionConcurrency } from "./concurrency";
import { PriceBook } from "./costs";
import { MAX_BUDGET_USD, MAX_DEPTH, MAX_MAP_ITEMS } from "./limits";
import { MapItemStatus } from "./map-items";
import { WorkflowBudget, WorkflowDefinition } from "./definition";
import type { ApprovalGate, Execution, ExecutionEvent, ExecutionStatus, RetryPreview } from "./executions";

// ---------------------------------------------------------------------------------------------
// Arguments

/** Where a child's end is sent: its parent, the `workflow` step and the attempt that started it. */
export const ParentLink = z.object({
  executionId: z.string().regex(/^ex_[0-9a-f]{32}$/),
  stepId: z.string().min(1).max(64),
  attempt: z.int().min(1),
  /** What the child does when the parent ends first. */
  parentClose: z.enum(["cancel", "abandon"]),
  /** The map item whose sub-step started it (a `workflow` sub-step of a `map`). */
  item: z.int().min(0).optional(),
});
export type ParentLink = z.infer<typeof ParentLink>;

/** Child workflow versions pinned when an execution starts, by workflow id. */
export const ChildVersions = z.record(z.string().min(1).max(64), z.int().min(1));
export type ChildVersions = z.infer<typeof ChildVersions>;

export const CreateExecutionArgs = z.object({
  id: z.string().regex(/^ex_[0-9a-f]{32}$/),
  tenant: z.string().min(1),
  workflowId: z.string().min(1),
  workflowVersion: z.number().int().min(0),
  definitionHash: z.string().min(1),
  definition: WorkflowDefinition,
  input: z.unknown(),
  labels: z.record(z.string(), z.string()),
  requestHash: z.string().nullable(),
  planHash: z.string().regex(/^[0-9a-f]{64}$/),
  audit: AuditRow.nullable(),
  /** The prices of the models its llm steps name, as in force now (see schemas/costs.ts). */
  prices: PriceBook,
  /** Its own budget (the workflow's, lowered by the start body), or null. */
  budget: WorkflowBudget.nullable(),
  /** The shared budgets that apply to it (tenant-wide, and its workflow's). */
  budgetIds: z.array(z.string().min(1).max(64)).max(100),
  /** Its concurrency key (rendered), limit and priority; null when its workflow has none. */
  concurrency: ExecutionConcurrency.nullable().default(null),
  /** The origin the start request came to: where callback URLs point. */
  origin: z.string().max(512).nullable().default(null),
  /** The `workflow` step that started it as a child (null: a root execution). */
  parent: ParentLink.nullable().default(null),
  /** 1 for a root execution, its parent's plus one for a child. */
  depth: z.int().min(1).max(MAX_DEPTH).default(1),
  /** The version each child workflow named without a `version` runs: the latest when this execution started. */
  childVersions: ChildVersions.default({}),
});
export type CreateExecutionArgs = z.infer<typeof CreateExecutionArgs>;

export const Tenant = z.string().min(1);
/** SHA-256 (hex) of a start request's canonical JSON, compared on an Idempotency-Key replay. */
export const RequestHash = z.string().regex(/^[0-9a-f]{64}$/);
export const UserCommand = z.enum(["cancel", "pause", "resume", "retry"]);
export type UserCommand = z.infer<typeof UserCommand>;
export const EventWindow = z.object({ after: z.number().int().min(0), limit: z.number().int().min(1).max(1000) });
export type EventWindow = z.infer<typeof EventWindow>;
export const WaitMs = z.number().int().min(0).max(60_000);

export const EVENT_STREAM_PATH = "/events/stream";
export const EVENT_SOCKET_PATH = "/events/socket";
export const StreamArgs = z.object({ tenant: z.string().min(1), after: z.coerce.number().int().min(0) });

/** A decision on an approval gate (POST …/approval). */
export const DecisionArgs = z.object({
  decision: z.enum(["approve", "reject"]),
  plan_hash: z.string().max(128).optional(),
  step_id: z.string().min(1).max(64).optional(),
  comment: z.string().max(4_000).optional(),
});
export type DecisionArgs = z.infer<typeof DecisionArgs>;

export const BudgetId = z.string().min(1).max(64);
export const RaiseBudgetArgs = z.object({ maxUsd: z.number().min(0).max(MAX_BUDGET_USD) });

/** A concurrency key's object offers the execution its slot (or asks whether it still holds it). */
export const SlotKey = ConcurrencyKey;

/** A signal for the execution (POST …/signals/{event}); `data` is any JSON value. */
export const SignalArgs = z.object({ event: z.string().min(1).max(64), data: z.unknown() });
export type SignalArgs = z.infer<typeof SignalArgs>;
/** A callback for one attempt of one event step (its token verified by the Worker). */
export const CallbackArgs = z.object({ stepId: z.string().min(1).max(64), attempt: z.int().min(1), data: z.unknown() });
export type CallbackArgs = z.infer<typeof CallbackArgs>;

/** A child execution ended: what it tells its parent (sent from the child's outbox until acknowledged). */
export const ChildEndedArgs = z.object({
  tenant: z.string().min(1),
  stepId: z.string().min(1).max(64),
  attempt: z.int().min(1),
  childId: z.string().regex(/^ex_[0-9a-f]{32}$/),
  /** The map item that started it, if a map's sub-step did. */
  item: z.int().min(0).optional(),
  status: z.enum(["completed", "partial", "failed", "cancelled", "timed_out", "rejected"]),
  output: z.unknown(),
  error: z.object({ code: z.string(), message: z.string() }).catchall(z.unknown()).nullable(),
});
export type ChildEndedArgs = z.infer<typeof ChildEndedArgs>;

/** A step id as an RPC argument. */
export const StepIdArg = z.string().min(1).max(64);

/** A page of a map step's items (GET …/steps/{step_id}/items): after index `after` (-1: from the first). */
export const ItemWindow = z.object({ stepId: z.string().min(1).max(64), status: MapItemStatus.optional(), after: z.int().min(-1), limit: z.int().min(1).max(MAX_MAP_ITEMS) });

export const AnswersArgs = z.object({ stepId: z.string().min(1).max(64), answers: z.record(z.string(), z.unknown()) });
export type AnswersArgs = z.infer<typeof AnswersArgs>;

// ---------------------------------------------------------------------------------------------
// Results (plain data: they cross the RPC boundary by structured clone)

export type RaiseBudgetResult =
  | { ok: true; execution: Execution }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "invalid_state"; status: ExecutionStatus }
  | { ok: false; reason: "no_budget" }
  | { ok: false; reason: "not_higher"; current: number };

export type CreateResult =
  | { kind: "created"; execution: Execution }
  | { kind: "existing"; execution: Execution; sameRequest: boolean };
export type ExistingExecution = Extract<CreateResult, { kind: "existing" }>;

/** One thing wrong with the answers to an `input` step. */
export interface AnswerProblem {
  /** JSON Pointer into the `answers` object. */
  path: string;
  message: string;
}

export type AnswerResult =
  | { ok: true; execution: Execution }
  | { ok: false; reason: "not_found" | "step_not_found" }
  | { ok: false; reason: "not_waiting"; status: ExecutionStatus; stepStatus: string }
  | { ok: false; reason: "invalid_answers"; problems: AnswerProblem[] };

export type SignalResult =
  | { ok: true; execution: Execution; event: string; stepId: string | null; receivedAt: number }
  | { ok: false; reason: "not_found" | "unknown_event" | "full" | "used" }
  | { ok: false; reason: "invalid_state"; status: ExecutionStatus }
  | { ok: false; reason: "invalid_data"; problems: AnswerProblem[] };

export type DecisionResult =
  | { ok: true; execution: Execution }
  | { ok: false; reason: "not_found" | "step_not_found" | "not_waiting" | "plan_hash_mismatch" }
  | { ok: false; reason: "already_decided"; gate: ApprovalGate }
  | { ok: false; reason: "step_id_required"; waiting: string[] }
  | { ok: false; reason: "invalid_state"; status: ExecutionStatus; allowed: string[] };

export type RetryPreviewResult =
  | { ok: true; preview: RetryPreview }
  | { ok: false; reason: "not_found" | "step_not_found" }
  | { ok: false; reason: "invalid_state"; status: ExecutionStatus; allowed: string[] };

export type RerunResult =
  | CommandResult
  | { ok: false; reason: "step_not_found" }
  /** `problems`: JSON Pointers inside the new input. */
  | { ok: false; reason: "invalid_input"; problems: AnswerProblem[] };

/** A retry from a step (POST …/retry `{ from_step, input? }`): `newInput` null keeps the input. */
export const RerunArgs = z.object({ fromStep: z.string().min(1).max(64), newInput: z.object({ value: z.unknown() }).nullable() });
export type RerunArgs = z.infer<typeof RerunArgs>;

export type CommandResult =
  | { ok: true; execution: Execution }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "invalid_state"; status: ExecutionStatus; allowed: string[] };

/** A page of the event log; `terminal`: the execution has ended, no event follows the last. */
export interface EventPage {
  items: ExecutionEvent[];
  terminal: boolean;
}
