/**
 * Telemetry rollups (migrations 0007, 0009, 0012): the daily rollups — built in bulk when a read first
 * seals a day, then kept by triggers for the day's late rows — must give exactly the figures a scan of
 * the rows gives, for any range, after rows move through their statuses, are re-sent at the same
 * version, and are offered stale versions (which the guard ignores), and after ledger records are
 * flushed twice (test/store/telemetry-fixtures.ts). Sealing itself, late rows and concurrent seals:
 * telemetry-seal.test.ts.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { executionIndexStatements, type ExecutionIndexRow } from "../../src/store/executions";
import { DAY_MS, rangeParts, telemetrySummary, workflowStats } from "../../src/store/telemetry";
import { durationBuckets } from "../helpers/telemetry";
import { ENDED, HOUR, expectExactFigures, random, seed } from "./telemetry-fixtures";

describe("telemetry rollups", () => {
  it("the triggers' ended statuses are the state machine's terminal statuses", () => {
    const rollupSql = env.TEST_MIGRATIONS.filter((m) => m.name.includes("rollup")).flatMap((m) => m.queries).join("\n");
    const lists = [...rollupSql.matchAll(/status IN \(([^)]*)\)/g)].map((m) =>
      m[1]!.split(",").map((s) => s.trim().replace(/'/g, "")).sort(),
    );
    expect(lists.length).toBeGreaterThanOrEqual(6);
    for (const list of lists) expect(list).toEqual([...ENDED].sort());
  });

  it("a range splits into the whole UTC days inside it and the partial days at its ends", () => {
    const d = (n: number, h = 0) => n * DAY_MS + h * HOUR;
    expect(rangeParts(d(10, 5), d(13, 7))).toEqual({ dayFrom: 11, dayTo: 13, raw: [[d(10, 5), d(11)], [d(13), d(13, 7)]] });
    expect(rangeParts(d(10), d(12))).toEqual({ dayFrom: 10, dayTo: 12, raw: [[d(10), d(10)], [d(12), d(12)]] });
    // No whole day inside (even across midnight): all raw.
    expect(rangeParts(d(10, 20), d(11, 4))).toEqual({ dayFrom: 0, dayTo: 0, raw: [[d(10, 20), d(11, 4)], [0, 0]] });
    // Whole days that cannot be sealed yet (day 12 on) are read raw with the partial day after them.
    expect(rangeParts(d(10, 5), d(13, 7), 12)).toEqual({ dayFrom: 11, dayTo: 12, raw: [[d(10, 5), d(11)], [d(12), d(13, 7)]] });
    expect(rangeParts(d(10, 5), d(13, 7), 11)).toEqual({ dayFrom: 0, dayTo: 0, raw: [[d(10, 5), d(13, 7)], [0, 0]] });
  });

  it("figures read through the rollups equal a scan of the final rows, for ranges cut anywhere", async () => {
    const rand = random(20261129);
    const tenant = `tel-rollup-${crypto.randomUUID()}`;
    const base = Date.UTC(2026, 10, 20, 13, 17, 5);
    const s = await seed(tenant, base, 150, rand);
    const ranges: [number, number][] = [
      [base - 7 * DAY_MS, base + DAY_MS], // everything, whole days and two partial ones
      [Date.UTC(2026, 10, 15), Date.UTC(2026, 10, 19)], // whole days only
      [base - 3 * DAY_MS - 5 * HOUR, base - DAY_MS + 2 * HOUR], // cut mid-day at both ends
      [base - 30 * HOUR, base - 8 * HOUR], // no whole day inside, across midnight
      [Date.UTC(2026, 10, 17, 0, 0, 0, 1), Date.UTC(2026, 10, 17, 23, 59, 59, 999)], // one day less its ends
    ];
    await expectExactFigures(s, tenant, ranges, "sealed on the first read");
  });

  it("a read over whole days reads rollup rows: twice the executions, about the same rows read", async () => {
    const rand = random(7);
    const tenant = `tel-rollup-rows-${crypto.randomUUID()}`;
    const base = Date.UTC(2026, 10, 20, 12);
    const q = { tenant, from: Date.UTC(2026, 10, 10), to: Date.UTC(2026, 10, 21), endedStatuses: ENDED };
    const read = async () => ({
      summary: await telemetrySummary(env.DB, q),
      stats: await workflowStats(env.DB, { ...q, workflowId: "w1" }),
    });
    await seed(tenant, base, 400, rand, "a");
    await read(); // seals the days: builds their rollups from the 400 rows
    const first = await read();
    await seed(tenant, base, 400, rand, "b");
    const second = await read();
    expect([first.summary.figures.executions, second.summary.figures.executions]).toEqual([400, 800]);
    console.info(`rows read over whole days, 400 → 800 executions: summary ${first.summary.rowsRead} → ${second.summary.rowsRead}, stats ${first.stats.rowsRead} → ${second.stats.rowsRead}`);
    // The rollup rows are one per day, workflow (and model and step, or step and duration): with the
    // same days, workflows, models, steps and durations, they barely grow.
    expect(second.summary.rowsRead).toBeLessThan(1.25 * first.summary.rowsRead);
    expect(second.stats.rowsRead).toBeLessThan(1.25 * first.stats.rowsRead);
  });

  // D1 bills every row an index write touches: the row, each index entry whose columns the statement
  // sets (the primary key's and the three listing indexes' on insert; executions_by_status on every
  // update, since the upsert sets `status`), and the rollup rows its triggers write.
  it.each([
    { day: "unsealed", insert: 5, end: 2, recost: 2 },
    // A sealed day's late row: the day's execution rollup on each change that moves a figure, and,
    // when it ends, four histogram rows (the execution and three steps).
    { day: "sealed", insert: 5 + 2, end: 2 + 1 + 4, recost: 2 + 1 },
  ])("rows written on an $day day: the insert, the end, nothing for a replayed row, a re-costed row", async ({ day, insert, end, recost }) => {
    const tenant = `tel-rollup-writes-${crypto.randomUUID()}`;
    const t0 = Date.UTC(2026, 10, 18, 10);
    const q = { tenant, from: Date.UTC(2026, 10, 18), to: Date.UTC(2026, 10, 19), endedStatuses: ENDED };
    if (day === "sealed") await workflowStats(env.DB, { ...q, workflowId: "w" }); // seals the (empty) day
    const steps = ["a", "b", "c"].map((id) => ({ id, status: "completed", attempts: 1, duration_ms: 7 }));
    const running: ExecutionIndexRow = {
      tenant, id: "ex_w", workflowId: "w", workflowVersion: 1, status: "running", labels: {}, errorCode: null, costUsd: null,
      inputTokens: null, outputTokens: null, createdAt: t0, startedAt: t0, endedAt: null, stateVersion: 2,
    };
    const ended: ExecutionIndexRow = { ...running, status: "completed", endedAt: t0 + 500, stateVersion: 3, costUsd: 0.25, steps };
    const written = async (row: ExecutionIndexRow) => {
      const results = await env.DB.batch(executionIndexStatements(env.DB, [row], t0));
      return results.reduce((n, r) => n + r.meta.rows_written, 0);
    };
    expect(await written(running)).toBe(insert);
    expect(await written(ended)).toBe(end);
    // A flush retried after D1 applied it (the same row, the same version), or an older version: nothing.
    expect(await written(ended)).toBe(0);
    expect(await written(running)).toBe(0);
    expect(await written({ ...ended, costUsd: 0.5 })).toBe(recost);
    const { figures } = await workflowStats(env.DB, { ...q, workflowId: "w" });
    const bucket = await durationBuckets();
    expect(figures).toMatchObject({ executions: 1, total_usd: 0.5, duration_ms: { p50: bucket(500), p95: bucket(500), max: bucket(500) } });
    expect(figures.steps.map((x) => [x.step_id, x.runs, x.duration_ms.p50])).toEqual([["a", 1, 7], ["b", 1, 7], ["c", 1, 7]]);
  });
});
