/**
 * The redrive preview (SPEC §10) through the real app and objects: what a retry would run again and
 * keep, the side effects it would repeat (a POST sent before the execution failed), and refusals.
 */
import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import { chain, eventsOf, start, waitForStatus } from "../helpers/executions";
import { requestsWith } from "../helpers/upstream";

interface Preview {
  rerun: string[];
  kept: string[];
  repeats_side_effects: { step_id: string; type: string; method?: string; url?: string; attempts_sent: number }[];
  estimated_cost_usd: number;
}

const preview = (key: string, id: string, query = "") => call<Preview>("GET", `/v1/executions/${id}/retry-preview${query}`, { key });

describe("GET /v1/executions/{id}/retry-preview", { timeout: 30_000 }, () => {
  it("a failed execution whose POST was sent twice before it failed: reruns it and what needs it, keeps the rest, names the repeated POST", async () => {
    const t = await tenantWithKeys();
    const tag = `pay${crypto.randomUUID().slice(0, 8)}`;
    const url = `http://127.0.0.1:9999/flaky/${tag}/5`;
    const started = await start(t.operator, {
      definition: {
        id: "pays",
        steps: [
          { id: "fetch", type: "http", request: { method: "GET", url: "http://127.0.0.1:9999/json" } },
          { id: "pay", type: "http", needs: ["fetch"], request: { method: "POST", url, body: { amount: 5 } }, retry: { max_attempts: 2, initial_interval_ms: 1, jitter: false } },
          { id: "notify", type: "transform", needs: ["pay"], expression: "'paid'" },
        ],
      },
    });
    const failed = await waitForStatus(t.viewer, started.body.id, ["failed", "completed"]);
    expect(failed.status).toBe("failed");
    expect((await requestsWith(tag)).map((r) => r.method)).toEqual(["POST", "POST"]); // the POST did go out, twice
    const before = await eventsOf(t.viewer, failed.id);

    const res = await preview(t.viewer, failed.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      rerun: ["pay", "notify"],
      kept: ["fetch"],
      repeats_side_effects: [{ step_id: "pay", type: "http", method: "POST", url, attempts_sent: 2 }],
      estimated_cost_usd: 0,
    });
    expect(await eventsOf(t.viewer, failed.id)).toEqual(before); // a preview changes nothing
    expect((await call("GET", `/v1/executions/${failed.id}`, { key: t.viewer })).body).toMatchObject({ status: "failed", attempt: 1 });
  });

  it("from a step, on a completed execution: that step and everything downstream rerun, upstream is kept", async () => {
    const t = await tenantWithKeys();
    const started = await start(t.operator, { definition: chain("three", 3), input: { n: 1 } });
    const done = await waitForStatus(t.viewer, started.body.id, ["completed"]);
    const res = await preview(t.viewer, done.id, "?from_step=s1");
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ rerun: ["s1", "s2"], kept: ["s0"], repeats_side_effects: [], estimated_cost_usd: 0 });
  });

  it("refusals: a plain retry of a completed execution is 409 with what it allows; an unknown step 404; a running execution 409; another tenant 404", async () => {
    const t = await tenantWithKeys();
    const done = await waitForStatus(t.viewer, (await start(t.operator, { definition: chain("one", 1), input: { n: 1 } })).body.id, ["completed"]);
    const conflict = expectProblem(await preview(t.viewer, done.id), 409, "INVALID_STATE");
    expect(conflict).toMatchObject({ current_status: "completed" });
    expectProblem(await preview(t.viewer, done.id, "?from_step=nope"), 404, "STEP_NOT_FOUND");
    const waiting = await start(t.operator, { definition: { id: "waits", steps: [{ id: "paid", type: "event", event: "go" }] } });
    await waitForStatus(t.viewer, waiting.body.id, ["waiting"]);
    expectProblem(await preview(t.viewer, waiting.body.id, "?from_step=paid"), 409, "INVALID_STATE");
    const other = await tenantWithKeys();
    expectProblem(await preview(other.viewer, done.id, "?from_step=s0"), 404, "EXECUTION_NOT_FOUND");
  });
});
