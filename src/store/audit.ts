/** D1 repository for the audit log (append-only). */
import type { AuditResult, AuditRow } from "../schemas/audit";

/** An audit row as read back: with the `seq` D1 gave it. */
export interface AuditEntry extends AuditRow {
  seq: number;
}

/** The `audit_log` table's columns. */
interface AuditLogRow {
  seq: number;
  id: string;
  time: number;
  tenant: string | null;
  actor: string | null;
  action: string;
  target: string | null;
  result: AuditResult;
  status: number;
  request_id: string;
  detail: string | null;
}

function toEntry(row: AuditLogRow): AuditEntry {
  return {
    id: row.id,
    seq: row.seq,
    time: row.time,
    tenant: row.tenant,
    actor: row.actor,
    action: row.action,
    target: row.target,
    result: row.result,
    status: row.status,
    requestId: row.request_id,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
  };
}

/** The insert of one audit row; `OR IGNORE` on its id makes a replayed flush harmless. */
export function auditInsertStatement(db: D1Database, e: AuditRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO audit_log (id, time, tenant, actor, action, target, result, status, request_id, detail)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
    )
    .bind(
      e.id,
      e.time,
      e.tenant,
      e.actor,
      e.action,
      e.target,
      e.result,
      e.status,
      e.requestId,
      e.detail === null ? null : JSON.stringify(e.detail),
    );
}

export async function insertAudit(db: D1Database, e: AuditRow): Promise<void> {
  await auditInsertStatement(db, e).run();
}

export interface AuditQuery {
  tenant: string;
  /** Also return rows of callers that could not be identified (tenant NULL): platform admins only. */
  includeUnidentified: boolean;
  actor?: string;
  action?: string;
  result?: AuditResult;
  target?: string;
  from?: number;
  to?: number;
  limit: number;
  /**
   * Keyset position: (time, seq) of the last row of the previous page. Newest first by `time`:
   * rows handed to an execution's outbox reach D1 after later rows, so insertion order is not it.
   */
  before?: { time: number; seq: number };
}

export async function listAudit(db: D1Database, q: AuditQuery): Promise<AuditEntry[]> {
  const { results } = await db
    .prepare(
      `SELECT seq, id, time, tenant, actor, action, target, result, status, request_id, detail FROM audit_log
       WHERE (tenant = ?1 OR (?2 = 1 AND tenant IS NULL))
         AND (?3 IS NULL OR actor = ?3)
         AND (?4 IS NULL OR action = ?4)
         AND (?5 IS NULL OR result = ?5)
         AND (?6 IS NULL OR target = ?6)
         AND (?7 IS NULL OR time >= ?7)
         AND (?8 IS NULL OR time < ?8)
         AND (?9 IS NULL OR time < ?9 OR (time = ?9 AND seq < ?10))
       ORDER BY time DESC, seq DESC
       LIMIT ?11`,
    )
    .bind(
      q.tenant,
      q.includeUnidentified ? 1 : 0,
      q.actor ?? null,
      q.action ?? null,
      q.result ?? null,
      q.target ?? null,
      q.from ?? null,
      q.to ?? null,
      q.before?.time ?? null,
      q.before?.seq ?? null,
      q.limit + 1,
    )
    .all<AuditLogRow>();
  return results.map(toEntry);
}
