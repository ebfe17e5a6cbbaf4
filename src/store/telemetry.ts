/**
 * Telemetry (SPEC §7) read from the D1 index: the daily rollups of the `executions` rows and the usage
 * ledger (migrations 0007, 0012), and the raw rows of the days not taken from them. Each request is
 * one D1 batch (one round trip), which first seals the whole days it takes from the rollups that are
 * not sealed yet (src/store/telemetry-seal.ts: their rollups are built then, in bulk, not as each
 * execution is written).
 *
 * Invariants:
 * - Ranges are half-open, `from` ≤ t < `to`: executions by `created_at`, usage records by `time`.
 *   `rangeParts` splits a range into whole UTC days that are over (sealed, then read from the
 *   rollups) and at most two raw ranges (the partial day at the start; the partial day at the end,
 *   with the whole days too recent to seal before it), so every figure is exact and a read over 92
 *   days reads about one rollup row per workflow and day plus the rows of about two days.
 * - A duration is `ended_at − started_at` of an ended execution (a status of `endedStatuses`, which the
 *   rollup triggers list too) that started; a step's is the `duration_ms` its execution recorded.
 * - Percentiles and the longest duration are computed in SQL from duration histograms (how many
 *   fell in each bucket of `duration_buckets`: exact below 50 ms, then 8 % wide, read as their
 *   middle, so within 4 %), nearest-rank: p is the smallest bucket whose cumulative count reaches
 *   ⌈p × n⌉. Averages are exact (sums of durations).
 * - NULL costs and tokens (rows indexed before costs were recorded, calls with no known price)
 *   count 0. USD sums are rounded to 1e-10, as the ledger rounds each record.
 */
import type { ExecutionStatus } from "../schemas/executions";
import type { ModelTotals, StatusCounts, StepStats, TelemetrySummary, WorkflowStats, WorkflowTotals } from "../schemas/telemetry";
import { EXECUTION_STATUSES } from "../schemas/vocabulary";
import { roundUsd } from "../lib/usd";
import { DAY_MS, EXECUTION_FIGURES, durationFacts, executionFacts, executionSums, usageFacts } from "./telemetry-facts";
import { firstUnsealableDay, sealStatements } from "./telemetry-seal";

export { DAY_MS };

export interface TelemetryQuery {
  tenant: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** The statuses in which an execution has ended (the state machine's terminal statuses). */
  endedStatuses: readonly ExecutionStatus[];
  /** Epoch ms: which days are over and may be sealed (src/store/telemetry-seal.ts); the wall clock when absent. */
  now?: number;
}

export type SummaryFigures = Omit<TelemetrySummary, "from" | "to">;
export type WorkflowStatsFigures = Omit<WorkflowStats, "workflow_id" | "from" | "to">;

/** What a read returned, and the D1 rows its statements read (logged with the request). */
export interface Measured<T> {
  figures: T;
  rowsRead: number;
}

/** A range as whole days `[dayFrom, dayTo)` (day numbers: epoch ms ÷ DAY_MS) and two raw ms ranges around them. */
export interface RangeParts {
  dayFrom: number;
  dayTo: number;
  raw: readonly [[number, number], [number, number]];
}

/**
 * Splits `[from, to)` into the whole UTC days it covers before `wholeBefore` (a day number: the days
 * that can be sealed) and the raw ranges before and after them. With no such day inside, the range
 * is all raw. Empty parts are empty intervals.
 */
export function rangeParts(from: number, to: number, wholeBefore = Infinity): RangeParts {
  const dayFrom = Math.ceil(from / DAY_MS);
  const dayTo = Math.min(Math.floor(to / DAY_MS), wholeBefore);
  if (dayFrom >= dayTo) return { dayFrom: 0, dayTo: 0, raw: [[from, to], [0, 0]] };
  return { dayFrom, dayTo, raw: [[from, dayFrom * DAY_MS], [dayTo * DAY_MS, to]] };
}

/**
 * SQL that reads the rollup rows of the whole days and the raw rows of the other parts, as one
 * UNION ALL of three range scans. Binds: ?1 tenant, ?2 ended statuses (JSON), ?3 the workflow id
 * (unread when every workflow is asked for), ?4–?5 the days, ?6–?9 the two raw ranges.
 */
function unionOfParts(rollup: string, raw: (lo: string, hi: string) => string): string {
  return `${rollup} UNION ALL ${raw("?6", "?7")} UNION ALL ${raw("?8", "?9")}`;
}

const nowOf = (q: TelemetryQuery): number => q.now ?? Date.now();
const partsOf = (q: TelemetryQuery): RangeParts => rangeParts(q.from, q.to, firstUnsealableDay(nowOf(q)));

function partBinds(q: TelemetryQuery, workflowId: string | undefined): (string | number | null)[] {
  const p = partsOf(q);
  return [q.tenant, JSON.stringify(q.endedStatuses), workflowId ?? null, p.dayFrom, p.dayTo, ...p.raw[0], ...p.raw[1]];
}

/**
 * A read's batch: the seal of the whole days it takes from the rollups first (a no-op once they are
 * sealed), then its statements. Returns the reads' results and the rows every statement read.
 */
async function readBatch(db: D1Database, q: TelemetryQuery, reads: D1PreparedStatement[]): Promise<{ results: D1Result<unknown>[]; rowsRead: number }> {
  const p = partsOf(q);
  const seal = sealStatements(db, { ...q, now: nowOf(q) }, p.dayFrom, p.dayTo);
  const all = await db.batch<unknown>([...seal, ...reads]);
  return { results: all.slice(seal.length), rowsRead: all.reduce((n, r) => n + r.meta.rows_read, 0) };
}

/** One workflow's rows (?3) when a workflow id is given, so that the scan seeks by workflow; else every row. */
const inWorkflow = (workflowId: string | undefined) => (workflowId !== undefined ? "workflow_id = ?3" : "1");
/** Executions (`e`) created in [lo, hi), of the workflow when one is given. */
const executionsIn = (workflowId: string | undefined) => (lo: string, hi: string) =>
  ["executions e", `e.tenant = ?1 AND e.created_at >= ${lo} AND e.created_at < ${hi} AND ${inWorkflow(workflowId)}`] as const;

// ---------------------------------------------------------------------------------------------
// Executions by workflow: the summary's totals, by_status and by_workflow, and a workflow's counts

type StatusGroupRow = Record<ExecutionStatus, number> & {
  workflow_id: string;
  executions: number;
  total_usd: number;
  input_tokens: number;
  output_tokens: number;
  /** Ended executions that started: how many, and the sum of their durations. */
  timed: number;
  duration_sum: number;
};

function executionGroups(db: D1Database, q: TelemetryQuery, workflowId: string | undefined): D1PreparedStatement {
  const rollup = `SELECT workflow_id, ${EXECUTION_FIGURES.join(", ")}
                  FROM execution_rollups WHERE tenant = ?1 AND day >= ?4 AND day < ?5 AND ${inWorkflow(workflowId)}`;
  const raw = (lo: string, hi: string) => executionFacts("e.workflow_id", ...executionsIn(workflowId)(lo, hi));
  const sql = `SELECT workflow_id, ${executionSums}
               FROM (${unionOfParts(rollup, raw)})
               GROUP BY workflow_id HAVING SUM(executions) > 0`;
  return db.prepare(sql).bind(...partBinds(q, workflowId));
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

function byStatusOf(rows: readonly StatusGroupRow[]): StatusCounts {
  return Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, rows.reduce((sum, r) => sum + r[s], 0)])) as StatusCounts;
}

const noTotals = (): Totals => ({ executions: 0, totalUsd: 0, inputTokens: 0, outputTokens: 0, timed: 0, durationSum: 0 });
const totalsOf = (rows: readonly StatusGroupRow[]): Totals => rows.reduce((t, r) => (addGroup(t, r), t), noTotals());
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
// The usage ledger by model or by step

interface UsageRow {
  key: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  total_usd: number;
}

/** Usage records by `model` (llm calls only) or by `step_id`, in the range by `time`. */
function usageGroups(db: D1Database, q: TelemetryQuery, workflowId: string | undefined, by: "model" | "step_id"): D1PreparedStatement {
  const rollup = `SELECT ${by} AS key, calls, input_tokens, output_tokens, total_usd FROM usage_rollups
                  WHERE tenant = ?1 AND day >= ?4 AND day < ?5 AND ${inWorkflow(workflowId)}`;
  const raw = (lo: string, hi: string) =>
    usageFacts(`COALESCE(u.${by}, '')`, "usage_records u", `u.tenant = ?1 AND u.time >= ${lo} AND u.time < ${hi} AND ${inWorkflow(workflowId)}`);
  const sql = `SELECT key, SUM(calls) AS calls, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
                      TOTAL(total_usd) AS total_usd
               FROM (${unionOfParts(rollup, raw)})
               WHERE key != '' GROUP BY key HAVING SUM(calls) > 0`;
  return db.prepare(sql).bind(...partBinds(q, workflowId));
}

// ---------------------------------------------------------------------------------------------
// GET /v1/telemetry/summary

/**
 * Totals and averages of the tenant's executions created in the range (one workflow's, with
 * `workflowId`), by status and by workflow, and its llm calls of the range by model. The totals are
 * sums of the by-workflow groups, so `by_workflow` adds up to them.
 */
export async function telemetrySummary(db: D1Database, q: TelemetryQuery & { workflowId?: string }): Promise<Measured<SummaryFigures>> {
  const { results, rowsRead } = await readBatch(db, q, [executionGroups(db, q, q.workflowId), usageGroups(db, q, q.workflowId, "model")]);
  const [groups, models] = results;
  const rows = groups!.results as StatusGroupRow[];
  const all = totalsOf(rows);
  const workflows: WorkflowTotals[] = rows.map((r) => {
    const t = totalsOf([r]);
    return { workflow_id: r.workflow_id, executions: t.executions, total_usd: roundUsd(t.totalUsd), avg_duration_ms: avgDuration(t) };
  });
  const byModel: ModelTotals[] = (models!.results as UsageRow[]).map((r) => ({
    model: r.key,
    calls: r.calls,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    total_usd: roundUsd(r.total_usd),
  }));
  return {
    figures: {
      executions: all.executions,
      by_status: byStatusOf(rows),
      total_usd: roundUsd(all.totalUsd),
      input_tokens: all.inputTokens,
      output_tokens: all.outputTokens,
      avg_cost_usd: avgCost(all),
      avg_duration_ms: avgDuration(all),
      by_workflow: workflows.sort(byCostThenName((w) => w.workflow_id)),
      by_model: byModel.sort(byCostThenName((m) => m.model)),
    },
    rowsRead,
  };
}

// ---------------------------------------------------------------------------------------------
// GET /v1/telemetry/workflows/{id}/stats

interface DurationRow {
  /** '' for the execution itself, else a step id. */
  step_id: string;
  runs: number;
  failures: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/**
 * Per step id ('' for the executions themselves): runs, failures, and the nearest-rank p50 and p95
 * and the largest of the durations, from the histograms of the whole days and the histogram the
 * partial days' rows make. Only ended executions carry step outcomes.
 */
function durationFigures(db: D1Database, q: TelemetryQuery, workflowId: string): D1PreparedStatement {
  const rollup = `SELECT step_id, ms, n, runs, failures FROM duration_rollups
                  WHERE tenant = ?1 AND workflow_id = ?3 AND day >= ?4 AND day < ?5`;
  const raw = (lo: string, hi: string) => durationFacts("", ...executionsIn(workflowId)(lo, hi));
  const sql = `WITH histogram AS (
                 SELECT step_id, ms, SUM(n) AS n, SUM(runs) AS runs, SUM(failures) AS failures
                 FROM (${unionOfParts(rollup, raw)}) GROUP BY step_id, ms
               ),
               ranked AS (
                 SELECT step_id, ms, n, runs, failures,
                        SUM(n) OVER (PARTITION BY step_id ORDER BY ms ROWS UNBOUNDED PRECEDING) AS below,
                        SUM(n) OVER (PARTITION BY step_id) AS total
                 FROM histogram
               )
               SELECT step_id, SUM(runs) AS runs, SUM(failures) AS failures,
                      MIN(CASE WHEN n > 0 AND below * 100 >= 50 * total THEN ms END) AS p50,
                      MIN(CASE WHEN n > 0 AND below * 100 >= 95 * total THEN ms END) AS p95,
                      MAX(CASE WHEN n > 0 THEN ms END) AS max
               FROM ranked GROUP BY step_id HAVING SUM(n) > 0 OR SUM(runs) > 0 OR SUM(failures) > 0`;
  return db.prepare(sql).bind(...partBinds(q, workflowId));
}

/**
 * One workflow's executions created in the range: counts by status, success rate (completed ÷
 * ended), duration percentiles, cost, and per-step figures (a step with outcomes or usage records in
 * the range appears, ordered by step id). A workflow with none in the range (or none at all) has
 * zeros and nulls.
 */
export async function workflowStats(db: D1Database, q: TelemetryQuery & { workflowId: string }): Promise<Measured<WorkflowStatsFigures>> {
  const { results, rowsRead } = await readBatch(db, q, [
    executionGroups(db, q, q.workflowId),
    durationFigures(db, q, q.workflowId),
    usageGroups(db, q, q.workflowId, "step_id"),
  ]);
  const [groups, durations, costs] = results;
  const rows = groups!.results as StatusGroupRow[];
  const all = totalsOf(rows);
  const byStatus = byStatusOf(rows);
  const ended = q.endedStatuses.reduce((sum, s) => sum + byStatus[s], 0);
  const figures = new Map((durations!.results as DurationRow[]).map((r) => [r.step_id, r]));
  const stepCosts = new Map((costs!.results as UsageRow[]).map((r) => [r.key, r.total_usd]));
  const execution = figures.get("");
  const stepIds = [...new Set([...figures.keys(), ...stepCosts.keys()])].filter((id) => id !== "").sort(byName);
  return {
    figures: {
      executions: all.executions,
      by_status: byStatus,
      success_rate: ended > 0 ? byStatus.completed / ended : null,
      duration_ms: { p50: execution?.p50 ?? null, p95: execution?.p95 ?? null, max: execution?.max ?? null },
      total_usd: roundUsd(all.totalUsd),
      avg_cost_usd: avgCost(all),
      steps: stepIds.map((id): StepStats => {
        const f = figures.get(id);
        return {
          step_id: id,
          runs: f?.runs ?? 0,
          failures: f?.failures ?? 0,
          duration_ms: { p50: f?.p50 ?? null, p95: f?.p95 ?? null },
          total_usd: roundUsd(stepCosts.get(id) ?? 0),
        };
      }),
    },
    rowsRead,
  };
}
