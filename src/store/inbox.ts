/**
 * D1 inbox (SPEC §10): items written by the execution objects' outboxes (the changes derived in
 * engine/inbox.ts), read by `GET /v1/inbox`. An item only moves forward: a close applies to a
 * pending item, and an open (a wait opening again) makes it pending anew.
 */
import type { InboxChange, InboxKind, InboxOutcome, InboxOwner } from "../schemas/inbox";

/** What the outbox carries for one change. */
export type InboxRow = InboxOwner & InboxChange;

/** The statements of `rows`, in order, for the outbox's batch. */
export function inboxStatements(db: D1Database, rows: readonly InboxRow[]): D1PreparedStatement[] {
  return rows.map((r) => {
    switch (r.op) {
      case "open":
        return db
          .prepare(
            `INSERT INTO inbox (tenant, execution_id, kind, step_id, workflow_id, status, outcome, summary, requested_at, expires_at, decided_by, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', NULL, ?6, ?7, ?8, NULL, NULL)
             ON CONFLICT (tenant, execution_id, kind, step_id) DO UPDATE SET
               status = 'pending', outcome = NULL, summary = excluded.summary, requested_at = excluded.requested_at,
               expires_at = excluded.expires_at, decided_by = NULL, decided_at = NULL
             WHERE excluded.requested_at >= inbox.requested_at`,
          )
          .bind(r.tenant, r.executionId, r.kind, r.stepId ?? "", r.workflowId, r.summary, r.requestedAt, r.expiresAt);
      case "close":
        return db
          .prepare(
            `UPDATE inbox SET status = 'done', outcome = ?1, decided_by = ?2, decided_at = ?3
             WHERE tenant = ?4 AND execution_id = ?5 AND step_id = ?6 AND status = 'pending' AND (?7 IS NULL OR kind = ?7)`,
          )
          .bind(r.outcome, r.by, r.at, r.tenant, r.executionId, r.stepId ?? "", r.kind);
      case "close_all":
        return db
          .prepare("UPDATE inbox SET status = 'done', outcome = 'cancelled', decided_at = ?1 WHERE tenant = ?2 AND execution_id = ?3 AND status = 'pending'")
          .bind(r.at, r.tenant, r.executionId);
    }
  });
}

export interface InboxItemRecord {
  executionId: string;
  workflowId: string;
  kind: InboxKind;
  stepId: string | null;
  status: "pending" | "done";
  outcome: InboxOutcome | null;
  summary: string;
  requestedAt: number;
  expiresAt: string | null;
  decidedBy: string | null;
  decidedAt: number | null;
}

export interface InboxQuery {
  tenant: string;
  kind?: InboxKind;
  status?: "pending" | "done";
  workflowId?: string;
  limit: number;
  /** Keyset position of the last item of the previous page; newest first. */
  before?: { requestedAt: number; executionId: string; kind: string; stepId: string };
}

interface Row {
  execution_id: string;
  workflow_id: string;
  kind: InboxKind;
  step_id: string;
  status: "pending" | "done";
  outcome: InboxOutcome | null;
  summary: string;
  requested_at: number;
  expires_at: string | null;
  decided_by: string | null;
  decided_at: number | null;
}

/** Newest first, keyset-paged on (requested_at, execution_id, kind, step_id). */
export async function listInbox(db: D1Database, q: InboxQuery): Promise<InboxItemRecord[]> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const bind = (v: string | number): string => {
    params.push(v);
    return `?${params.length}`;
  };
  where.push(`tenant = ${bind(q.tenant)}`);
  if (q.status !== undefined) where.push(`status = ${bind(q.status)}`);
  if (q.kind !== undefined) where.push(`kind = ${bind(q.kind)}`);
  if (q.workflowId !== undefined) where.push(`workflow_id = ${bind(q.workflowId)}`);
  if (q.before) {
    const b = q.before;
    where.push(`(requested_at, execution_id, kind, step_id) < (${bind(b.requestedAt)}, ${bind(b.executionId)}, ${bind(b.kind)}, ${bind(b.stepId)})`);
  }
  const sql = `SELECT execution_id, workflow_id, kind, step_id, status, outcome, summary, requested_at, expires_at, decided_by, decided_at
               FROM inbox WHERE ${where.join(" AND ")}
               ORDER BY requested_at DESC, execution_id DESC, kind DESC, step_id DESC LIMIT ${bind(q.limit + 1)}`;
  const { results } = await db.prepare(sql).bind(...params).all<Row>();
  return results.map((r) => ({
    executionId: r.execution_id,
    workflowId: r.workflow_id,
    kind: r.kind,
    stepId: r.step_id === "" ? null : r.step_id,
    status: r.status,
    outcome: r.outcome,
    summary: r.summary,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
  }));
}
