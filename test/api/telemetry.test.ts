/**
 * Telemetry (SPEC §7) through the real app and real D1: the summary, ranges, roles and tenants.
 * Each test seeds a fresh tenant (test/helpers/telemetry.ts). The workflow stats:
 * telemetry-stats.test.ts; the rollups against a scan of the rows: test/store/telemetry-rollups.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import { DAY, HOUR, counts, iso, range, seedExecutions, seedUsage, statsOf, summaryOf } from "../helpers/telemetry";


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
