/**
 * The redrive preview (SPEC §10) against the real wrangler dev: a failed execution whose POST went
 * out before it failed names that POST as a side effect a retry repeats; refusals answer as documented.
 */
import { describe, expect, it } from "vitest";
import { call, type Execution, uniqueId, until, upstreamHits, upstreamUrl } from "../helpers/client";

interface Preview {
  rerun: string[];
  kept: string[];
  repeats_side_effects: { step_id: string; type: string; method?: string; url?: string; attempts_sent: number }[];
  estimated_cost_usd: number;
}

describe("retry preview", () => {
  it("a failed execution: what a retry reruns and keeps, and the POST it would send again", async () => {
    const marker = uniqueId("pay");
    const url = `${upstreamUrl}/status/500?m=${marker}`;
    const res = await call<Execution>("POST", "/v1/executions", {
      body: {
        definition: {
          id: uniqueId("pays"),
          steps: [
            { id: "check", type: "transform", expression: "'ok'" },
            { id: "pay", type: "http", needs: ["check"], request: { method: "POST", url, body: { amount: 5 } } },
            { id: "notify", type: "transform", needs: ["pay"], expression: "'paid'" },
          ],
        },
      },
    });
    expect(res.status, res.text).toBe(202);
    await until<Execution>(res.body.id, (e) => e.status === "failed");
    expect(await upstreamHits(marker)).toBe(1);
    const preview = await call<Preview>("GET", `/v1/executions/${res.body.id}/retry-preview`);
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body).toEqual({ rerun: ["pay", "notify"], kept: ["check"], repeats_side_effects: [{ step_id: "pay", type: "http", method: "POST", url, attempts_sent: 1 }], estimated_cost_usd: 0 });
    const fromCheck = await call<Preview>("GET", `/v1/executions/${res.body.id}/retry-preview?from_step=check`);
    expect(fromCheck.body.rerun).toEqual(["check", "pay", "notify"]);
    const unknown = await call<{ code: string }>("GET", `/v1/executions/${res.body.id}/retry-preview?from_step=nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("STEP_NOT_FOUND");
  });

  it("reruns a completed execution from a step with a new input: upstream kept, a new plan hash, the step reruns", async () => {
    const id = uniqueId("adds");
    const definition = {
      id,
      input_schema: { type: "object", required: ["n"], properties: { n: { type: "number" } } },
      steps: [
        { id: "s0", type: "transform", expression: "input.n" },
        { id: "s1", type: "transform", needs: ["s0"], expression: "steps.s0.output + input.n" },
      ],
      output: "steps.s1.output",
    };
    const res = await call<Execution & { plan_hash: string }>("POST", "/v1/executions?wait=10", { body: { definition, input: { n: 1 } } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.output).toBe(2);
    const rerun = await call<Execution & { plan_hash: string; attempt: number }>("POST", `/v1/executions/${res.body.id}/retry`, { body: { from_step: "s1", input: { n: 10 } } });
    expect(rerun.status, rerun.text).toBe(200);
    expect(rerun.body.plan_hash).not.toBe(res.body.plan_hash);
    const done = await until<Execution & { attempt: number }>(res.body.id, (e) => e.status === "completed" && e.attempt === 2);
    expect(done.output).toBe(11);
    const bad = await call<{ code: string }>("POST", `/v1/executions/${res.body.id}/retry`, { body: { from_step: "s1", input: { n: "ten" } } });
    expect(bad.status).toBe(400);
  });
});
