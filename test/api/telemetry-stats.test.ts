/**
 * Telemetry (SPEC §7) through the real app and real D1: `GET /v1/telemetry/workflows/{id}/stats`
 * against a seeded tenant (test/helpers/telemetry.ts), figures across days sealed by a read (migration
 * 0012), and the D1 rows each telemetry request logs.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecutionStatus } from "../../src/schemas/executions";
import { executionIndexStatements } from "../../src/store/executions";
import { usageInsertStatement } from "../../src/store/usage";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import {
  DAY, ENDED, HOUR, counts, durationBuckets, iso, nearestRank, range, requestLogs, seedExecutions, seedUsage, statsOf, summaryOf,
  type ExecutionSeed, type StepOutcome, type UsageSeed,
} from "../helpers/telemetry";

type StatsSeed = { executions: ExecutionSeed[]; usage: UsageSeed[]; from: number; to: number };
const outcome = (id: string, status: string, attempts: number, duration_ms: number | null): StepOutcome => ({ id, status, attempts, duration_ms });

function statsSeed(now: number): StatsSeed {
  const from = now - 6 * HOUR;
  const base = from + HOUR;
  const executions: ExecutionSeed[] = [];
  const usage: UsageSeed[] = [];
  for (let i = 0; i < 37; i++) {
    const status: ExecutionStatus = i % 9 === 4 ? "failed" : i % 13 === 6 ? "cancelled" : i % 11 === 3 ? "partial" : "completed";
    const created = base + i * 1_000;
    const started = created + 3;
    const duration = ((i * 7_919) % 4_000) + 100 + (i % 5 === 0 ? 250 : 0); // varied, with some ties
    const classifyMs = ((i * 53) % 900) + 1;
    const steps = [
      outcome("fetch", "completed", i % 3 === 0 ? 2 : 1, (i * 37) % 300),
      status === "failed"
        ? outcome("classify", "failed", 2, classifyMs)
        : status === "cancelled"
          ? outcome("classify", "cancelled", 1, null) // cut off: never ended
          : outcome("classify", "completed", 1, classifyMs),
      status === "completed" ? outcome("notify", "completed", 1, i % 4) : outcome("notify", "skipped", 0, null),
    ];
    const id = `ex_g${String(i).padStart(2, "0")}`;
    executions.push({ id, workflow: "gamma", status, created, started, ended: started + duration, cost: 0.001 * (i % 4), input: i, output: 2 * i, steps });
    usage.push({ execution: id, workflow: "gamma", step: "classify", model: "m-small", input: i, output: 2 * i, cost: 0.001 * (i % 4), time: started + 10 });
    if (i % 6 === 0) usage.push({ execution: id, workflow: "gamma", step: "fetch", model: null, cost: 0.0002, time: started + 5 });
  }
  executions.push(
    // Running: counted, not ended, no steps yet; its call so far counts for its step.
    { id: "ex_grun", workflow: "gamma", status: "running", created: base + 40_000, started: base + 40_001 },
    // Ended without starting (rejected at its approval gate): ended, no duration; no step ran.
    { id: "ex_grej", workflow: "gamma", status: "rejected", created: base + 41_000, ended: base + 41_500, steps: ["fetch", "classify", "notify"].map((id) => outcome(id, "pending", 0, null)) },
    // Indexed before rows carried steps (and costs): it counts and has a duration, but no step figures.
    { id: "ex_gold", workflow: "gamma", status: "completed", created: base + 42_000, started: base + 42_000, ended: base + 42_777 },
    // Outside the range, and another workflow: neither counts.
    { id: "ex_gout", workflow: "gamma", status: "failed", created: from - 1, started: from, ended: from + 99_999, cost: 5, steps: [outcome("fetch", "failed", 3, 99_999)] },
    { id: "ex_other", workflow: "other", status: "failed", created: base, started: base, ended: base + 88_888, cost: 7, steps: [outcome("fetch", "failed", 1, 88_888)] },
  );
  usage.push(
    { execution: "ex_grun", workflow: "gamma", step: "classify", model: "m-small", cost: 0.004, time: base + 40_010 },
    { execution: "ex_grun", workflow: "gamma", step: "summarise", model: "m-unpriced", cost: null, time: base + 40_020 }, // a step only the ledger knows so far
    { execution: "ex_gout", workflow: "gamma", step: "fetch", model: null, cost: 5, time: from - 1 },
    { execution: "ex_other", workflow: "other", step: "fetch", model: "m-big", cost: 7, time: base },
  );
  return { executions, usage, from, to: now };
}

/** What the stats must say, computed from the seed in plain JS; durations as `bucket` reports them. */
function expectedStats(seed: StatsSeed, bucket: (ms: number | null) => number | null) {
  const inRange = seed.executions.filter((e) => e.workflow === "gamma" && e.created >= seed.from && e.created < seed.to);
  const ended = inRange.filter((e) => ENDED.includes(e.status));
  const durations = ended.filter((e) => e.started != null && e.ended != null).map((e) => e.ended! - e.started!);
  const byStatus = counts({});
  for (const e of inRange) byStatus[e.status] += 1;
  const totalUsd = inRange.reduce((n, e) => n + (e.cost ?? 0), 0);
  const usage = seed.usage.filter((u) => u.workflow === "gamma" && u.time >= seed.from && u.time < seed.to);
  const stepIds = [...new Set([...inRange.flatMap((e) => (e.steps ?? []).map((s) => s.id)), ...usage.map((u) => u.step)])].sort();
  const steps = stepIds.map((stepId) => {
    const outcomes = inRange.flatMap((e) => (e.steps ?? []).filter((s) => s.id === stepId));
    const ms = outcomes.flatMap((s) => (s.duration_ms === null ? [] : [s.duration_ms]));
    return {
      step_id: stepId,
      runs: outcomes.filter((s) => s.attempts > 0).length,
      failures: outcomes.filter((s) => s.status === "failed").length,
      duration_ms: { p50: bucket(nearestRank(ms, 50)), p95: bucket(nearestRank(ms, 95)) },
      total_usd: usage.filter((u) => u.step === stepId).reduce((n, u) => n + (u.cost ?? 0), 0),
    };
  });
  return {
    executions: inRange.length,
    by_status: byStatus,
    success_rate: byStatus.completed / ended.length,
    durations,
    duration_ms: { p50: bucket(nearestRank(durations, 50)), p95: bucket(nearestRank(durations, 95)), max: bucket(Math.max(...durations)) },
    total_usd: totalUsd,
    avg_cost_usd: totalUsd / inRange.length,
    steps,
  };
}

describe("GET /v1/telemetry/workflows/{id}/stats", () => {
  it("counts, success rate, nearest-rank p50/p95 and max over 38 durations, cost, and every step's figures", async () => {
    const t = await tenantWithKeys("tel-stats");
    const seed = statsSeed(Date.now());
    await seedExecutions(t.tenant, seed.executions);
    await seedUsage(t.tenant, seed.usage);
    const want = expectedStats(seed, await durationBuckets());
    expect(want.durations.length).toBe(37 + 1); // the 37 and the old row; the rejected one never started
    expect(new Set(want.durations).size).toBeGreaterThan(30);

    const s = await statsOf(t.viewer, "gamma", range(seed.from, seed.to));
    expect([s.workflow_id, s.from, s.to, s.executions]).toEqual(["gamma", iso(seed.from), iso(seed.to), want.executions]);
    expect(s.by_status).toEqual(want.by_status);
    expect(s.by_status).toMatchObject({ running: 1, rejected: 1 });
    expect(s.success_rate).toBeCloseTo(want.success_rate, 12);
    expect(s.duration_ms).toEqual(want.duration_ms);
    expect(s.total_usd).toBeCloseTo(want.total_usd, 9);
    expect(s.avg_cost_usd).toBeCloseTo(want.avg_cost_usd, 9);
    expect(s.steps.map((x) => x.step_id)).toEqual(["classify", "fetch", "notify", "summarise"]);
    for (const [i, step] of s.steps.entries()) {
      const w = want.steps[i]!;
      expect({ ...step, total_usd: 0 }, step.step_id).toEqual({ ...w, total_usd: 0 });
      expect(step.total_usd, step.step_id).toBeCloseTo(w.total_usd, 9);
    }
    // The steps only the ledger knows (a running execution's) have cost and nothing else.
    expect(s.steps[3]).toEqual({ step_id: "summarise", runs: 0, failures: 0, duration_ms: { p50: null, p95: null }, total_usd: 0 });
    // The figures the seed was built to show, spelled out.
    expect(s.steps.find((x) => x.step_id === "classify")).toMatchObject({ runs: 37, failures: want.by_status.failed });
    expect(s.steps.find((x) => x.step_id === "notify")!.runs).toBe(want.by_status.completed - 1); // the old row has no steps
  });

  it("durations of 50 ms and more are read as their bucket's middle, within 4 % (below 50 ms: exact)", async () => {
    const t = await tenantWithKeys("tel-buckets");
    const now = Date.now();
    const durations = [49, 50, 51, 700, 1_000, 12_345, 59_999, 3_600_000, 86_399_999];
    await seedExecutions(t.tenant, durations.map((d, i): ExecutionSeed => ({ id: `ex_b_${i}`, workflow: "wide", status: "completed", created: now - HOUR + i, started: now - HOUR, ended: now - HOUR + d })));
    const bucket = await durationBuckets();
    const s = await statsOf(t.viewer, "wide");
    expect(s.duration_ms).toEqual({ p50: bucket(nearestRank(durations, 50)), p95: bucket(nearestRank(durations, 95)), max: bucket(86_399_999) });
    for (const d of [0, 1, 25, 49]) expect(bucket(d)).toBe(d);
    for (const d of durations) expect(Math.abs(bucket(d)! - d)).toBeLessThanOrEqual(0.04 * d);
    for (let d = 50; d < 100_000_000; d = Math.ceil(d * 1.013)) expect(Math.abs(bucket(d)! - d), `${d} ms`).toBeLessThanOrEqual(0.04 * d);
  });

  it("nearest rank at small sizes: one value, two values, and ties", async () => {
    const t = await tenantWithKeys("tel-ranks");
    const now = Date.now();
    const seedOf = (workflow: string, durations: number[]) =>
      durations.map((d, i): ExecutionSeed => ({ id: `ex_${workflow}_${i}`, workflow, status: "completed", created: now - HOUR + i, started: now - HOUR, ended: now - HOUR + d }));
    await seedExecutions(t.tenant, [...seedOf("one", [40]), ...seedOf("two", [30, 10]), ...seedOf("ties", [5, 5, 5, 9, 1, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 20])]);
    expect((await statsOf(t.viewer, "one")).duration_ms).toEqual({ p50: 40, p95: 40, max: 40 });
    expect((await statsOf(t.viewer, "two")).duration_ms).toEqual({ p50: 10, p95: 30, max: 30 });
    // 20 values: p95 is rank 19 (⌈0.95 × 20⌉), the 9, not the 20.
    expect((await statsOf(t.viewer, "ties")).duration_ms).toEqual({ p50: 5, p95: 9, max: 20 });
  });

  it("a workflow (or a tenant) with no executions in the range answers 200 with zeros and nulls, not 404", async () => {
    const t = await tenantWithKeys("tel-stats-empty");
    const zeros = { executions: 0, by_status: counts({}), total_usd: 0, input_tokens: 0, output_tokens: 0, avg_cost_usd: null, avg_duration_ms: null };
    expect(await summaryOf(t.viewer)).toMatchObject({ ...zeros, by_workflow: [], by_model: [] });
    const s = await statsOf(t.viewer, "never-ran");
    const none = { p50: null, p95: null, max: null };
    expect(s).toEqual({ workflow_id: "never-ran", from: s.from, to: s.to, executions: 0, by_status: counts({}), success_rate: null, duration_ms: none, total_usd: 0, avg_cost_usd: null, steps: [] });
    // Only running ones: no success rate, no durations.
    await seedExecutions(t.tenant, [{ id: "ex_r", workflow: "busy", status: "running", created: Date.now() - HOUR, started: Date.now() - HOUR }]);
    expect(await statsOf(t.viewer, "busy")).toMatchObject({ executions: 1, success_rate: null, duration_ms: none, avg_cost_usd: 0 });
  });

  it("an id no workflow can have is 404; one over 64 characters is 400", async () => {
    const t = await tenantWithKeys("tel-stats-ids");
    expectProblem(await call("GET", `/v1/telemetry/workflows/${encodeURIComponent("Not A Workflow")}/stats`, { key: t.viewer }), 404, "WORKFLOW_NOT_FOUND");
    expectProblem(await call("GET", `/v1/telemetry/workflows/${"w".repeat(65)}/stats`, { key: t.viewer }), 400, "VALIDATION_FAILED");
  });
});

describe("sealed days", () => {
  it("a read seals the whole days it covers; an execution that ends after, its replayed flush and a late record count once", async () => {
    const t = await tenantWithKeys("tel-sealed");
    const now = Date.now();
    const today = Math.floor(now / DAY) * DAY;
    const day = today - 2 * DAY; // a whole day of the range, long over: the first read seals it
    const steps = [outcome("a", "completed", 1, 20), outcome("b", "completed", 1, 40)];
    await seedExecutions(t.tenant, [
      { id: "ex_s1", workflow: "sealy", status: "completed", created: day + HOUR, started: day + HOUR, ended: day + HOUR + 300, cost: 0.5, steps },
      { id: "ex_s2", workflow: "sealy", status: "running", created: day + 2 * HOUR, started: day + 2 * HOUR },
      { id: "ex_s3", workflow: "sealy", status: "completed", created: now - HOUR, started: now - HOUR, ended: now - HOUR + 100, cost: 0.25, steps },
    ]);
    const q = range(today - 3 * DAY + HOUR, now); // a partial day, two whole days, today (partial)
    expect(await statsOf(t.viewer, "sealy", q)).toMatchObject({ executions: 3, by_status: counts({ completed: 2, running: 1 }) });
    const sealed = await env.DB.prepare("SELECT day FROM rollup_days WHERE tenant = ?1").bind(t.tenant).all<{ day: number }>();
    expect(sealed.results.map((r) => r.day)).toContain(day / DAY);

    // ex_s2 ends after its day was sealed; the flush is replayed (its reply lost), and a stale row offered.
    const running = { tenant: t.tenant, id: "ex_s2", workflowId: "sealy", workflowVersion: 1, status: "running" as const, labels: {}, errorCode: null,
      costUsd: null, inputTokens: null, outputTokens: null, createdAt: day + 2 * HOUR, startedAt: day + 2 * HOUR, endedAt: null, stateVersion: 1 };
    const ended = { ...running, status: "failed" as const, errorCode: "STEP_FAILED", costUsd: 1, endedAt: day + 2 * HOUR + 900, stateVersion: 2,
      steps: [outcome("a", "completed", 1, 60), outcome("b", "failed", 2, 80)] };
    for (const row of [ended, ended, running]) await env.DB.batch(executionIndexStatements(env.DB, [row], now));
    const record = { tenant: t.tenant, executionId: "ex_s2", workflowId: "sealy", stepId: "b", item: -1, attempt: 2, call: 1, model: "m", inputTokens: 3,
      outputTokens: 4, costUsd: 0.3, price: null, time: day + 2 * HOUR + 800 };
    for (let flush = 0; flush < 2; flush++) await env.DB.batch([usageInsertStatement(env.DB, record)]);

    const bucket = await durationBuckets();
    const s = await statsOf(t.viewer, "sealy", q);
    expect(s).toMatchObject({
      executions: 3,
      by_status: counts({ completed: 2, failed: 1 }),
      success_rate: 2 / 3,
      duration_ms: { p50: bucket(300), p95: bucket(900), max: bucket(900) },
      total_usd: 1.75,
      steps: [
        { step_id: "a", runs: 3, failures: 0, duration_ms: { p50: 20, p95: bucket(60) }, total_usd: 0 },
        { step_id: "b", runs: 3, failures: 1, duration_ms: { p50: 40, p95: bucket(80) }, total_usd: 0.3 },
      ],
    });
    const summary = await summaryOf(t.viewer, q);
    expect(summary).toMatchObject({ executions: 3, total_usd: 1.75, avg_duration_ms: (300 + 900 + 100) / 3 });
    expect(summary.by_model).toEqual([{ model: "m", calls: 1, input_tokens: 3, output_tokens: 4, total_usd: 0.3 }]);
  });
});

describe("the request log", () => {
  it("each telemetry request logs the D1 rows it read", async () => {
    const t = await tenantWithKeys("tel-log");
    const seed = statsSeed(Date.now());
    await seedExecutions(t.tenant, seed.executions);
    await seedUsage(t.tenant, seed.usage);
    const lines = await requestLogs(async () => {
      await summaryOf(t.viewer, range(seed.from, seed.to));
      await statsOf(t.viewer, "gamma", range(seed.from, seed.to));
    });
    const read = (path: string) => lines.find((l) => l.path === path)?.d1_rows_read;
    const [summaryRows, statsRows] = [read("/v1/telemetry/summary"), read("/v1/telemetry/workflows/gamma/stats")] as number[];
    expect([summaryRows, statsRows]).toEqual([expect.any(Number), expect.any(Number)]);
    // Index-driven: a few reads per execution and usage record of the range, not a scan of the table
    // (the range lies within two partial days, so these are raw rows; the stats' duration histograms
    // pass each value through a few sorts). Reads over whole days: test/store/telemetry-rollups.
    const seeded = seed.executions.length + seed.usage.length;
    expect(summaryRows).toBeGreaterThan(0);
    expect(summaryRows).toBeLessThan(5 * seeded);
    expect(statsRows).toBeLessThan(20 * seeded);
    console.info(`d1_rows_read: summary ${String(summaryRows)}, stats ${String(statsRows)} (${seed.executions.length} executions, ${seed.usage.length} usage records seeded)`);
  });
});
