/**
 * Telemetry rollups (migration 0007): the daily rollups that triggers keep beside the index must give
 * exactly the figures a scan of the rows gives, for any range, after rows move through their
 * statuses, are re-sent at the same version, and are offered stale versions (which the guard
 * ignores), and after ledger records are flushed twice. Rows are written with the same statements
 * the execution objects' outbox flush uses; the expected figures are computed here from the final
 * rows, independently of the SQL.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TERMINAL_EXECUTION_STATUSES } from "../../src/engine/state-machine";
import type { ExecutionStatus } from "../../src/schemas/executions";
import { EXECUTION_STATUSES } from "../../src/schemas/vocabulary";
import { executionIndexStatements, type ExecutionIndexRow } from "../../src/store/executions";
import { DAY_MS, rangeParts, telemetrySummary, workflowStats } from "../../src/store/telemetry";
import { usageInsertStatement, type UsageIndexRow } from "../../src/store/usage";
import { durationBuckets, nearestRank } from "../helpers/telemetry";

const ENDED: readonly ExecutionStatus[] = TERMINAL_EXECUTION_STATUSES;
const HOUR = 3_600_000;

/** A small seeded PRNG (mulberry32), so that a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Seeded {
  rows: ExecutionIndexRow[];
  usage: UsageIndexRow[];
}

/**
 * `count` executions created over the 6 days before `base`, each written queued → running → its
 * last status as the outbox writes them, its last row re-sent and then an older version offered;
 * their llm calls and declared step costs flushed twice.
 */
async function seed(tenant: string, base: number, count: number, rand: () => number, idPrefix = "ex"): Promise<Seeded> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const rows: ExecutionIndexRow[] = [];
  const usage: UsageIndexRow[] = [];
  for (let i = 0; i < count; i++) {
    const createdAt = base - Math.floor(rand() * 6 * DAY_MS);
    const first: ExecutionIndexRow = {
      tenant, id: `${idPrefix}_${i}`, workflowId: pick(["w1", "w2", "w3"]), workflowVersion: 1, status: "queued", labels: {},
      errorCode: null, costUsd: null, inputTokens: null, outputTokens: null, createdAt, startedAt: null, endedAt: null, stateVersion: 1,
    };
    const started = rand() < 0.9 ? createdAt + Math.floor(rand() * 3) * 5 : null;
    const running: ExecutionIndexRow = { ...first, status: started === null ? "pending_approval" : "running", startedAt: started, stateVersion: 2 };
    const last = pick<ExecutionStatus>([...ENDED, ...ENDED, "waiting", "paused", "running"]);
    const ended = ENDED.includes(last);
    const final: ExecutionIndexRow = {
      ...running,
      status: last,
      stateVersion: 3,
      costUsd: rand() < 0.2 ? null : Math.round(rand() * 1000) / 1000,
      inputTokens: Math.floor(rand() * 500),
      outputTokens: Math.floor(rand() * 200),
      endedAt: ended ? createdAt + 60 + Math.floor(rand() * 8) * 10 : null,
      steps: ended
        ? ["s1", "s2", "s3"].map((id) => {
            const attempts = Math.floor(rand() * 3);
            return { id, status: attempts === 0 ? "skipped" : pick(["completed", "failed"]), attempts, duration_ms: attempts === 0 ? null : Math.floor(rand() * 8) * 5 };
          })
        : undefined,
    };
    await env.DB.batch([first, running, final, final, running].flatMap((r) => executionIndexStatements(env.DB, [r], createdAt)));
    rows.push(final);
    for (const [call, model] of [[1, "m-a"], [2, rand() < 0.5 ? "m-b" : null]] as const) {
      usage.push({
        tenant, executionId: final.id, workflowId: final.workflowId, stepId: pick(["s1", "s2", "s3"]), item: -1, attempt: 1, call, model,
        inputTokens: model ? 10 * call : 0, outputTokens: model ? 3 : 0, costUsd: rand() < 0.1 ? null : Math.round(rand() * 100) / 1000,
        price: null, time: createdAt + Math.floor(rand() * 2 * HOUR),
      });
    }
  }
  for (let flush = 0; flush < 2; flush++) await env.DB.batch(usage.map((u) => usageInsertStatement(env.DB, u)));
  return { rows, usage };
}

/** The figures a scan of the final rows gives; durations as `bucket` reports them. */
function expected(s: Seeded, from: number, to: number, workflow: string, bucket: (ms: number | null) => number | null) {
  const inRange = s.rows.filter((r) => r.createdAt >= from && r.createdAt < to);
  const usage = s.usage.filter((u) => u.time >= from && u.time < to);
  const durationOf = (r: ExecutionIndexRow) => (ENDED.includes(r.status) && r.startedAt !== null && r.endedAt !== null ? r.endedAt - r.startedAt : null);
  const byStatus = (rows: readonly ExecutionIndexRow[]) => Object.fromEntries(EXECUTION_STATUSES.map((st) => [st, rows.filter((r) => r.status === st).length]));
  const sum = (xs: readonly (number | null | undefined)[]) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);
  const durations = inRange.map(durationOf).filter((d): d is number => d !== null);
  const models = [...new Set(usage.flatMap((u) => (u.model ? [u.model] : [])))].sort();
  const mine = inRange.filter((r) => r.workflowId === workflow);
  const mineDurations = mine.map(durationOf).filter((d): d is number => d !== null);
  const outcomes = mine.flatMap((r) => r.steps ?? []);
  const stepIds = [...new Set([...outcomes.map((o) => o.id), ...usage.filter((u) => u.workflowId === workflow).map((u) => u.stepId)])].sort();
  return {
    summary: {
      executions: inRange.length,
      by_status: byStatus(inRange),
      total_usd: sum(inRange.map((r) => r.costUsd)),
      input_tokens: sum(inRange.map((r) => r.inputTokens)),
      avg_duration_ms: durations.length ? sum(durations) / durations.length : null,
      by_workflow: ["w1", "w2", "w3"].filter((w) => inRange.some((r) => r.workflowId === w)).map((w) => ({ workflow_id: w, executions: inRange.filter((r) => r.workflowId === w).length })),
      by_model: models.map((m) => ({ model: m, calls: usage.filter((u) => u.model === m).length, total_usd: sum(usage.filter((u) => u.model === m).map((u) => u.costUsd)) })),
    },
    stats: {
      executions: mine.length,
      by_status: byStatus(mine),
      duration_ms: { p50: bucket(nearestRank(mineDurations, 50)), p95: bucket(nearestRank(mineDurations, 95)), max: bucket(mineDurations.length ? Math.max(...mineDurations) : null) },
      steps: stepIds.map((id) => {
        const of = outcomes.filter((o) => o.id === id);
        const ms = of.flatMap((o) => (o.duration_ms === null ? [] : [o.duration_ms]));
        return {
          step_id: id,
          runs: of.filter((o) => o.attempts > 0).length,
          failures: of.filter((o) => o.status === "failed").length,
          duration_ms: { p50: bucket(nearestRank(ms, 50)), p95: bucket(nearestRank(ms, 95)) },
          total_usd: sum(usage.filter((u) => u.workflowId === workflow && u.stepId === id).map((u) => u.costUsd)),
        };
      }),
    },
  };
}

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
    const bucket = await durationBuckets();
    let compared = 0;
    for (const [from, to] of ranges) {
      const want = expected(s, from, to, "w1", bucket);
      expect(want.summary.executions, "each range holds executions").toBeGreaterThan(0);
      const q = { tenant, from, to, endedStatuses: ENDED };
      const { figures: summary } = await telemetrySummary(env.DB, q);
      const { figures: stats } = await workflowStats(env.DB, { ...q, workflowId: "w1" });
      const where = `range ${new Date(from).toISOString()} – ${new Date(to).toISOString()}`;

      expect(summary.executions, where).toBe(want.summary.executions);
      expect(summary.by_status, where).toEqual(want.summary.by_status);
      expect(summary.total_usd, where).toBeCloseTo(want.summary.total_usd, 9);
      expect(summary.input_tokens, where).toBe(want.summary.input_tokens);
      if (want.summary.avg_duration_ms === null) expect(summary.avg_duration_ms, where).toBeNull();
      else expect(summary.avg_duration_ms, where).toBeCloseTo(want.summary.avg_duration_ms, 6);
      expect(summary.by_workflow.map((w) => ({ workflow_id: w.workflow_id, executions: w.executions })).sort((a, b) => a.workflow_id.localeCompare(b.workflow_id)), where).toEqual(want.summary.by_workflow);
      const models = [...summary.by_model].sort((a, b) => a.model.localeCompare(b.model));
      expect(models.map((m) => ({ model: m.model, calls: m.calls })), where).toEqual(want.summary.by_model.map((m) => ({ model: m.model, calls: m.calls })));
      models.forEach((m, i) => expect(m.total_usd, where).toBeCloseTo(want.summary.by_model[i]!.total_usd, 9));

      expect(stats.executions, where).toBe(want.stats.executions);
      expect(stats.by_status, where).toEqual(want.stats.by_status);
      expect(stats.duration_ms, where).toEqual(want.stats.duration_ms);
      expect(stats.steps.map(({ total_usd: _, ...rest }) => rest), where).toEqual(want.stats.steps.map(({ total_usd: _, ...rest }) => rest));
      stats.steps.forEach((st, i) => expect(st.total_usd, where).toBeCloseTo(want.stats.steps[i]!.total_usd, 9));
      compared++;
    }
    expect(compared).toBe(ranges.length);
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

  it("writes a rollup row only for what changed: nothing for a re-sent row, one row for a cost re-sent on an ended row", async () => {
    const tenant = `tel-rollup-writes-${crypto.randomUUID()}`;
    const t0 = Date.UTC(2026, 10, 18, 10);
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
    await written(running);
    const end = await written(ended);
    const same = await written(ended);
    const recosted = await written({ ...ended, costUsd: 0.5 });
    // The end wrote the day's execution rollup and four histogram rows (the execution and three steps) beyond the row itself.
    expect(end - same).toBeGreaterThanOrEqual(1 + 4);
    // A cost re-sent on the ended row: its day's execution rollup only.
    expect(recosted - same).toBe(1);
    const { figures } = await workflowStats(env.DB, { tenant, from: Date.UTC(2026, 10, 18), to: Date.UTC(2026, 10, 19), endedStatuses: ENDED, workflowId: "w" });
    const bucket = await durationBuckets();
    expect(figures).toMatchObject({ executions: 1, total_usd: 0.5, duration_ms: { p50: bucket(500), p95: bucket(500), max: bucket(500) } });
    expect(figures.steps.map((x) => [x.step_id, x.runs, x.duration_ms.p50])).toEqual([["a", 1, 7], ["b", 1, 7], ["c", 1, 7]]);
  });
});
