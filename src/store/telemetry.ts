/**
 * Telemetry (SPEC §7) read from the D1 index: the `executions` rows (status, cost columns, times,
 * and the `steps` outcomes an ended execution's row carries) and the usage ledger
 * (`usage_records`). Read-only; each request is one D1 batch (one round trip).
 *
 * Invariants:
 * - Ranges are half-open, `from` ≤ t < `to`: executions by `created_at` (index
 *   `executions_by_created`, or `executions_by_workflow` for one workflow), usage records by `time`
 *   (`usage_by_time`, `usage_by_workflow`).
 * - A duration is `ended_at − started_at` of an ended execution (a status of `endedStatuses`) that
 *   started; a step's is the `duration_ms` its execution recorded (null: it never ended).
 * - Percentiles are computed in SQL, nearest-rank: p is the value at rank ⌈p × n⌉ of the n values in
 *   ascending order (see `percentile`), so no list of values reaches JS.
 * - NULL costs and tokens (rows indexed before costs were recorded, calls with no known price)
 *   count 0. USD sums are rounded to 1e-10, as the ledger rounds each record.
 */
import type { ExecutionStatus } from "../schemas/executions";
import type { ModelTotals, StatusCounts, StepStats, TelemetrySummary, WorkflowStats, WorkflowTotals } from "../schemas/telemetry";
import { EXECUTION_STATUSES } from "../schemas/vocabulary";
import { roundUsd } from "../lib/usd";

export interface TelemetryQuery {
  tenant: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** The statuses in which an execution has ended (the state machine's terminal statuses). */
  endedStatuses: readonly ExecutionStatus[];
}

export type SummaryFigures = Omit<TelemetrySummary, "from" | "to">;
export type WorkflowStatsFigures = Omit<WorkflowStats, "workflow_id" | "from" | "to">;

/** What a read returned, and the D1 rows its statements read (logged with the request). */
export interface Measured<T> {
  figures: T;
  rowsRead: number;
}


/**
 * The nearest-rank p-th percentile (p in whole percent) of `n` values that `sorted` (a JSON array,
 * ascending) holds: the element at rank ⌈p × n / 100⌉, computed in integer arithmetic so that no
 * floating-point product lands just above a whole number; NULL when n is 0. The arrays come from
 * `json_group_array(v ORDER BY v)` (an ordered aggregate, SQLite 3.44+): one sort, no window
 * function, which reads each value several times over (D1 counts those reads).
 */
function percentile(sorted: string, n: string, percent: number): string {
  return `CASE WHEN ${n} > 0 THEN json_extract(${sorted}, '$[' || ((${percent} * ${n} + 99) / 100 - 1) || ']') END`;
}

/** `?n` is a JSON array of the ended statuses. */
const isEnded = (n: number) => `status IN (SELECT value FROM json_each(?${n}))`;
const durationOf = (n: number) => `CASE WHEN ${isEnded(n)} AND started_at IS NOT NULL AND ended_at IS NOT NULL THEN ended_at - started_at END`;

// ---------------------------------------------------------------------------------------------
// Executions by workflow and status: the summary's totals, by_status and by_workflow, and a workflow's counts

interface StatusGroupRow {
  workflow_id: string;
  status: ExecutionStatus;
  executions: number;
  total_usd: number;
  input_tokens: number;
  output_tokens: number;
  /** Ended executions that started: how many, and the sum of their durations. */
  timed: number;
  duration_sum: number;
}

/** ?1 tenant, ?2 from, ?3 to, ?4 ended statuses (JSON), ?5 the workflow id when one is given. */
function statusGroups(db: D1Database, q: TelemetryQuery, workflowId: string | undefined): D1PreparedStatement {
  const sql = `SELECT workflow_id, status, COUNT(*) AS executions, TOTAL(cost_usd) AS total_usd,
                      COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens,
                      COUNT(${durationOf(4)}) AS timed, TOTAL(${durationOf(4)}) AS duration_sum
               FROM executions
               WHERE tenant = ?1 ${workflowId !== undefined ? "AND workflow_id = ?5" : ""} AND created_at >= ?2 AND created_at < ?3
               GROUP BY workflow_id, status`;
  const binds: (string | number)[] = [q.tenant, q.from, q.to, JSON.stringify(q.endedStatuses)];
  if (workflowId !== undefined) binds.push(workflowId);
  return db.prepare(sql).bind(...binds);
}

function zeroCounts(): StatusCounts {
  return Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, 0])) as StatusCounts;
}

interface Totals {
  executions: number;
  totalUsd: number;
  inputTokens: number;
  outputTokens: number;
  timed: number;
  durationSum: number;
}

function addGroup(t: Totals, r: StatusGroupRow): void {
  t.executions += r.executions;
  t.totalUsd += r.total_usd;
  t.inputTokens += r.input_tokens;
  t.outputTokens += r.output_tokens;
  t.timed += r.timed;
  t.durationSum += r.duration_sum;
}

const noTotals = (): Totals => ({ executions: 0, totalUsd: 0, inputTokens: 0, outputTokens: 0, timed: 0, durationSum: 0 });
const avgDuration = (t: Totals): number | null => (t.timed > 0 ? t.durationSum / t.timed : null);
const avgCost = (t: Totals): number | null => (t.executions > 0 ? roundUsd(t.totalUsd / t.executions) : null);

/** Code-point order (SQLite's BINARY collation), for ties. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byCostThenName<T extends { total_usd: number }>(name: (x: T) => string): (a: T, b: T) => number {
  return (a, b) => b.total_usd - a.total_usd || byName(name(a), name(b));
}

// ---------------------------------------------------------------------------------------------
// GET /v1/telemetry/summary

interface ModelRow {
  model: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  total_usd: number;
}

/** The llm calls of the range by model. ?1 tenant, ?2 from, ?3 to, ?4 workflow id when given. */
function modelGroups(db: D1Database, q: TelemetryQuery, workflowId: string | undefined): D1PreparedStatement {
  const sql = `SELECT model, COUNT(*) AS calls, COALESCE(SUM(input_tokens), 0) AS input_tokens,
                      COALESCE(SUM(output_tokens), 0) AS output_tokens, TOTAL(cost_usd) AS total_usd
               FROM usage_records
               WHERE tenant = ?1 ${workflowId !== undefined ? "AND workflow_id = ?4" : ""} AND time >= ?2 AND time < ?3
                 AND model IS NOT NULL
               GROUP BY model`;
  const binds: (string | number)[] = [q.tenant, q.from, q.to];
  if (workflowId !== undefined) binds.push(workflowId);
  return db.prepare(sql).bind(...binds);
}

/**
 * Totals and averages of the tenant's executions created in the range (one workflow's, with
 * `workflowId`), by status and by workflow, and its llm calls of the range by model. The totals are
 * sums of the by-workflow groups, so `by_workflow` adds up to them.
 */
export async function telemetrySummary(db: D1Database, q: TelemetryQuery & { workflowId?: string }): Promise<Measured<SummaryFigures>> {
  const [groups, models] = await db.batch<unknown>([statusGroups(db, q, q.workflowId), modelGroups(db, q, q.workflowId)]);
  const all = noTotals();
  const byStatus = zeroCounts();
  const byWorkflow = new Map<string, Totals>();
  for (const r of groups!.results as StatusGroupRow[]) {
    byStatus[r.status] += r.executions;
    addGroup(all, r);
    let w = byWorkflow.get(r.workflow_id);
    if (!w) byWorkflow.set(r.workflow_id, (w = noTotals()));
    addGroup(w, r);
  }
  const workflows: WorkflowTotals[] = [...byWorkflow].map(([workflow_id, t]) => ({
    workflow_id,
    executions: t.executions,
    total_usd: roundUsd(t.totalUsd),
    avg_duration_ms: avgDuration(t),
  }));
  const byModel: ModelTotals[] = (models!.results as ModelRow[]).map((r) => ({
    model: r.model,
    calls: r.calls,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    total_usd: roundUsd(r.total_usd),
  }));
  return {
    figures: {
      executions: all.executions,
      by_status: byStatus,
      total_usd: roundUsd(all.totalUsd),
      input_tokens: all.inputTokens,
      output_tokens: all.outputTokens,
      avg_cost_usd: avgCost(all),
      avg_duration_ms: avgDuration(all),
      by_workflow: workflows.sort(byCostThenName((w) => w.workflow_id)),
      by_model: byModel.sort(byCostThenName((m) => m.model)),
    },
    rowsRead: groups!.meta.rows_read + models!.meta.rows_read,
  };
}

// ---------------------------------------------------------------------------------------------
// GET /v1/telemetry/workflows/{id}/stats

interface DurationRow {
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/** Nearest-rank p50 and p95 and the longest duration. ?1 tenant, ?2 from, ?3 to, ?4 ended statuses, ?5 workflow id. */
function durationPercentiles(db: D1Database, q: TelemetryQuery, workflowId: string): D1PreparedStatement {
  const sql = `WITH durations AS (
                 SELECT COUNT(*) AS n, json_group_array(ms ORDER BY ms) AS sorted, MAX(ms) AS max
                 FROM (SELECT ended_at - started_at AS ms FROM executions
                       WHERE tenant = ?1 AND workflow_id = ?5 AND created_at >= ?2 AND created_at < ?3
                         AND ${isEnded(4)} AND started_at IS NOT NULL AND ended_at IS NOT NULL)
               )
               SELECT ${percentile("sorted", "n", 50)} AS p50, ${percentile("sorted", "n", 95)} AS p95, max FROM durations`;
  return db.prepare(sql).bind(q.tenant, q.from, q.to, JSON.stringify(q.endedStatuses), workflowId);
}

interface StepRow {
  step_id: string;
  runs: number;
  failures: number;
  p50: number | null;
  p95: number | null;
  total_usd: number;
}

/**
 * Per step: from the `steps` outcomes of the workflow's executions created in the range (only ended
 * executions carry them), runs (the step started: attempts > 0), failures (it ended `failed`) and
 * nearest-rank percentiles of its recorded durations; and its usage records of the range. A step
 * in either appears; ordered by step id. ?1 tenant, ?2 from, ?3 to, ?4 workflow id.
 */
function stepFigures(db: D1Database, q: TelemetryQuery, workflowId: string): D1PreparedStatement {
  const sql = `WITH outcomes AS (
                 SELECT json_extract(s.value, '$.id') AS step_id, json_extract(s.value, '$.status') AS status,
                        json_extract(s.value, '$.attempts') AS attempts, json_extract(s.value, '$.duration_ms') AS ms
                 FROM executions e, json_each(e.steps) AS s
                 WHERE e.tenant = ?1 AND e.workflow_id = ?4 AND e.created_at >= ?2 AND e.created_at < ?3
                   AND e.steps IS NOT NULL AND json_valid(e.steps)
               ),
               per_step AS (
                 SELECT step_id, COALESCE(SUM(attempts > 0), 0) AS runs, COALESCE(SUM(status = 'failed'), 0) AS failures,
                        COUNT(ms) AS n, json_group_array(ms ORDER BY ms) FILTER (WHERE ms IS NOT NULL) AS sorted
                 FROM outcomes GROUP BY step_id
               ),
               costs AS (
                 SELECT step_id, TOTAL(cost_usd) AS total_usd FROM usage_records
                 WHERE tenant = ?1 AND workflow_id = ?4 AND time >= ?2 AND time < ?3
                 GROUP BY step_id
               ),
               ids AS (SELECT step_id FROM per_step UNION SELECT step_id FROM costs)
               SELECT ids.step_id, COALESCE(p.runs, 0) AS runs, COALESCE(p.failures, 0) AS failures,
                      ${percentile("p.sorted", "p.n", 50)} AS p50, ${percentile("p.sorted", "p.n", 95)} AS p95,
                      COALESCE(k.total_usd, 0) AS total_usd
               FROM ids LEFT JOIN per_step p USING (step_id) LEFT JOIN costs k USING (step_id)
               WHERE ids.step_id IS NOT NULL
               ORDER BY ids.step_id`;
  return db.prepare(sql).bind(q.tenant, q.from, q.to, workflowId);
}

/**
 * One workflow's executions created in the range: counts by status, success rate (completed ÷
 * ended), duration percentiles, cost, and per-step figures. A workflow with none in the range
 * (or none at all) has zeros and nulls.
 */
export async function workflowStats(db: D1Database, q: TelemetryQuery & { workflowId: string }): Promise<Measured<WorkflowStatsFigures>> {
  const [groups, durations, steps] = await db.batch<unknown>([
    statusGroups(db, q, q.workflowId),
    durationPercentiles(db, q, q.workflowId),
    stepFigures(db, q, q.workflowId),
  ]);
  const all = noTotals();
  const byStatus = zeroCounts();
  for (const r of groups!.results as StatusGroupRow[]) {
    byStatus[r.status] += r.executions;
    addGroup(all, r);
  }
  const ended = q.endedStatuses.reduce((sum, s) => sum + byStatus[s], 0);
  const d = (durations!.results as DurationRow[])[0];
  return {
    figures: {
      executions: all.executions,
      by_status: byStatus,
      success_rate: ended > 0 ? byStatus.completed / ended : null,
      duration_ms: { p50: d?.p50 ?? null, p95: d?.p95 ?? null, max: d?.max ?? null },
      total_usd: roundUsd(all.totalUsd),
      avg_cost_usd: avgCost(all),
      steps: (steps!.results as StepRow[]).map(
        (r): StepStats => ({
          step_id: r.step_id,
          runs: r.runs,
          failures: r.failures,
          duration_ms: { p50: r.p50, p95: r.p95 },
          total_usd: roundUsd(r.total_usd),
        }),
      ),
    },
    rowsRead: groups!.meta.rows_read + durations!.meta.rows_read + steps!.meta.rows_read,
  };
}
