/**
 * Executions, steps and events on the wire. The Event union is one shape everywhere: the transition
 * log (durable/storage/transition-log.ts), JSON page, WebSocket and SSE frames.
 */
import { z } from "@hono/zod-openapi";
import { WorkflowBudget, WorkflowDefinition } from "./definition";
import { DEFAULT_PRIORITY, MAX_BUDGET_USD } from "./limits";
import { Priority } from "./concurrency";
import { ExecutionCost } from "./costs";
import { JsonValue } from "./json";
import { PageQuery, Timestamp, page } from "./pages";
import { EXECUTION_STATUSES, STEP_STATUSES } from "./vocabulary";

export const EXECUTION_ID_PATTERN = /^ex_[0-9a-f]{32}$/;

export const ExecutionStatus = z.enum(EXECUTION_STATUSES);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

export const StepStatus = z.enum(STEP_STATUSES);
export type StepStatus = z.infer<typeof StepStatus>;

export const ErrorObject = z
  .object({
    code: z.string().openapi({ example: "HTTP_STATUS" }),
    message: z.string(),
    step_id: z.string().optional(),
    attempt: z.number().int().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("ExecutionError");
export type ErrorObject = z.infer<typeof ErrorObject>;

export const Labels = z
  .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "label keys are 1-64 of A-Z a-z 0-9 _ . -"), z.string().max(256))
  .refine((l) => Object.keys(l).length <= 20, "at most 20 labels")
  .openapi({ example: { team: "billing", env: "prod" } });
export type Labels = z.infer<typeof Labels>;

export const WaitingFor = z
  .object({
    kind: z.enum(["sleep", "approval", "answers", "event", "budget", "slot", "child"]).openapi({
      description:
        "`slot`: a queued execution waits for its concurrency key (`key`), at `position` in its queue (1 is next in line). " +
        "`child`: a `workflow` step waits for its child execution (`execution_id`).",
    }),
    step_id: z.string().optional(),
    until: Timestamp.optional(),
  })
  .catchall(z.unknown())
  .openapi("WaitingFor");
export type WaitingFor = z.infer<typeof WaitingFor>;

export const ApprovalGate = z
  .object({
    kind: z.enum(["execution", "step", "approval_step"]).openapi({
      description:
        "`execution`: the execution may start (workflow approval level 1 or 2). `step`: the step may run (level 3). " +
        "`approval_step`: the decision of an `approval` step.",
    }),
    step_id: z.string().optional(),
    level: z.union([z.literal(1), z.literal(2), z.literal(3)]),
    status: z.enum(["pending", "approved", "rejected", "expired", "cancelled"]).openapi({
      description:
        "`expired`: nobody decided in time and `on_expiry: reject` applied (an `on_expiry: approve` gate shows `approved` with `by: null`). " +
        "`cancelled`: the execution ended (cancelled, timed out) before anyone decided.",
    }),
    requested_at: Timestamp,
    expires_at: Timestamp,
    decided_at: Timestamp.optional(),
    by: z.string().nullable().optional().openapi({ description: "Key id of the approver; null when no person decided." }),
    comment: z.string().optional().openapi({ description: "The approver's comment." }),
    request_comment: z.string().optional().openapi({ description: "What the approver is shown: an approval step's `comment`, rendered." }),
  })
  .openapi("ApprovalGate");
/** One gate as recorded on the execution (and shown in its `approvals`); the engine decides on these. */
export type ApprovalGate = z.infer<typeof ApprovalGate>;

/** The execution and `workflow` step that started a child execution (SPEC §9). */
export const ParentRef = z
  .object({
    execution_id: z.string().openapi({ example: "ex_8f14e45fceea167a5a36dedd4bea2543" }),
    step_id: z.string().openapi({ example: "send_invoice" }),
  })
  .openapi("ParentRef");
export type ParentRef = z.infer<typeof ParentRef>;

export const Execution = z
  .object({
    id: z.string().openapi({ example: "ex_8f14e45fceea167a5a36dedd4bea2543" }),
    workflow_id: z.string(),
    workflow_version: z.number().int().openapi({ description: "0 for an inline definition." }),
    definition_hash: z.string(),
    status: ExecutionStatus,
    waiting_for: WaitingFor.optional(),
    plan_hash: z.string().optional().openapi({
      description: "SHA-256 of the pinned definition plus the input: what a level-2 approver reviews and sends back.",
    }),
    approvals: z.array(ApprovalGate).optional().openapi({ description: "Approval gates of the execution, oldest first, with their decisions." }),
    input: JsonValue,
    output: JsonValue.optional(),
    error: ErrorObject.optional(),
    labels: z.record(z.string(), z.string()),
    attempt: z.number().int().openapi({ description: "1, plus one for each retry (redrive) of the execution." }),
    created_at: Timestamp,
    started_at: Timestamp.optional(),
    ended_at: Timestamp.optional(),
    budget: WorkflowBudget.optional().openapi({ description: "The execution's own budget: its workflow's, lowered by its start, raised by an approver." }),
    parent: ParentRef.optional().openapi({ description: "The execution and `workflow` step that started this one as a child; absent for a root execution." }),
    cost: ExecutionCost.openapi({ description: "The sum of the execution's usage ledger (see `GET /v1/executions/{id}/costs`)." }),
  })
  .openapi("Execution");
export type Execution = z.infer<typeof Execution>;

export const StepAttempt = z
  .object({
    attempt: z.number().int(),
    status: z.enum(["running", "completed", "failed", "cancelled"]),
    started_at: Timestamp,
    ended_at: Timestamp.optional(),
    output: JsonValue.optional(),
    error: ErrorObject.optional(),
  })
  .openapi("StepAttempt");

export const StepTrace = z
  .object({
    id: z.string(),
    type: z.string(),
    name: z.string().optional(),
    status: StepStatus,
    attempts: z.array(StepAttempt),
    started_at: Timestamp.optional(),
    ended_at: Timestamp.optional(),
    next_attempt_at: Timestamp.optional().openapi({ description: "When a retry is scheduled." }),
    output: JsonValue.optional(),
    error: ErrorObject.optional(),
  })
  // Not "Step": that name is the definition's step (src/schemas/definition.ts); this is the trace.
  .openapi("StepTrace", { description: "A step of an execution as it ran: status, attempts with timings, output, error." });
export type StepTrace = z.infer<typeof StepTrace>;

export const EVENT_TYPES = [
  "execution.created",
  "execution.queued",
  "execution.started",
  "execution.waiting",
  "execution.paused",
  "execution.resumed",
  "execution.completed",
  "execution.partial",
  "execution.failed",
  "execution.cancelled",
  "execution.timed_out",
  "execution.rejected",
  "execution.rerun",
  "step.started",
  "step.completed",
  "step.failed",
  "step.retrying",
  "step.skipped",
  "step.waiting",
  "step.cancelled",
  "approval.requested",
  "approval.granted",
  "approval.rejected",
  "approval.expired",
  "answers.requested",
  "answers.received",
  "signal.received",
  "map.item.completed",
  "map.item.failed",
  "budget.exceeded",
  "budget.warning",
  "budget.released",
  "budget.raised",
] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

export const ExecutionEvent = z
  .object({
    seq: z.number().int().min(1).openapi({ description: "Gapless and increasing within the execution." }),
    time: Timestamp,
    type: EventType,
    step_id: z.string().optional(),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi("Event");
export type ExecutionEvent = z.infer<typeof ExecutionEvent>;

// ---- requests

export const StartBudget = z
  .strictObject({
    max_usd: z.number().min(0).max(MAX_BUDGET_USD).meta({
      description: "This execution's budget in USD: at most the workflow's `budget.max_usd` (a higher one is 400).",
      examples: [0.5],
    }),
  })
  .openapi("StartBudget")
  .meta({ description: "Lowers the workflow's budget for this execution (or sets one, pausing when exceeded, if the workflow has none)." });

export const RaiseBudgetBody = z
  .strictObject({
    max_usd: z.number().min(0).max(MAX_BUDGET_USD).meta({ description: "The execution's new budget in USD: more than its current one.", examples: [2] }),
  })
  .openapi("RaiseBudget");

const StartPriority = Priority.meta({
  description: "Place in its concurrency key's queue (SPEC §8): higher first, then first in, first out.",
  default: DEFAULT_PRIORITY,
  examples: [8],
});

export const StartExecutionBody = z
  .union([
    z.strictObject({
      workflow_id: z.string().min(1).max(64),
      version: z.number().int().min(1).optional(),
      input: JsonValue.optional(),
      labels: Labels.optional(),
      budget: StartBudget.optional(),
      priority: StartPriority.optional(),
    }),
    z.strictObject({
      definition: WorkflowDefinition,
      input: JsonValue.optional(),
      labels: Labels.optional(),
      budget: StartBudget.optional(),
      priority: StartPriority.optional(),
    }),
  ])
  .openapi("StartExecution", {
    description: "Start a registered workflow (`workflow_id`, optional `version`) or an inline `definition` (validated, not stored).",
  });
export type StartExecutionBody = z.infer<typeof StartExecutionBody>;

export const StartExecutionQuery = z.object({
  wait: z.coerce.number().int().min(0).max(60).optional().openapi({
    description: "Hold the response up to this many seconds for the execution to end (sync mode).",
  }),
});

export const ExecutionIdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "ex_8f14e45fceea167a5a36dedd4bea2543" }),
});

export const ListExecutionsQuery = PageQuery.extend({
  workflow_id: z.string().max(64).optional(),
  parent_id: z.string().min(1).max(64).optional().openapi({ description: "Only the children of this execution (`workflow` steps)." }),
  status: ExecutionStatus.optional(),
  label: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}:.{0,256}$/, "label filter is key:value")
    .optional()
    .openapi({ description: "`key:value`", example: "team:billing" }),
  created_after: z.iso.datetime({ offset: true }).optional(),
  created_before: z.iso.datetime({ offset: true }).optional(),
});

export const EventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0).openapi({ description: "Return events with seq greater than this." }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const ExecutionSummary = Execution.pick({
  id: true,
  workflow_id: true,
  workflow_version: true,
  status: true,
  labels: true,
  created_at: true,
  started_at: true,
  ended_at: true,
  cost: true,
  parent: true,
})
  .extend({ error_code: z.string().optional() })
  .openapi("ExecutionSummary");
export type ExecutionSummary = z.infer<typeof ExecutionSummary>;

export const ExecutionPage = page(ExecutionSummary, "ExecutionPage");
export const StepList = z.object({ items: z.array(StepTrace) }).openapi("StepList");
export const EventPage = z
  .object({
    items: z.array(ExecutionEvent),
    next_after: z.number().int().openapi({ description: "Pass as `after` to continue." }),
    terminal: z.boolean().openapi({ description: "The execution has ended; no more events will come." }),
  })
  .openapi("EventPage");

export const ExecutionResult = z
  .object({ id: z.string(), status: ExecutionStatus, output: JsonValue.optional(), error: ErrorObject.optional() })
  .openapi("ExecutionResult");

export const StreamToken = z
  .object({
    token: z.string(),
    expires_at: Timestamp,
    events_url: z.string().openapi({ description: "The SSE URL with the token, ready for `new EventSource(...)`." }),
  })
  .openapi("StreamToken");

export const ApprovalBody = z
  .strictObject({
    decision: z.enum(["approve", "reject"]),
    plan_hash: z.string().max(128).optional().openapi({ description: "Required at level 2: the execution's `plan_hash` that was reviewed." }),
    step_id: z.string().max(64).optional().openapi({ description: "The step whose approval this is (level 3 and approval steps)." }),
    comment: z.string().max(4_000).optional(),
  })
  .openapi("ApprovalDecision");
export type ApprovalBody = z.infer<typeof ApprovalBody>;

export const SignalBody = z
  .strictObject({
    data: JsonValue.optional().openapi({ description: "The signal's data (any JSON value; null when absent), checked against the event step's `schema`.", example: { amount: 120 } }),
  })
  .openapi("Signal");

export const SignalReceipt = z
  .object({
    event: z.string(),
    step_id: z.string().nullable().openapi({ description: "The event step the signal completed; null when no step waits for it yet and it is kept." }),
    kept: z.boolean().openapi({ description: "True when it is kept for the next event step of that name (first in, first out)." }),
    execution: Execution,
  })
  .openapi("SignalReceipt");

export const CallbackReceipt = z
  .object({
    event: z.string(),
    step_id: z.string(),
    received_at: Timestamp,
  })
  .openapi("CallbackReceipt");

export const AnswersBody = z
  .strictObject({
    answers: z.record(z.string().max(64), JsonValue).openapi({ example: { ok: true } }),
  })
  .openapi("Answers");

export const RetryPreview = z
  .object({
    rerun: z.array(z.string()).openapi({ description: "Steps that run again, in definition order." }),
    kept: z.array(z.string()).openapi({ description: "Steps that keep their outputs and attempts." }),
    repeats_side_effects: z
      .array(
        z.object({
          step_id: z.string(),
          type: z.string(),
          method: z.string().optional(),
          url: z.string().optional().openapi({ description: "The step's URL as written in the definition (templates not rendered)." }),
          attempts_sent: z.number().int().openapi({ description: "Attempts of the earlier run that sent it." }),
        }),
      )
      .openapi({ description: "Rerun steps whose earlier attempts reached the outside world: http requests other than GET, HEAD and OPTIONS, llm calls, child executions." }),
    estimated_cost_usd: z.number().openapi({ description: "What the rerun steps' last attempts cost: a guess at what running them again costs." }),
  })
  .openapi("RetryPreview", {
    example: { rerun: ["pay", "notify"], kept: ["fetch", "check"], repeats_side_effects: [{ step_id: "pay", type: "http", method: "POST", url: "https://billing.example/pay", attempts_sent: 3 }], estimated_cost_usd: 0 },
  });
export type RetryPreview = z.infer<typeof RetryPreview>;

export const RetryPreviewQuery = z.object({
  from_step: z.string().min(1).max(64).optional().openapi({ description: "Preview a rerun from this step (it and everything downstream run again)." }),
});

export const RetryBody = z
  .object({
    from_step: z.string().min(1).max(64).optional().openapi({
      description: "Rerun from this step: it and everything downstream run again (with what did not complete), the steps upstream keep their outputs. Allowed on any ended execution, completed included.",
    }),
    input: JsonValue.optional().openapi({ description: "A new input for the rerun (needs `from_step`): checked against the workflow's `input_schema`, recorded with a new plan hash." }),
  })
  .openapi("RetryBody", { example: { from_step: "notify", input: { invoice_id: "INV-1001" } } });
