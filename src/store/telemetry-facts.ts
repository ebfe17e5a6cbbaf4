/**
 * What one index row or ledger record adds to the telemetry rollups, as SQL: the single definition
 * that both a read (for the raw rows of the days it does not take from the rollups) and a seal (which
 * builds a day's rollups from its raw rows in bulk, src/store/telemetry-seal.ts) select from. The
 * per-row triggers of migrations 0009 and 0012 compute the same figures for rows written after a seal;
 * test/store/telemetry-rollups checks that the three agree with a scan.
 *
 * Every fragment reads executions as `e` and usage records as `u`, and expects ?1 = tenant and ?2 =
 * the ended statuses (a JSON array) bound in its statement.
 */
import { EXECUTION_STATUSES } from "../schemas/vocabulary";

export const DAY_MS = 86_400_000;

export const isEnded = (column = "status") => `${column} IN (SELECT value FROM json_each(?2))`;
/** The middle of the duration bucket that `ms` falls in (migration 0007's duration_buckets), as the rollups hold it. */
export const bucketOf = (ms: string) => `(SELECT value FROM duration_buckets WHERE lo <= ${ms} ORDER BY lo DESC LIMIT 1)`;
/** An ended execution's duration; NULL while it runs or when it never started. */
export const durationOf = (e = "") => `CASE WHEN ${isEnded(`${e}status`)} THEN ${e}ended_at - ${e}started_at END`;

/** execution_rollups' figure columns, in order. */
export const EXECUTION_FIGURES = ["executions", ...EXECUTION_STATUSES, "total_usd", "input_tokens", "output_tokens", "timed", "duration_sum"] as const;

/** The sums of the execution figures over a group (TOTAL for the real-valued ones, as the rollups add them). */
export const executionSums = EXECUTION_FIGURES.map((c) => `${c === "total_usd" || c === "duration_sum" ? "TOTAL" : "SUM"}(${c}) AS ${c}`).join(", ");

/**
 * Per execution of `from … where`: the `keys` columns, then one row's execution figures (1 execution,
 * 1 in its status's column, its cost and tokens, 1 timed and its duration when it ended after starting).
 */
export function executionFacts(keys: string, from: string, where: string): string {
  return `SELECT ${keys}, 1 AS executions, ${EXECUTION_STATUSES.map((s) => `e.status = '${s}' AS ${s}`).join(", ")},
                 COALESCE(e.cost_usd, 0) AS total_usd, COALESCE(e.input_tokens, 0) AS input_tokens,
                 COALESCE(e.output_tokens, 0) AS output_tokens, ${durationOf("e.")} IS NOT NULL AS timed,
                 COALESCE(${durationOf("e.")}, 0) AS duration_sum
          FROM ${from} WHERE ${where}`;
}

/**
 * Per execution of `from … where`, the histogram entries it adds (`keys` if any, step_id, ms, n, runs,
 * failures): its own duration's bucket (step_id ''), when it ended after starting, and one entry per
 * step outcome it carries (ms −1 and n 0 when the step recorded no duration).
 */
export function durationFacts(keys: string, from: string, where: string): string {
  const step = (path: string) => `json_extract(s.value, '$.${path}')`;
  const lead = keys === "" ? "" : `${keys}, `;
  return `SELECT ${lead}'' AS step_id, ${bucketOf(durationOf("e."))} AS ms, 1 AS n, 0 AS runs, 0 AS failures
          FROM ${from} WHERE ${where} AND ${durationOf("e.")} >= 0
          UNION ALL
          SELECT ${lead}${step("id")}, CASE WHEN ${step("duration_ms")} >= 0 THEN ${bucketOf(step("duration_ms"))} ELSE -1 END,
                 COALESCE(${step("duration_ms")} >= 0, 0), COALESCE(${step("attempts")} > 0, 0), COALESCE(${step("status")} = 'failed', 0)
          FROM ${from}, json_each(CASE WHEN json_valid(e.steps) THEN e.steps END) AS s
          WHERE ${where} AND ${step("id")} IS NOT NULL`;
}

/** Per usage record of `from … where`: the `keys` columns, then 1 call, its tokens and its cost (NULL: 0). */
export function usageFacts(keys: string, from: string, where: string): string {
  return `SELECT ${keys}, 1 AS calls, u.input_tokens AS input_tokens, u.output_tokens AS output_tokens, COALESCE(u.cost_usd, 0) AS total_usd
          FROM ${from} WHERE ${where}`;
}
