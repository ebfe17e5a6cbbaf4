/**
 * Sealing a tenant's days (migration 0012): a day's telemetry rollups are built once, in bulk, from
 * its raw rows, by the first read that takes the whole day from the rollups — instead of row by row
 * as every execution is written (which cost an ended 20-step execution 22 or 23 D1 rows). After the seal,
 * the triggers add the changes of the day's late rows (an execution that ends after it, a usage
 * record that arrives after it) one by one.
 *
 * Invariants:
 * - A day is sealed when its `rollup_days` row exists; its rollups are then complete. A day without
 *   that row has no rollup rows at all (reads take it raw).
 * - Each statement builds only the days of its span that are not sealed yet, and the last one seals
 *   them; a D1 batch is one transaction and D1 runs one at a time, so a day is built exactly once
 *   however many reads seal it at the same moment, and every index write falls either before the seal
 *   (it is in the bulk build, and fired no trigger) or after it (its trigger adds it): never both.
 * - Only days that are over are sealed, and only `SEAL_GRACE_MS` after their end, so the executions of
 *   a day that are still running when it ends mostly end before the seal and cost no rollup row.
 */
import { DAY_MS, durationFacts, executionFacts, executionSums, EXECUTION_FIGURES, usageFacts } from "./telemetry-facts";

/**
 * How long after a day's end it may be sealed. Until then a read takes it raw (exact, at the price of
 * reading its rows); an execution of a sealed day that changes later pays a few rollup rows.
 */
export const SEAL_GRACE_MS = 3_600_000;

/** The first day (epoch ms ÷ DAY_MS) that cannot be sealed yet at `now`: days before it are over, grace included. */
export function firstUnsealableDay(now: number): number {
  return Math.floor((now - SEAL_GRACE_MS) / DAY_MS);
}

/**
 * The span's days not sealed yet (`todo`). Binds: ?1 tenant, ?3–?4 the days [from, to). Once every
 * day is sealed (nearly every read), one count of the span's `rollup_days` rows stops it before it
 * walks the days: a 92-day read then reads about 92 rows per statement, not 180 to 460.
 */
const TODO = `WITH RECURSIVE span(day) AS (SELECT ?3 WHERE (SELECT COUNT(*) FROM rollup_days WHERE tenant = ?1 AND day >= ?3 AND day < ?4) < ?4 - ?3
                                  UNION ALL SELECT day + 1 FROM span WHERE day + 1 < ?4),
                   todo(day) AS (SELECT day FROM span WHERE NOT EXISTS (SELECT 1 FROM rollup_days r WHERE r.tenant = ?1 AND r.day = span.day))`;

/** The rows of the `todo` days (CROSS JOIN: day by day, each an index range). */
const executionsOfTodo = ["todo CROSS JOIN executions e", `e.tenant = ?1 AND e.created_at >= todo.day * ${DAY_MS} AND e.created_at < (todo.day + 1) * ${DAY_MS}`] as const;
const usageOfTodo = ["todo CROSS JOIN usage_records u", `u.tenant = ?1 AND u.time >= todo.day * ${DAY_MS} AND u.time < (todo.day + 1) * ${DAY_MS}`] as const;

const BUILD_EXECUTION_ROLLUPS = `${TODO}
  INSERT INTO execution_rollups (tenant, day, workflow_id, ${EXECUTION_FIGURES.join(", ")})
  SELECT ?1, day, workflow_id, ${executionSums}
  FROM (${executionFacts(`e.created_at / ${DAY_MS} AS day, e.workflow_id AS workflow_id`, ...executionsOfTodo)})
  GROUP BY day, workflow_id`;

// Entries that add nothing (a step that never ran, had no duration and did not fail) are left out.
const BUILD_DURATION_ROLLUPS = `${TODO}
  INSERT INTO duration_rollups (tenant, workflow_id, day, step_id, ms, n, runs, failures)
  SELECT ?1, workflow_id, day, step_id, ms, SUM(n), SUM(runs), SUM(failures)
  FROM (${durationFacts(`e.workflow_id AS workflow_id, e.created_at / ${DAY_MS} AS day`, ...executionsOfTodo)})
  GROUP BY workflow_id, day, step_id, ms HAVING SUM(n) != 0 OR SUM(runs) != 0 OR SUM(failures) != 0`;

const BUILD_USAGE_ROLLUPS = `${TODO}
  INSERT INTO usage_rollups (tenant, day, workflow_id, model, step_id, calls, input_tokens, output_tokens, total_usd)
  SELECT ?1, day, workflow_id, model, step_id, SUM(calls), SUM(input_tokens), SUM(output_tokens), TOTAL(total_usd)
  FROM (${usageFacts(`u.time / ${DAY_MS} AS day, u.workflow_id AS workflow_id, COALESCE(u.model, '') AS model, u.step_id AS step_id`, ...usageOfTodo)})
  GROUP BY day, workflow_id, model, step_id`;

/** Last: the days built above are sealed (?2: when). */
const SEAL = `${TODO} INSERT INTO rollup_days (tenant, day, sealed_at) SELECT ?1, day, ?2 FROM todo`;

/**
 * The statements that seal the tenant's days `[dayFrom, dayTo)` which are not sealed yet, to run
 * first in a read's batch (none for an empty span). Once the days are sealed they build nothing and
 * read about one `rollup_days` row per day.
 */
export function sealStatements(
  db: D1Database,
  q: { tenant: string; endedStatuses: readonly string[]; now: number },
  dayFrom: number,
  dayTo: number,
): D1PreparedStatement[] {
  if (dayFrom >= dayTo) return [];
  const ended = JSON.stringify(q.endedStatuses);
  return [
    db.prepare(BUILD_EXECUTION_ROLLUPS).bind(q.tenant, ended, dayFrom, dayTo),
    db.prepare(BUILD_DURATION_ROLLUPS).bind(q.tenant, ended, dayFrom, dayTo),
    db.prepare(BUILD_USAGE_ROLLUPS).bind(q.tenant, ended, dayFrom, dayTo),
    db.prepare(SEAL).bind(q.tenant, q.now, dayFrom, dayTo),
  ];
}
