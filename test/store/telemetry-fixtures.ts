/**
 * Shared by the telemetry store tests: a seeded tenant whose rows are written with the statements the
 * execution objects' outbox flush uses (moves, re-sends and stale versions included), the figures a
 * scan of its final rows gives (computed here, independently of the SQL), and the check that the
 * reads give exactly those figures.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { TERMINAL_EXECUTION_STATUSES } from "../../src/engine/state-machine";
import type { ExecutionStatus } from "../../src/schemas/executions";
import { EXECUTION_STATUSES } from "../../src/schemas/vocabulary";
import { executionIndexStatements, type ExecutionIndexRow } from "../../src/store/executions";
import { DAY_MS, telemetrySummary, workflowStats } from "../../src/store/telemetry";
import { usageInsertStatement, type UsageIndexRow } from "../../src/store/usage";
import { durationBuckets, nearestRank } from "../helpers/telemetry";

export const ENDED: readonly ExecutionStatus[] = TERMINAL_EXECUTION_STATUSES;
export const HOUR = 3_600_000;

/** A small seeded PRNG (mulberry32), so that a failure reproduces. */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Seeded {
  rows: ExecutionIndexRow[];
  usage: UsageIndexRow[];
}

/**
 * `count` executions created over the 6 days before `base`, each written queued → running → its
 * last status as the outbox writes them, its last row re-sent and then an older version offered;
 * their llm calls and declared step costs flushed twice.
 */
export async function seed(tenant: string, base: number, count: number, rand: () => number, idPrefix = "ex"): Promise<Seeded> {
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
export function expected(s: Seeded, from: number, to: number, workflow: string, bucket: (ms: number | null) => number | null) {
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

/**
 * Reads the summary and workflow w1's stats of each range (at `now`: which days may be sealed) and
 * expects exactly the figures a scan of `s` gives.
 */
export async function expectExactFigures(s: Seeded, tenant: string, ranges: readonly (readonly [number, number])[], label: string, now?: number): Promise<void> {
  const bucket = await durationBuckets();
  for (const [from, to] of ranges) {
    const want = expected(s, from, to, "w1", bucket);
    expect(want.summary.executions, "each range holds executions").toBeGreaterThan(0);
    const q = { tenant, from, to, endedStatuses: ENDED, now };
    const { figures: summary } = await telemetrySummary(env.DB, q);
    const { figures: stats } = await workflowStats(env.DB, { ...q, workflowId: "w1" });
    const where = `${label}: range ${new Date(from).toISOString()} – ${new Date(to).toISOString()}`;

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
  }
}
