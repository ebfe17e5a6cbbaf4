/**
 * The D1 index of shared budgets (SPEC §7). Each budget's Durable Object holds its books and is
 * the source of truth for spending; this table answers listings and, when an execution starts,
 * which budgets apply to it (`applicableBudgetIds`). Times are epoch milliseconds.
 *
 * Invariants: a tenant holds at most MAX_TENANT_BUDGETS live budgets (checked inside the insert,
 * so concurrent creates cannot pass it); a deleted budget keeps its row (`deleted_at`), so its id
 * is never reused, and never applies or lists again.
 */
import { MAX_TENANT_BUDGETS, type BudgetPeriod, type BudgetScope, type OnExceed } from "../schemas/budgets";

export interface BudgetRecord {
  tenant: string;
  id: string;
  scope: BudgetScope;
  /** Set exactly for scope `workflow`. */
  workflowId: string | null;
  period: BudgetPeriod;
  maxUsd: number;
  onExceed: OnExceed;
  /** API key id of the admin who created it. */
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
}

interface BudgetRow {
  tenant: string;
  id: string;
  scope: BudgetScope;
  workflow_id: string | null;
  period: BudgetPeriod;
  max_usd: number;
  on_exceed: OnExceed;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

const COLUMNS = "tenant, id, scope, workflow_id, period, max_usd, on_exceed, created_by, created_at, updated_at, deleted_at";

function toRecord(row: BudgetRow): BudgetRecord {
  return {
    tenant: row.tenant,
    id: row.id,
    scope: row.scope,
    workflowId: row.workflow_id,
    period: row.period,
    maxUsd: row.max_usd,
    onExceed: row.on_exceed,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  };
}

/**
 * The ids of the live budgets that apply to an execution of `workflowId`: the tenant's tenant-wide
 * budgets and that workflow's, oldest first. One query.
 */
export async function applicableBudgetIds(db: D1Database, tenant: string, workflowId: string): Promise<string[]> {
  return budgetIdsOf((await applicableBudgetsStatement(db, tenant, workflowId).all()).results);
}

/** The statement of `applicableBudgetIds`, to read in a batch with others (one round trip). */
export function applicableBudgetsStatement(db: D1Database, tenant: string, workflowId: string): D1PreparedStatement {
  return db
    .prepare(
      `SELECT id FROM budgets
       WHERE tenant = ?1 AND deleted_at IS NULL AND (scope = 'tenant' OR (scope = 'workflow' AND workflow_id = ?2))
       ORDER BY created_at, id`,
    )
    .bind(tenant, workflowId);
}

export function budgetIdsOf(rows: readonly unknown[]): string[] {
  return rows.map((r) => (r as { id: string }).id);
}

/**
 * Inserts the budget unless the tenant already holds `limit` live budgets (false: nothing written).
 * One statement: the count and the insert cannot be split by a concurrent create.
 */
export async function insertBudget(db: D1Database, b: BudgetRecord, limit = MAX_TENANT_BUDGETS): Promise<boolean> {
  const row = await db
    .prepare(
      `INSERT INTO budgets (${COLUMNS})
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL
       WHERE (SELECT COUNT(*) FROM budgets WHERE tenant = ?1 AND deleted_at IS NULL) < ?11
       RETURNING id`,
    )
    .bind(b.tenant, b.id, b.scope, b.workflowId, b.period, b.maxUsd, b.onExceed, b.createdBy, b.createdAt, b.updatedAt, limit)
    .first<{ id: string }>();
  return row !== null;
}

/** The tenant's live budget, or null (absent, deleted, or another tenant's). */
export async function findBudget(db: D1Database, tenant: string, id: string): Promise<BudgetRecord | null> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM budgets WHERE tenant = ?1 AND id = ?2 AND deleted_at IS NULL`)
    .bind(tenant, id)
    .first<BudgetRow>();
  return row ? toRecord(row) : null;
}

export interface BudgetPageQuery {
  tenant: string;
  limit: number;
  /** Keyset position: the (created_at, id) of the last row of the previous page. */
  after?: { createdAt: number; id: string };
}

/** The tenant's live budgets, newest first; fetches limit + 1 rows so the caller knows whether another page exists. */
export async function listBudgets(db: D1Database, q: BudgetPageQuery): Promise<BudgetRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM budgets
       WHERE tenant = ?1 AND deleted_at IS NULL
         AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))
       ORDER BY created_at DESC, id DESC
       LIMIT ?4`,
    )
    .bind(q.tenant, q.after?.createdAt ?? null, q.after?.id ?? "", q.limit + 1)
    .all<BudgetRow>();
  return results.map(toRecord);
}

/** Copies a new limit into the index; false when the tenant has no such live budget. */
export async function updateBudgetMax(db: D1Database, tenant: string, id: string, maxUsd: number, updatedAt: number): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE budgets SET max_usd = ?3, updated_at = ?4 WHERE tenant = ?1 AND id = ?2 AND deleted_at IS NULL")
    .bind(tenant, id, maxUsd, updatedAt)
    .run();
  return meta.changes > 0;
}

/** Marks the budget deleted; false when the tenant has no such live budget. */
export async function markBudgetDeleted(db: D1Database, tenant: string, id: string, deletedAt: number): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE budgets SET deleted_at = ?3, updated_at = ?3 WHERE tenant = ?1 AND id = ?2 AND deleted_at IS NULL")
    .bind(tenant, id, deletedAt)
    .run();
  return meta.changes > 0;
}
