/**
 * D1 index of executions. Written only by the execution Durable Object's outbox flush, with
 * version-guarded upserts (a row only moves forward); read by listings, which never call a DO.
 */
import type { ExecutionStatus } from "../schemas/executions";

export interface ExecutionIndexRow {
  tenant: string;
  id: string;
  workflowId: string;
  workflowVersion: number;
  status: ExecutionStatus;
  labels: Record<string, string>;
  errorCode: string | null;
  /** null: written before costs were recorded (0 would claim it cost nothing). */
  costUsd: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /** The steps' outcomes, for telemetry; written, never read back by listings. */
  steps?: StepOutcomeSummary[];
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  stateVersion: number;
  /** The execution and `workflow` step that started it; null (or absent) for a root execution. */
  parent?: { executionId: string; stepId: string } | null;
}

/** One step of an execution as telemetry reads it (executions.steps, JSON). */
export interface StepOutcomeSummary {
  id: string;
  status: string;
  attempts: number;
  /** ended_at − started_at; null while the step has not ended (or never started). */
  duration_ms: number | null;
}

interface Row {
  tenant: string;
  id: string;
  workflow_id: string;
  workflow_version: number;
  status: ExecutionStatus;
  labels: string;
  error_code: string | null;
  cost_usd: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  state_version: number;
  parent_id: string | null;
  parent_step_id: string | null;
}

function toIndexRow(r: Row): ExecutionIndexRow {
  return {
    tenant: r.tenant,
    id: r.id,
    workflowId: r.workflow_id,
    workflowVersion: r.workflow_version,
    status: r.status,
    labels: JSON.parse(r.labels) as Record<string, string>,
    errorCode: r.error_code,
    costUsd: r.cost_usd,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    stateVersion: r.state_version,
    parent: r.parent_id !== null && r.parent_step_id !== null ? { executionId: r.parent_id, stepId: r.parent_step_id } : null,
  };
}

/** One batch (one D1 transaction): rows and their labels; stale versions are ignored. */
export async function upsertExecutionIndex(db: D1Database, rows: readonly ExecutionIndexRow[], now: number): Promise<void> {
  const statements = executionIndexStatements(db, rows, now);
  if (statements.length > 0) await db.batch(statements);
}

/**
 * The version-guarded upserts of `rows` (and their labels), for a caller's batch. A row of the same
 * version is written again when its values differ: costs recorded between two moves of the execution
 * re-send its row without a new version. The same row replayed (a retried flush whose reply was lost)
 * matches and writes nothing: a D1 update is billed for the row and every index entry it touches,
 * even when nothing changes.
 */
export function executionIndexStatements(db: D1Database, rows: readonly ExecutionIndexRow[], now: number): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (const r of rows) {
    statements.push(
      db
        .prepare(
          `INSERT INTO executions (tenant, id, workflow_id, workflow_version, status, labels, error_code, cost_usd,
                                   created_at, started_at, ended_at, state_version, updated_at, input_tokens, output_tokens, steps,
                                   parent_id, parent_step_id)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
           ON CONFLICT (tenant, id) DO UPDATE SET
             status = excluded.status, error_code = excluded.error_code, cost_usd = excluded.cost_usd,
             input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, steps = excluded.steps,
             started_at = excluded.started_at, ended_at = excluded.ended_at,
             state_version = excluded.state_version, updated_at = excluded.updated_at
           WHERE excluded.state_version > executions.state_version
              OR (excluded.state_version = executions.state_version
                  AND (executions.status IS NOT excluded.status OR executions.error_code IS NOT excluded.error_code
                       OR executions.cost_usd IS NOT excluded.cost_usd OR executions.input_tokens IS NOT excluded.input_tokens
                       OR executions.output_tokens IS NOT excluded.output_tokens OR executions.steps IS NOT excluded.steps
                       OR executions.started_at IS NOT excluded.started_at OR executions.ended_at IS NOT excluded.ended_at))`,
        )
        .bind(
          r.tenant,
          r.id,
          r.workflowId,
          r.workflowVersion,
          r.status,
          JSON.stringify(r.labels),
          r.errorCode,
          r.costUsd,
          r.createdAt,
          r.startedAt,
          r.endedAt,
          r.stateVersion,
          now,
          r.inputTokens,
          r.outputTokens,
          r.steps ? JSON.stringify(r.steps) : null,
          r.parent?.executionId ?? null,
          r.parent?.stepId ?? null,
        ),
    );
    for (const [key, value] of Object.entries(r.labels)) {
      statements.push(
        db
          .prepare("INSERT OR IGNORE INTO execution_labels (tenant, key, value, created_at, execution_id) VALUES (?1, ?2, ?3, ?4, ?5)")
          .bind(r.tenant, key, value, r.createdAt, r.id),
      );
    }
  }
  return statements;
}

export interface ExecutionListQuery {
  tenant: string;
  workflowId?: string;
  /** Only the children of this execution. */
  parentId?: string;
  status?: ExecutionStatus;
  label?: { key: string; value: string };
  createdAfter?: number;
  createdBefore?: number;
  limit: number;
  /** Keyset position: (created_at, id) of the last row of the previous page; newest first. */
  before?: { createdAt: number; id: string };
}

const COLUMNS =
  "e.tenant, e.id, e.workflow_id, e.workflow_version, e.status, e.labels, e.error_code, e.cost_usd, e.input_tokens, e.output_tokens, e.created_at, e.started_at, e.ended_at, e.state_version, e.parent_id, e.parent_step_id";

/**
 * Newest first, keyset-paged (no OFFSET): each filter is served by an index whose trailing
 * columns are (created_at DESC, id DESC); a label filter walks execution_labels instead.
 */
export async function listExecutions(db: D1Database, q: ExecutionListQuery): Promise<{ rows: ExecutionIndexRow[]; rowsRead: number }> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const bind = (v: string | number): string => {
    params.push(v);
    return `?${params.length}`;
  };
  // The table that drives the ordering: the label index when filtering by label.
  const driver = q.label ? "l" : "e";
  const from = q.label
    ? "execution_labels l JOIN executions e ON e.tenant = l.tenant AND e.id = l.execution_id"
    : "executions e";
  const idCol = q.label ? "l.execution_id" : "e.id";
  where.push(`${driver}.tenant = ${bind(q.tenant)}`);
  if (q.label) where.push(`l.key = ${bind(q.label.key)}`, `l.value = ${bind(q.label.value)}`);
  if (q.workflowId !== undefined) where.push(`e.workflow_id = ${bind(q.workflowId)}`);
  if (q.parentId !== undefined) where.push(`e.parent_id = ${bind(q.parentId)}`);
  if (q.status !== undefined) where.push(`e.status = ${bind(q.status)}`);
  if (q.createdAfter !== undefined) where.push(`${driver}.created_at >= ${bind(q.createdAfter)}`);
  if (q.createdBefore !== undefined) where.push(`${driver}.created_at < ${bind(q.createdBefore)}`);
  if (q.before) {
    const c = bind(q.before.createdAt);
    where.push(`(${driver}.created_at < ${c} OR (${driver}.created_at = ${c} AND ${idCol} < ${bind(q.before.id)}))`);
  }
  const sql = `SELECT ${COLUMNS} FROM ${from} WHERE ${where.join(" AND ")}
               ORDER BY ${driver}.created_at DESC, ${idCol} DESC LIMIT ${bind(q.limit + 1)}`;
  const { results, meta } = await db.prepare(sql).bind(...params).all<Row>();
  return { rows: results.map(toIndexRow), rowsRead: meta.rows_read };
}
