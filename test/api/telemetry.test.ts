/**
 * Telemetry (SPEC §7) through the real app and real D1: each test seeds a fresh tenant by inserting
 * rows straight into the index (`executions`, with the `steps` outcomes an ended execution carries)
 * and the ledger (`usage_records`), then reads `GET /v1/telemetry/summary` and
 * `GET /v1/telemetry/workflows/{id}/stats` and checks them against the seed.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { ExecutionStatus } from "../../src/schemas/executions";
import type { StatusCounts, TelemetrySummary, WorkflowStats } from "../../src/schemas/telemetry";
import { EXECUTION_STATUSES } from "../../src/schemas/vocabulary";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ENDED: readonly ExecutionStatus[] = ["completed", "partial", "failed", "cancelled", "timed_out", "rejected"];

/** One element of an ended execution's `steps` (as the execution's object writes it). */
type StepOutcome = { id: string; status: string; attempts: number; duration_ms: number | null };
type ExecutionSeed = { id: string; workflow: string; status: ExecutionStatus; created: number; started?: number; ended?: number; cost?: number; input?: number; output?: number; steps?: StepOutcome[] };
type UsageSeed = { execution: string; workflow: string; step: string; call?: number; model: string | null; input?: number; output?: number; cost: number | null; time: number };

async function seedExecutions(tenant: string, rows: readonly ExecutionSeed[]): Promise<void> {
  await env.DB.batch(
    rows.map((r) =>
      env.DB.prepare(
        `INSERT INTO executions (tenant, id, workflow_id, workflow_version, status, labels, error_code, cost_usd, created_at,
                                 started_at, ended_at, state_version, updated_at, input_tokens, output_tokens, steps)
         VALUES (?1, ?2, ?3, 1, ?4, '{}', NULL, ?5, ?6, ?7, ?8, 1, ?6, ?9, ?10, ?11)`,
      ).bind(tenant, r.id, r.workflow, r.status, r.cost ?? null, r.created, r.started ?? null, r.ended ?? null, r.input ?? null, r.output ?? null, r.steps ? JSON.stringify(r.steps) : null),
    ),
  );
}

async function seedUsage(tenant: string, rows: readonly UsageSeed[]): Promise<void> {
  await env.DB.batch(
    rows.map((r) =>
      env.DB.prepare(
        `INSERT INTO usage_records (tenant, execution_id, workflow_id, step_id, item, attempt, call, model, input_tokens, output_tokens, cost_usd, price, time)
         VALUES (?1, ?2, ?3, ?4, -1, 1, ?5, ?6, ?7, ?8, ?9, NULL, ?10)`,
      ).bind(tenant, r.execution, r.workflow, r.step, r.call ?? 1, r.model, r.input ?? 0, r.output ?? 0, r.cost, r.time),
    ),
  );
}

function counts(partial: Partial<StatusCounts>): StatusCounts {
  return { ...(Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, 0])) as StatusCounts), ...partial };
}

/** Nearest rank, computed here independently of the SQL: the value at rank ⌈p × n⌉ of the sorted values (p in percent). */
function nearestRank(values: readonly number[], percent: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((percent * sorted.length) / 100) - 1]!;
}

const iso = (ms: number) => new Date(ms).toISOString();
const range = (from: number, to: number) => `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;

async function ok<T>(key: string, path: string, query: string): Promise<T> {
  const res = await call<T>("GET", `${path}${query ? `?${query}` : ""}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body;
}
const summaryOf = (key: string, query = "") => ok<TelemetrySummary>(key, "/v1/telemetry/summary", query);
const statsOf = (key: string, workflow: string, query = "") => ok<WorkflowStats>(key, `/v1/telemetry/workflows/${workflow}/stats`, query);

/** The request log lines the app wrote while `run` ran. */
async function requestLogs(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const spy = vi.spyOn(console, "log");
  try {
    await run();
    const lines = spy.mock.calls.map((args) => String(args[0])).filter((l) => l.startsWith("{"));
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === "request");
  } finally {
    spy.mockRestore();
  }
}

// ---------------------------------------------------------------------------------------------
// The summary: a small hand-computed tenant

/** Seeds the tenant of the summary tests, all but one execution and one record within the last 24 h. */
async function seedSummaryTenant(tenant: string, now: number): Promise<void> {
  const base = now - 2 * HOUR;
  await seedExecutions(tenant, [
    { id: "ex_a1", workflow: "alpha", status: "completed", created: base, started: base + 10, ended: base + 1_010, cost: 0.5, input: 100, output: 50 },
    { id: "ex_a2", workflow: "alpha", status: "failed", created: base + 1, started: base + 10, ended: base + 3_010, cost: 0.25, input: 10, output: 5 },
    { id: "ex_a3", workflow: "alpha", status: "running", created: base + 2, started: base + 10 }, // no cost yet, not ended
    { id: "ex_b1", workflow: "beta", status: "completed", created: base + 3, started: base + 20, ended: base + 2_020, cost: 1, input: 200, output: 100 },
    { id: "ex_b2", workflow: "beta", status: "cancelled", created: base + 4, ended: base + 50 }, // ended, never started: no duration
    { id: "ex_b3", workflow: "beta", status: "completed", created: base + 5, started: base + 5, ended: base + 505 }, // an old row: costs NULL
    { id: "ex_d1", workflow: "delta", status: "completed", created: base + 6, started: base + 6, ended: base + 106, cost: 0.75, input: 0, output: 0 },
    // Outside the default range (created 25 h ago).
    { id: "ex_old", workflow: "alpha", status: "completed", created: now - 25 * HOUR, started: now - 25 * HOUR, ended: now - 25 * HOUR + 9_000, cost: 9, input: 1, output: 1 },
  ]);
  await seedUsage(tenant, [
    { execution: "ex_a1", workflow: "alpha", step: "s1", model: "m-big", input: 100, output: 50, cost: 0.5, time: base + 500 },
    { execution: "ex_a2", workflow: "alpha", step: "s1", model: "m-small", input: 10, output: 5, cost: 0.25, time: base + 600 },
    { execution: "ex_b1", workflow: "beta", step: "s1", call: 1, model: "m-429", cost: 0, time: base + 700 }, // refused: no tokens
    { execution: "ex_b1", workflow: "beta", step: "s1", call: 2, model: "m-small", input: 200, output: 100, cost: 1, time: base + 800 },
    { execution: "ex_d1", workflow: "delta", step: "pay", model: null, cost: 0.75, time: base + 900 }, // a declared step cost: no model
    { execution: "ex_b3", workflow: "beta", step: "s1", model: "m-unpriced", input: 7, output: 3, cost: null, time: base + 1_000 }, // no price: counts 0
    { execution: "ex_old", workflow: "alpha", step: "s1", model: "m-big", input: 1, output: 1, cost: 9, time: now - 25 * HOUR + 100 },
  ]);
}

describe("GET /v1/telemetry/summary", () => {
  it("totals, by status, by workflow and by model over the last 24 h, sums equal to the seeded index and ledger", async () => {
    const t = await tenantWithKeys("tel-sum");
    const now = Date.now();
    await seedSummaryTenant(t.tenant, now);
    const before = Date.now();
    const s = await summaryOf(t.viewer);
    const after = Date.now();

    // The default range: the last 24 hours up to now.
    expect(Date.parse(s.to)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(s.to)).toBeLessThanOrEqual(after);
    expect(Date.parse(s.to) - Date.parse(s.from)).toBe(DAY);

    expect(s).toEqual({
      from: s.from,
      to: s.to,
      executions: 7,
      by_status: counts({ completed: 4, failed: 1, running: 1, cancelled: 1 }),
      total_usd: 2.5,
      input_tokens: 310,
      output_tokens: 155,
      avg_cost_usd: Math.round((2.5 / 7) * 1e10) / 1e10,
      // ended and started: 1000, 3000, 2000, 500, 100
      avg_duration_ms: 1320,
      by_workflow: [
        { workflow_id: "beta", executions: 3, total_usd: 1, avg_duration_ms: 1250 },
        // a tie on total_usd: by workflow_id
        { workflow_id: "alpha", executions: 3, total_usd: 0.75, avg_duration_ms: 2000 },
        { workflow_id: "delta", executions: 1, total_usd: 0.75, avg_duration_ms: 100 },
      ],
      by_model: [
        { model: "m-small", calls: 2, input_tokens: 210, output_tokens: 105, total_usd: 1.25 },
        { model: "m-big", calls: 1, input_tokens: 100, output_tokens: 50, total_usd: 0.5 },
        { model: "m-429", calls: 1, input_tokens: 0, output_tokens: 0, total_usd: 0 },
        { model: "m-unpriced", calls: 1, input_tokens: 7, output_tokens: 3, total_usd: 0 },
      ],
    });
    // by_workflow adds up to the totals.
    expect(s.by_workflow.reduce((n, w) => n + w.executions, 0)).toBe(s.executions);
    expect(s.by_workflow.reduce((n, w) => n + w.total_usd, 0)).toBeCloseTo(s.total_usd, 9);
    expect(Object.values(s.by_status).reduce((n, c) => n + c, 0)).toBe(s.executions);
  });

  it("a wider range takes in the older execution and record, the sums still those of D1's rows; workflow_id narrows every figure", async () => {
    const t = await tenantWithKeys("tel-sum-range");
    const now = Date.now();
    await seedSummaryTenant(t.tenant, now);
    const wide = await summaryOf(t.viewer, range(now - 2 * DAY, now));
    expect(wide.executions).toBe(8);
    expect(wide.total_usd).toBe(11.5);
    expect(wide.by_workflow[0]).toEqual({ workflow_id: "alpha", executions: 4, total_usd: 9.75, avg_duration_ms: (1000 + 3000 + 9000) / 3 });
    expect(wide.by_model.find((m) => m.model === "m-big")).toEqual({ model: "m-big", calls: 2, input_tokens: 101, output_tokens: 51, total_usd: 9.5 });
    // The same sums as the index and the ledger hold them.
    const where = "tenant = ?1 AND created_at >= ?2 AND created_at < ?3";
    const index = await env.DB.prepare(`SELECT COUNT(*) AS n, TOTAL(cost_usd) AS usd, TOTAL(input_tokens) AS i FROM executions WHERE ${where}`)
      .bind(t.tenant, now - 2 * DAY, now)
      .first<{ n: number; usd: number; i: number }>();
    expect([wide.executions, wide.input_tokens]).toEqual([index!.n, index!.i]);
    expect(wide.by_workflow.reduce((n, w) => n + w.total_usd, 0)).toBeCloseTo(index!.usd, 9);
    const ledger = await env.DB.prepare(`SELECT COUNT(*) AS n, TOTAL(cost_usd) AS usd FROM usage_records WHERE ${where.replaceAll("created_at", "time")} AND model IS NOT NULL`)
      .bind(t.tenant, now - 2 * DAY, now)
      .first<{ n: number; usd: number }>();
    expect(wide.by_model.reduce((n, m) => n + m.calls, 0)).toBe(ledger!.n);
    expect(wide.by_model.reduce((n, m) => n + m.total_usd, 0)).toBeCloseTo(ledger!.usd, 9);

    const alpha = await summaryOf(t.viewer, "workflow_id=alpha");
    expect(alpha).toMatchObject({
      executions: 3,
      by_status: counts({ completed: 1, failed: 1, running: 1 }),
      total_usd: 0.75,
      input_tokens: 110,
      output_tokens: 55,
      avg_cost_usd: 0.25,
      avg_duration_ms: 2000,
      by_workflow: [{ workflow_id: "alpha", executions: 3, total_usd: 0.75, avg_duration_ms: 2000 }],
      by_model: [
        { model: "m-big", calls: 1, input_tokens: 100, output_tokens: 50, total_usd: 0.5 },
        { model: "m-small", calls: 1, input_tokens: 10, output_tokens: 5, total_usd: 0.25 },
      ],
    });
  });

  it("the range is half-open: created_at = from is in, created_at = to is out", async () => {
    const t = await tenantWithKeys("tel-sum-edges");
    const from = Date.now() - HOUR;
    await seedExecutions(t.tenant, [
      { id: "ex_at_from", workflow: "w", status: "queued", created: from },
      { id: "ex_inside", workflow: "w", status: "queued", created: from + 5 },
      { id: "ex_at_to", workflow: "w", status: "queued", created: from + 10 },
    ]);
    await seedUsage(t.tenant, [
      { execution: "ex_at_from", workflow: "w", step: "s", model: "m", cost: 1, time: from },
      { execution: "ex_at_to", workflow: "w", step: "s", model: "m", cost: 2, time: from + 10 },
    ]);
    const s = await summaryOf(t.viewer, range(from, from + 10));
    expect(s.executions).toBe(2);
    expect(s.by_model).toEqual([{ model: "m", calls: 1, input_tokens: 0, output_tokens: 0, total_usd: 1 }]);
    // Nothing ended: no average duration (null, not 0); no cost recorded: it cost 0.
    expect(s).toMatchObject({ total_usd: 0, avg_cost_usd: 0, avg_duration_ms: null });
  });
});

// ---------------------------------------------------------------------------------------------
// Workflow stats: 37 ended executions with varied durations, computed here independently

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

/** What the stats must say, computed from the seed in plain JS. */
function expectedStats(seed: StatsSeed) {
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
      duration_ms: { p50: nearestRank(ms, 50), p95: nearestRank(ms, 95) },
      total_usd: usage.filter((u) => u.step === stepId).reduce((n, u) => n + (u.cost ?? 0), 0),
    };
  });
  return {
    executions: inRange.length,
    by_status: byStatus,
    success_rate: byStatus.completed / ended.length,
    durations,
    duration_ms: { p50: nearestRank(durations, 50), p95: nearestRank(durations, 95), max: Math.max(...durations) },
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
    const want = expectedStats(seed);
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

  it("nearest rank at small sizes: one value, two values, and ties", async () => {
    const t = await tenantWithKeys("tel-ranks");
    const now = Date.now();
    const seedOf = (workflow: string, durations: number[]) =>
      durations.map((d, i): ExecutionSeed => ({ id: `ex_${workflow}_${i}`, workflow, status: "completed", created: now - HOUR + i, started: now - HOUR, ended: now - HOUR + d }));
    await seedExecutions(t.tenant, [...seedOf("one", [700]), ...seedOf("two", [300, 100]), ...seedOf("ties", [5, 5, 5, 9, 1, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 20])]);
    expect((await statsOf(t.viewer, "one")).duration_ms).toEqual({ p50: 700, p95: 700, max: 700 });
    expect((await statsOf(t.viewer, "two")).duration_ms).toEqual({ p50: 100, p95: 300, max: 300 });
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

// ---------------------------------------------------------------------------------------------
// Ranges, roles, tenants, the request log

describe("telemetry ranges", () => {
  const routes = ["/v1/telemetry/summary", "/v1/telemetry/workflows/gamma/stats"];

  it("`to` before `from`, a range over 92 days, and malformed or offsetless dates are 400", async () => {
    const t = await tenantWithKeys("tel-ranges");
    const to = Date.parse("2026-11-22T00:00:00.000Z");
    for (const path of routes) {
      const backwards = expectProblem(await call("GET", `${path}?${range(to, to - 1)}`, { key: t.viewer }), 400, "VALIDATION_FAILED");
      expect(backwards.errors).toEqual([expect.objectContaining({ path: "/to", in: "query" })]);
      // `from` in the future and no `to`: `to` is now, before `from`.
      expectProblem(await call("GET", `${path}?from=${encodeURIComponent(iso(Date.now() + HOUR))}`, { key: t.viewer }), 400, "VALIDATION_FAILED");
      const long = expectProblem(await call("GET", `${path}?${range(to - 92 * DAY - 1, to)}`, { key: t.viewer }), 400, "VALIDATION_FAILED");
      expect(long.errors![0]!.message).toContain("92 days");
      expect((await call("GET", `${path}?${range(to - 92 * DAY, to)}`, { key: t.viewer })).status).toBe(200);
      expect((await call("GET", `${path}?${range(to, to)}`, { key: t.viewer })).status).toBe(200); // empty, not backwards
      for (const bad of ["yesterday", "2026-11-21", "2026-11-21T00:00:00", "2026-02-30T00:00:00Z", "2026-11-21T25:00:00Z"]) {
        const p = expectProblem(await call("GET", `${path}?from=${encodeURIComponent(bad)}`, { key: t.viewer }), 400, "VALIDATION_FAILED");
        expect(p.errors?.map((e) => [e.in, e.path]), bad).toEqual([["query", "/from"]]);
      }
      const both = expectProblem(await call("GET", `${path}?from=x&to=y`, { key: t.viewer }), 400, "VALIDATION_FAILED");
      expect(both.errors?.map((e) => e.path).sort()).toEqual(["/from", "/to"]);
    }
  });

  it("`to` alone: `from` is 24 h before it; `from` alone: `to` is now; offsets are honoured", async () => {
    const t = await tenantWithKeys("tel-defaults");
    const s = await summaryOf(t.viewer, "to=2026-11-22T02:00:00%2B02:00");
    expect([s.from, s.to]).toEqual(["2026-11-21T00:00:00.000Z", "2026-11-22T00:00:00.000Z"]);
    const before = Date.now();
    const w = await statsOf(t.viewer, "gamma", `from=${encodeURIComponent(iso(before - 3 * DAY))}`);
    expect(w.from).toBe(iso(before - 3 * DAY));
    expect(Date.parse(w.to)).toBeGreaterThanOrEqual(before);
  });
});

describe("telemetry access", () => {
  it("every role reads (viewer and up); without a key 401", async () => {
    const t = await tenantWithKeys("tel-roles");
    for (const path of ["/v1/telemetry/summary", "/v1/telemetry/workflows/alpha/stats"]) {
      for (const role of ["admin", "operator", "approver", "viewer"] as const) expect((await call("GET", path, { key: t[role] })).status, `${role} ${path}`).toBe(200);
      expectProblem(await call("GET", path, { key: null }), 401, "UNAUTHORIZED");
      expectProblem(await call("GET", path, { key: "stp_not-a-key" }), 401, "UNAUTHORIZED");
    }
  });

  it("each tenant sees only its own executions and records", async () => {
    const a = await tenantWithKeys("tel-iso-a");
    const b = await tenantWithKeys("tel-iso-b");
    const now = Date.now();
    await seedSummaryTenant(a.tenant, now);
    await seedExecutions(b.tenant, [{ id: "ex_a1", workflow: "alpha", status: "failed", created: now - HOUR, started: now - HOUR, ended: now - HOUR + 42, cost: 3 }]);
    await seedUsage(b.tenant, [{ execution: "ex_a1", workflow: "alpha", step: "s1", model: "m-b-only", cost: 3, time: now - HOUR }]);
    const seenByB = await summaryOf(b.viewer);
    expect(seenByB).toMatchObject({ executions: 1, total_usd: 3, by_workflow: [{ workflow_id: "alpha", executions: 1, total_usd: 3, avg_duration_ms: 42 }] });
    expect(seenByB.by_model.map((m) => m.model)).toEqual(["m-b-only"]);
    expect(await statsOf(b.viewer, "alpha")).toMatchObject({ executions: 1, success_rate: 0, duration_ms: { p50: 42, p95: 42, max: 42 }, total_usd: 3 });
    expect((await summaryOf(a.viewer)).executions).toBe(7);
    expect(await statsOf(a.viewer, "alpha")).toMatchObject({ executions: 3, success_rate: 0.5 });
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
    // Index-driven: a few reads per execution and usage record of the range, not a scan of the table.
    const seeded = seed.executions.length + seed.usage.length;
    expect(summaryRows).toBeGreaterThan(0);
    expect(summaryRows).toBeLessThan(5 * seeded);
    expect(statsRows).toBeLessThan(15 * seeded);
    console.info(`d1_rows_read: summary ${String(summaryRows)}, stats ${String(statsRows)} (${seed.executions.length} executions, ${seed.usage.length} usage records seeded)`);
  });
});
