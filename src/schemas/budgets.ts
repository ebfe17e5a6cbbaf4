/**
 * Shared budgets (SPEC §7 "Budgets — enforced, not reported"): a tenant's or a workflow's spending
 * limit per UTC calendar day or month, held by one Durable Object per budget (durable/budget/).
 * Here: the vocabulary, the limits, the wire shapes of `/v1/budgets`, and the object's RPC
 * arguments (parsed again inside the object) and results (plain data: they cross the RPC boundary
 * by structured clone).
 *
 * Amounts are USD numbers rounded to 1e-10 (as the usage ledger rounds them), so sums never drift.
 */
import { z } from "@hono/zod-openapi";
import { WORKFLOW_ID_PATTERN } from "./definition";
import { MAX_BUDGET_USD } from "./limits";
import { PageQuery, Timestamp, page } from "./pages";

// ---------------------------------------------------------------------------------------------
// Vocabulary and limits

export const BUDGET_SCOPES = ["tenant", "workflow"] as const;
export const BudgetScope = z.enum(BUDGET_SCOPES).openapi({
  description: "`tenant`: every execution of the tenant; `workflow`: the executions of one workflow (`workflow_id`).",
});
export type BudgetScope = z.infer<typeof BudgetScope>;

export const BUDGET_PERIODS = ["day", "month"] as const;
export const BudgetPeriod = z.enum(BUDGET_PERIODS).openapi({
  description: "The spending period: a UTC calendar day or month. A new period starts with nothing spent (reservations in flight carry over).",
});
export type BudgetPeriod = z.infer<typeof BudgetPeriod>;

export const ON_EXCEED = ["pause", "fail", "warn"] as const;
export const OnExceed = z.enum(ON_EXCEED).openapi({
  description:
    "A call whose reservation does not fit: `pause` → the execution waits (`waiting_for.kind: budget`) until the limit is raised " +
    "(`PATCH /v1/budgets/{id}`) or it is cancelled; `fail` → the step fails `BUDGET_EXCEEDED`; `warn` → event `budget.warning` and the call goes ahead.",
});
export type OnExceed = z.infer<typeof OnExceed>;

/** Most budgets (not deleted) one tenant may hold: each applies to every execution in its scope, one RPC per reservation. */
export const MAX_TENANT_BUDGETS = 100;

export { MAX_BUDGET_USD };

/** A budget's limit: more than 0, at most MAX_BUDGET_USD. */
export const BudgetMaxUsd = z
  .number()
  .gt(0)
  .max(MAX_BUDGET_USD)
  .openapi({ description: `The limit per period, in USD: more than 0, at most ${MAX_BUDGET_USD}.`, example: 25 });

export const BUDGET_ID_PATTERN = /^bu_[0-9a-f]{32}$/;
/** A budget's id as the service makes it: `bu_` and 32 hex digits. */
export const BudgetId = z.string().regex(BUDGET_ID_PATTERN, { message: "a budget id is 'bu_' and 32 hex digits" });

const WorkflowIdRef = z
  .string()
  .regex(WORKFLOW_ID_PATTERN, { message: "a workflow id is 1-64 characters: lowercase letters, digits, '_' and '-', starting with a letter or digit" });

/** USD as stored and compared: rounded to 1e-10 (like the usage ledger's `roundUsd`). */
const Usd = z.number().finite().min(0).max(1e12);

// ---------------------------------------------------------------------------------------------
// The object's state, as it answers it

export const BudgetState = z.object({
  id: z.string(),
  tenant: z.string(),
  scope: BudgetScope,
  workflow_id: z.string().nullable(),
  period: BudgetPeriod,
  max_usd: z.number(),
  on_exceed: OnExceed,
  /** Spent in the current period (settled calls, and expired reservations at their reserved amount). */
  spent_usd: z.number(),
  /** Held by reservations not settled yet (whatever period they were made in). */
  reserved_usd: z.number(),
  /** The current period's first instant (RFC 3339). */
  period_start: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type BudgetState = z.infer<typeof BudgetState>;

// ---------------------------------------------------------------------------------------------
// RPC arguments (parsed again inside the object) and results

const Now = z.number().int().min(0);
const ReservationId = z.string().min(1).max(512);
const ExecutionId = z.string().min(1).max(64);

export const ConfigureBudgetArgs = z.object({
  id: BudgetId,
  tenant: z.string().min(1).max(64),
  scope: BudgetScope,
  workflowId: WorkflowIdRef.nullable(),
  period: BudgetPeriod,
  maxUsd: BudgetMaxUsd,
  onExceed: OnExceed,
  now: Now,
});
export type ConfigureBudgetArgs = z.infer<typeof ConfigureBudgetArgs>;

/** What one reservation actually cost, for the budget to spend in its place. */
export const Settlement = z.object({ reservationId: ReservationId, actualUsd: Usd });
export type Settlement = z.infer<typeof Settlement>;

export const ReserveArgs = z.object({
  reservationId: ReservationId,
  executionId: ExecutionId,
  amountUsd: Usd,
  /** When the reservation is turned into spending at its amount if nobody settled or released it. */
  expiresAt: Now,
  now: Now,
  /**
   * Earlier reservations of the same caller to settle first (their actual costs), so that a caller
   * making call after call pays one round trip per call: the settle rides on the next reserve.
   */
  settle: z.array(Settlement).max(1000).optional(),
});
export type ReserveArgs = z.infer<typeof ReserveArgs>;

export const SettleArgs = z.object({
  reservations: z.array(Settlement).max(1000),
  now: Now,
});
export type SettleArgs = z.infer<typeof SettleArgs>;

export const ReleaseArgs = z.array(ReservationId).max(1000);

export const UpdateBudgetArgs = z.object({ maxUsd: BudgetMaxUsd });
export type UpdateBudgetArgs = z.infer<typeof UpdateBudgetArgs>;

export const RpcTenant = z.string().min(1).max(64);
export const RpcNow = Now;

export type ReserveResult = (
/** Reserved (or already reserved under this id). `over`: a `warn` budget that the reservation took past its limit. */
  | { ok: true; state: BudgetState; over: boolean }
  /** The budget is deleted (or was never configured): it no longer limits anything. */
  | { ok: true; state: null; over: false }
  /** Does not fit; nothing reserved. On a `pause` budget the execution is now a waiter. */
  | { ok: false; state: BudgetState; needed_usd: number }
) & {
  /** With `settle`: true when those settlements first brought spending to 80 % this period (as `SettleResult.warning`). */
  warning?: boolean;
};

export interface SettleResult {
  /** Null: the budget is deleted (or was never configured). */
  state: BudgetState | null;
  /** True on the one settle per period that first brought spending to 80 % of the limit or more. */
  warning: boolean;
}

export type UpdateBudgetResult = { state: BudgetState; previous_max_usd: number } | null;

// ---------------------------------------------------------------------------------------------
// HTTP: /v1/budgets

export const Budget = z
  .object({
    id: z.string().openapi({ example: "bu_5f2b9c0e7a1d4c3b8e6f0a9d2c4b7e1f" }),
    scope: BudgetScope,
    workflow_id: z.string().nullable().openapi({ description: "The workflow of a `workflow` budget; null for a `tenant` budget.", example: "invoice-review" }),
    period: BudgetPeriod,
    max_usd: z.number().openapi({ description: "The limit per period, in USD.", example: 25 }),
    on_exceed: OnExceed,
    spent_usd: z.number().openapi({
      description: "Spent in the current period: settled calls, and reservations that expired unsettled (at their reserved amount).",
      example: 3.2,
    }),
    reserved_usd: z.number().openapi({ description: "Held by calls in flight (their maximum cost), not settled yet.", example: 0.05 }),
    period_start: Timestamp.openapi({ description: "The current period's first instant (UTC)." }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Budget", {
    example: {
      id: "bu_5f2b9c0e7a1d4c3b8e6f0a9d2c4b7e1f",
      scope: "workflow",
      workflow_id: "invoice-review",
      period: "month",
      max_usd: 25,
      on_exceed: "pause",
      spent_usd: 3.2,
      reserved_usd: 0.05,
      period_start: "2026-11-01T00:00:00.000Z",
      created_at: "2026-11-22T10:15:00.000Z",
      updated_at: "2026-11-22T10:15:00.000Z",
    },
  });
export type Budget = z.infer<typeof Budget>;

export const BudgetPage = page(Budget, "BudgetPage");

export const CreateBudgetBody = z
  .strictObject({
    scope: BudgetScope,
    workflow_id: WorkflowIdRef.optional().openapi({ description: "Required for scope `workflow`; not allowed for scope `tenant`.", example: "invoice-review" }),
    period: BudgetPeriod,
    max_usd: BudgetMaxUsd,
    on_exceed: OnExceed,
  })
  .superRefine((body, ctx) => {
    if (body.scope === "workflow" && body.workflow_id === undefined) {
      ctx.addIssue({ code: "custom", path: ["workflow_id"], message: "a budget of scope 'workflow' names its workflow_id" });
    }
    if (body.scope === "tenant" && body.workflow_id !== undefined) {
      ctx.addIssue({ code: "custom", path: ["workflow_id"], message: "a budget of scope 'tenant' applies to every workflow: leave out workflow_id" });
    }
  })
  .openapi("CreateBudget", {
    example: { scope: "workflow", workflow_id: "invoice-review", period: "month", max_usd: 25, on_exceed: "pause" },
  });
export type CreateBudgetBody = z.infer<typeof CreateBudgetBody>;

export const UpdateBudgetBody = z
  .strictObject({ max_usd: BudgetMaxUsd })
  .openapi("UpdateBudget", { description: "The new limit. Every execution waiting on this budget is woken to try again.", example: { max_usd: 50 } });

export const BudgetIdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "bu_5f2b9c0e7a1d4c3b8e6f0a9d2c4b7e1f" }),
});

export const ListBudgetsQuery = PageQuery;
