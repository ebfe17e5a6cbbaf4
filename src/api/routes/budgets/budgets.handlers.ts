/**
 * /v1/budgets. The D1 index says which budgets a tenant has (404 for the rest); each budget's
 * Durable Object holds its limit and books, and answers spent and reserved. Writes go to the object
 * first and to the index second: a create that fails half-way leaves at most an object nobody can
 * see, a delete that fails half-way is finished by the same DELETE again.
 */
import type { RouteHandler } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { budgetRpc } from "../../../durable/budget/client";
import { toHex } from "../../../lib/digest";
import { log } from "../../../lib/log";
import { MAX_TENANT_BUDGETS, type Budget, type BudgetState } from "../../../schemas/budgets";
import { ConflictError, NotFoundError } from "../../../services/errors";
import * as budgets from "../../../store/budgets";
import { principalOf } from "../../middleware/guard";
import { decodeCursor, toPage } from "../../paging";
import type { AppEnv } from "../../types";
import type { createBudget, deleteBudget, getBudget, listBudgets, updateBudget } from "./budgets.routes";

function toBudget(s: BudgetState): Budget {
  return {
    id: s.id,
    scope: s.scope,
    workflow_id: s.workflow_id,
    period: s.period,
    max_usd: s.max_usd,
    on_exceed: s.on_exceed,
    spent_usd: s.spent_usd,
    reserved_usd: s.reserved_usd,
    period_start: s.period_start,
    created_at: s.created_at,
    updated_at: s.updated_at,
  };
}

function notFound(id: string): NotFoundError {
  return new NotFoundError("BUDGET_NOT_FOUND", `No budget '${id}'.`);
}

/** The tenant's live budget from the index, or 404. */
async function indexed(db: D1Database, tenant: string, id: string): Promise<budgets.BudgetRecord> {
  const record = await budgets.findBudget(db, tenant, id);
  if (!record) throw notFound(id);
  return record;
}

export const create: RouteHandler<typeof createBudget, AppEnv> = async (c) => {
  const p = principalOf(c);
  const body = c.req.valid("json");
  const id = `bu_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
  const now = Date.now();
  const workflowId = body.workflow_id ?? null;
  c.set("auditTarget", id);
  const budget = budgetRpc(c.env, id);
  const state = await budget.configure({
    id,
    tenant: p.tenant,
    scope: body.scope,
    workflowId,
    period: body.period,
    maxUsd: body.max_usd,
    onExceed: body.on_exceed,
    now,
  });
  const inserted = await budgets.insertBudget(c.env.DB, {
    tenant: p.tenant,
    id,
    scope: body.scope,
    workflowId,
    period: body.period,
    maxUsd: state.max_usd,
    onExceed: body.on_exceed,
    createdBy: p.keyId,
    createdAt: now,
    updatedAt: now,
    deletedAt: null,
  });
  if (!inserted) {
    // The object is not in the index, so nothing can see it; deleting it leaves it inert for good.
    await budget.remove(p.tenant);
    throw new ConflictError(
      "BUDGET_LIMIT_REACHED",
      `This tenant already has ${MAX_TENANT_BUDGETS} budgets; delete one (DELETE /v1/budgets/{id}) before creating another.`,
    );
  }
  c.set("auditDetail", { scope: body.scope, workflow_id: workflowId, period: body.period, max_usd: state.max_usd, on_exceed: body.on_exceed });
  return c.json(toBudget(state), 201);
};

const BudgetPosition = z.object({ c: z.number().int(), i: z.string() });

export const list: RouteHandler<typeof listBudgets, AppEnv> = async (c) => {
  const p = principalOf(c);
  const q = c.req.valid("query");
  const after = decodeCursor(q.cursor, BudgetPosition);
  const rows = await budgets.listBudgets(c.env.DB, { tenant: p.tenant, limit: q.limit, after: after && { createdAt: after.c, id: after.i } });
  const page = toPage(rows, q.limit, (r) => r, (r) => ({ c: r.createdAt, i: r.id }));
  // One RPC per budget of the page (at most MAX_PAGE_SIZE), in parallel: spent and reserved are live.
  const now = Date.now();
  const states = await Promise.all(page.items.map((r) => budgetRpc(c.env, r.id).state(p.tenant, now)));
  const items: Budget[] = [];
  states.forEach((s, i) => {
    if (s) items.push(toBudget(s));
    else log("warn", "budget indexed but not live in its object", { request_id: c.get("requestId"), budget_id: page.items[i]!.id });
  });
  return c.json({ items, next_cursor: page.next_cursor }, 200);
};

export const get: RouteHandler<typeof getBudget, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  await indexed(c.env.DB, p.tenant, id);
  const state = await budgetRpc(c.env, id).state(p.tenant, Date.now());
  if (!state) throw notFound(id);
  return c.json(toBudget(state), 200);
};

export const update: RouteHandler<typeof updateBudget, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  await indexed(c.env.DB, p.tenant, id);
  const now = Date.now();
  // The object changes the limit and wakes its waiters; the index keeps a copy of the limit.
  const result = await budgetRpc(c.env, id).update(p.tenant, { maxUsd: body.max_usd }, now);
  if (!result) throw notFound(id);
  await budgets.updateBudgetMax(c.env.DB, p.tenant, id, result.state.max_usd, now);
  c.set("auditDetail", { previous_max_usd: result.previous_max_usd, max_usd: result.state.max_usd });
  return c.json(toBudget(result.state), 200);
};

export const remove: RouteHandler<typeof deleteBudget, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const record = await indexed(c.env.DB, p.tenant, id);
  if (!(await budgetRpc(c.env, id).remove(p.tenant))) throw notFound(id);
  await budgets.markBudgetDeleted(c.env.DB, p.tenant, id, Date.now());
  c.set("auditDetail", { scope: record.scope, workflow_id: record.workflowId, period: record.period, max_usd: record.maxUsd });
  return c.body(null, 204);
};
