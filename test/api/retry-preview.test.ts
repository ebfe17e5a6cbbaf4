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

describe("POST /v1/executions/{id}/retry { from_step, input? }", { timeout: 30_000 }, () => {
  /** s0 reads the input; s1 adds the input again to s0's output; s2 passes it on. */
  const adds = {
    id: "adds",
    input_schema: { type: "object", required: ["n"], properties: { n: { type: "number" } } },
    steps: [
      { id: "s0", type: "transform", expression: "input.n" },
      { id: "s1", type: "transform", needs: ["s0"], expression: "steps.s0.output + input.n" },
      { id: "s2", type: "transform", needs: ["s1"], expression: "steps.s1.output" },
    ],
    output: "steps.s2.output",
  };
  const rerun = (key: string, id: string, body?: unknown) => call<{ status: string; plan_hash: string; attempt: number }>("POST", `/v1/executions/${id}/retry`, { key, ...(body !== undefined ? { body } : {}) });

  it("reruns a completed execution from a step with a new input: upstream keeps its output, the new input gets a new plan hash", async () => {
    const t = await tenantWithKeys();
    const first = await waitForStatus(t.viewer, (await start(t.operator, { definition: adds, input: { n: 1 } })).body.id, ["completed"]);
    expect(first.output).toBe(2);
    const res = await rerun(t.operator, first.id, { from_step: "s1", input: { n: 10 } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.attempt).toBe(2);
    expect(res.body.plan_hash).not.toBe(first.plan_hash);
    const done = await waitForStatus(t.viewer, first.id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", output: 11, input: { n: 10 }, attempt: 2 }); // s0 kept 1; s1 = 1 + 10
    const steps = await call<{ items: { id: string; attempts: unknown[] }[] }>("GET", `/v1/executions/${first.id}/steps`, { key: t.viewer });
    expect(steps.body.items.map((s) => [s.id, s.attempts.length])).toEqual([["s0", 1], ["s1", 2], ["s2", 2]]);
    const events = await eventsOf(t.viewer, first.id);
    expect(events.find((e) => e.type === "execution.rerun")?.data).toEqual({ from_step: "s1", rerun: ["s1", "s2"], attempt: 2, plan_hash: res.body.plan_hash });
    const audit = await call<{ items: { action: string; target: string; detail: unknown }[] }>("GET", "/v1/audit?limit=100", { key: t.admin });
    const rows = audit.body.items.filter((a) => a.action === "execution.retry" && a.target === first.id);
    expect(rows.map((a) => a.detail)).toEqual([{ from_step: "s1", new_input: true }]);
  });

  it("without a new input the plan hash stays; what it refuses changes nothing", async () => {
    const t = await tenantWithKeys();
    const first = await waitForStatus(t.viewer, (await start(t.operator, { definition: adds, input: { n: 1 } })).body.id, ["completed"]);
    const before = await eventsOf(t.viewer, first.id);
    expectProblem(await rerun(t.operator, first.id, { input: { n: 2 } }), 400, "VALIDATION_FAILED"); // an input needs from_step
    const bad = expectProblem(await rerun(t.operator, first.id, { from_step: "s1", input: { n: "ten" } }), 400, "VALIDATION_FAILED");
    expect(bad.errors?.map((e) => e.path)).toEqual(["/input/n"]);
    expectProblem(await rerun(t.operator, first.id, { from_step: "nope" }), 404, "STEP_NOT_FOUND");
    expectProblem(await rerun(t.operator, first.id), 409, "INVALID_STATE"); // a plain retry of a completed execution
    expectProblem(await rerun(t.viewer, first.id, { from_step: "s1" }), 403, "FORBIDDEN");
    expect(await eventsOf(t.viewer, first.id)).toEqual(before);
    const res = await rerun(t.operator, first.id, { from_step: "s2" });
    expect(res.status, res.text).toBe(200);
    expect(res.body.plan_hash).toBe(first.plan_hash);
    expect(await waitForStatus(t.viewer, first.id, ["completed"])).toMatchObject({ output: 2, attempt: 2 });
    const audit = await call<{ items: { action: string; target: string; result: string; detail: unknown }[] }>("GET", "/v1/audit?limit=100", { key: t.admin });
    const rows = audit.body.items.filter((a) => a.action === "execution.retry" && a.target === first.id && a.result === "success");
    expect(rows.map((a) => a.detail)).toEqual([{ from_step: "s2", new_input: false }]);
  });

  it("a waiting execution cannot be rerun (409)", async () => {
    const t = await tenantWithKeys();
    const waiting = await start(t.operator, { definition: { id: "waits", steps: [{ id: "paid", type: "event", event: "go" }] } });
    await waitForStatus(t.viewer, waiting.body.id, ["waiting"]);
    expectProblem(await rerun(t.operator, waiting.body.id, { from_step: "paid" }), 409, "INVALID_STATE");
  });
});
