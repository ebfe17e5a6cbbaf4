/**
 * Dry runs (SPEC §10) against the real wrangler dev: a workflow with an http step runs through to
 * its end without the upstream hearing of it and without an execution; a mocked error fails it
 * through its retry policy; refusals answer as documented.
 */
import { describe, expect, it } from "vitest";
import { apiToken, call, uniqueId, upstreamHits, upstreamUrl } from "../helpers/client";

interface DryRunResult {
  status: string;
  output?: unknown;
  error?: { code: string; step_id?: string };
  steps: { id: string; status: string; attempts: number; output?: unknown; mocked: boolean; would_send?: { method: string; url: string; headers: Record<string, string>; body: string | null } }[];
  events: { type: string }[];
}

describe("dry run", () => {
  it("runs a registered workflow in memory: nothing sent, nothing listed, the secret masked; mocks and approvals from the request", async () => {
    const id = uniqueId("dry");
    const marker = uniqueId("m");
    const registered = await call("POST", "/v1/workflows", {
      body: {
        id,
        steps: [
          { id: "pay", type: "http", request: { method: "POST", url: `${upstreamUrl}/echo?m=${marker}`, headers: { authorization: "Bearer {{ secrets.API_TOKEN }}" }, body: { amount: "{{ input.amount }}" } }, retry: { max_attempts: 2, initial_interval_ms: 60000 } },
          { id: "nap", type: "wait", needs: ["pay"], seconds: 3600 },
          { id: "ok", type: "approval", needs: ["nap"] },
          { id: "done", type: "transform", needs: ["ok"], expression: "'paid ' & $string(input.amount)" },
        ],
        output: "steps.done.output",
      },
    });
    expect(registered.status, registered.text).toBe(201);

    const res = await call<DryRunResult>("POST", `/v1/workflows/${id}/test`, { body: { input: { amount: 5 } } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "completed", output: "paid 5" });
    expect(res.body.steps.map((s) => [s.id, s.status])).toEqual([
      ["pay", "completed"],
      ["nap", "completed"],
      ["ok", "completed"],
      ["done", "completed"],
    ]);
    expect(res.body.steps[0]!.would_send).toMatchObject({ method: "POST", url: `${upstreamUrl}/echo?m=${marker}`, headers: { authorization: "Bearer ***" }, body: '{"amount":5}' });
    expect(res.text).not.toContain(apiToken);
    expect(await upstreamHits(marker)).toBe(0);
    const listed = await call<{ items: unknown[] }>("GET", `/v1/executions?workflow_id=${id}`);
    expect(listed.body.items).toEqual([]);

    const failed = await call<DryRunResult>("POST", `/v1/workflows/${id}/test`, {
      body: { input: { amount: 5 }, mocks: { pay: { error: { code: "HTTP_STATUS", message: "502 from billing" } } } },
    });
    expect(failed.status, failed.text).toBe(200);
    expect(failed.body).toMatchObject({ status: "failed", error: { code: "HTTP_STATUS", step_id: "pay" } });
    expect(failed.body.steps[0]).toMatchObject({ status: "failed", attempts: 2, mocked: true });

    const rejected = await call<DryRunResult>("POST", `/v1/workflows/${id}/test`, { body: { input: { amount: 5 }, approve: false } });
    expect(rejected.body.status).toBe("rejected");
    expect(await upstreamHits(marker)).toBe(0);
  });

  it("refusals: unknown mocks listed in one 400, an unknown workflow 404", async () => {
    const id = uniqueId("dry");
    expect((await call("POST", "/v1/workflows", { body: { id, steps: [{ id: "a", type: "transform", expression: "1" }] } })).status).toBe(201);
    const bad = await call<{ code: string; errors: { path: string }[] }>("POST", `/v1/workflows/${id}/test`, { body: { mocks: { x: { output: 1 }, y: { output: 2 } } } });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.body.errors.map((e) => e.path)).toEqual(["/mocks/x", "/mocks/y"]);
    const missing = await call<{ code: string }>("POST", `/v1/workflows/${uniqueId("none")}/test`, { body: {} });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("WORKFLOW_NOT_FOUND");
  });
});
