/**
 * Telemetry over real HTTP: an execution run through the API, indexed asynchronously by its object
 * (in an isolate of its own), then read back in the summary and in its workflow's stats — its
 * steps' outcomes included, which the object writes into the index row when the execution ends.
 */
import { describe, expect, it } from "vitest";
import { call, uniqueId, type Execution } from "../helpers/client";

interface Summary {
  from: string;
  to: string;
  executions: number;
  by_status: Record<string, number>;
  total_usd: number;
  avg_duration_ms: number | null;
  by_workflow: { workflow_id: string; executions: number; total_usd: number; avg_duration_ms: number | null }[];
  by_model: unknown[];
}
interface Stats {
  workflow_id: string;
  executions: number;
  by_status: Record<string, number>;
  success_rate: number | null;
  duration_ms: { p50: number | null; p95: number | null; max: number | null };
  steps: { step_id: string; runs: number; failures: number; duration_ms: { p50: number | null; p95: number | null }; total_usd: number }[];
}

describe("telemetry", () => {
  it("an ended execution shows up in the summary and in its workflow's stats, its steps included", async () => {
    // A tenant of its own, so the figures are this scenario's alone.
    const tenant = uniqueId("telemetry");
    const operator = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: "telemetry-operator", role: "operator", tenant } });
    expect(operator.status, operator.text).toBe(201);
    const viewer = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: "telemetry-viewer", role: "viewer", tenant } });
    expect(viewer.status, viewer.text).toBe(201);
    const key = viewer.body.key;

    const definition = { id: "telemetry-e2e", steps: [{ id: "a", type: "transform", expression: "1" }] };
    const run = await call<Execution>("POST", "/v1/executions?wait=10", { key: operator.body.key, body: { definition, input: {} } });
    expect(run.status, run.text).toBe(200);
    expect(run.body.status).toBe("completed");

    // The index is written after the transition: wait until the listing shows the execution ended.
    for (let i = 0; ; i++) {
      const listed = await call<{ items: Execution[] }>("GET", "/v1/executions?workflow_id=telemetry-e2e", { key });
      expect(listed.status, listed.text).toBe(200);
      if (listed.body.items.find((e) => e.id === run.body.id)?.status === "completed") break;
      expect(i, "the listing did not show the execution completed").toBeLessThan(100);
      await new Promise((r) => setTimeout(r, 100));
    }

    const summary = await call<Summary>("GET", "/v1/telemetry/summary", { key });
    expect(summary.status, summary.text).toBe(200);
    expect(Date.parse(summary.body.to) - Date.parse(summary.body.from)).toBe(24 * 3_600_000);
    expect(summary.body).toMatchObject({ executions: 1, total_usd: 0, by_model: [] });
    expect(summary.body.by_status.completed).toBe(1);
    expect(summary.body.by_workflow).toEqual([{ workflow_id: "telemetry-e2e", executions: 1, total_usd: 0, avg_duration_ms: expect.any(Number) }]);
    expect(summary.body.avg_duration_ms).toBe(summary.body.by_workflow[0]!.avg_duration_ms);

    const stats = await call<Stats>("GET", "/v1/telemetry/workflows/telemetry-e2e/stats", { key });
    expect(stats.status, stats.text).toBe(200);
    expect(stats.body).toMatchObject({ workflow_id: "telemetry-e2e", executions: 1, success_rate: 1 });
    const { p50, p95, max } = stats.body.duration_ms;
    expect(p50).toEqual(expect.any(Number));
    expect([p95, max]).toEqual([p50, p50]); // one duration: every percentile is it
    expect(stats.body.steps).toEqual([
      { step_id: "a", runs: 1, failures: 0, duration_ms: { p50: expect.any(Number), p95: expect.any(Number) }, total_usd: 0 },
    ]);

    // Refusals.
    expect((await call("GET", "/v1/telemetry/summary?from=yesterday", { key })).status).toBe(400);
    const backwards = "from=2026-11-22T00:00:00Z&to=2026-11-21T00:00:00Z";
    expect((await call("GET", `/v1/telemetry/workflows/telemetry-e2e/stats?${backwards}`, { key })).status).toBe(400);
    expect((await call("GET", "/v1/telemetry/workflows/Not%20A%20Workflow/stats", { key })).status).toBe(404);
    expect((await call("GET", "/v1/telemetry/summary", { key: null })).status).toBe(401);
    // Another tenant does not see it.
    const platform = await call<Stats>("GET", "/v1/telemetry/workflows/telemetry-e2e/stats");
    expect(platform.status, platform.text).toBe(200);
    expect(platform.body.executions).toBe(0);
  });
});
