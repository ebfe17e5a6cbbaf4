/**
 * llm steps and their costs over the real wrangler dev, against the LLM stand-in `npm start` runs:
 * the triage example (a rate-limited model, then its fallback), its ledger, and Execution.cost as
 * the execution and the listing show it.
 */
import { describe, expect, it } from "vitest";
import { call, llmUrl, until, type Execution } from "../helpers/client";

interface Ledger {
  execution_id: string;
  total_usd: number;
  input_tokens: number;
  output_tokens: number;
  items: { step_id: string; attempt: number; call: number; model: string | null; cost_usd: number | null; price: unknown }[];
}

describe("costs", () => {
  it("the triage example answers through its fallback; every call is in its ledger and its cost is on the execution", async () => {
    const before = await (await fetch(`${llmUrl}/_calls?model=standin-429`)).json() as { calls: unknown[] };
    const res = await call<Execution & { cost: Omit<Ledger, "items" | "execution_id"> }>("POST", "/v1/executions?wait=20", {
      body: { workflow_id: "triage-ticket", input: { ticket: "I was charged twice for my invoice" } },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "completed", output: { queue: "billing", page_on_call: true, answered_by: "standin-small" } });
    const after = await (await fetch(`${llmUrl}/_calls?model=standin-429`)).json() as { calls: unknown[] };
    expect(after.calls.length - before.calls.length).toBe(1); // the rate-limited model was called once, then the fallback

    const ledger = await call<Ledger>("GET", `/v1/executions/${res.body.id}/costs`);
    expect(ledger.status, ledger.text).toBe(200);
    expect(ledger.body.items.map((i) => [i.step_id, i.attempt, i.call, i.model])).toEqual([
      ["classify", 1, 1, "standin-429"],
      ["classify", 1, 2, "standin-small"],
    ]);
    expect(ledger.body.items[1]!.price).toEqual({ input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 });
    expect(ledger.body.total_usd).toBeGreaterThan(0);
    expect(res.body.cost).toEqual({ total_usd: ledger.body.total_usd, input_tokens: ledger.body.input_tokens, output_tokens: ledger.body.output_tokens });

    // The listing shows the same cost once the index has caught up.
    for (let i = 0; ; i++) {
      const listed = await call<{ items: (Execution & { cost: unknown })[] }>("GET", "/v1/executions?workflow_id=triage-ticket&limit=100");
      const row = listed.body.items.find((e) => e.id === res.body.id);
      if (row?.status === "completed") {
        expect(row.cost).toEqual(res.body.cost);
        break;
      }
      expect(i).toBeLessThan(50);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it("a budget pauses the call that does not fit; an approver raises it and the execution ends", async () => {
    // standin-small, prompt "abcd" (1 token), max_tokens 3 (the reply is cut to 3 tokens): each
    // call reserves and costs exactly (1 × 0.5 + 3 × 1.5) / 1e6 = 0.000005 USD. The budget fits two.
    const model = `standin-small:e2e-${Date.now()}`;
    const put = await call("PUT", `/v1/prices/${encodeURIComponent(model)}`, { body: { input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 } });
    expect(put.status, put.text).toBe(200);
    const steps = [1, 2, 3].map((i) => ({ id: `s${i}`, type: "llm", model, prompt: "abcd", max_tokens: 3, ...(i > 1 ? { needs: [`s${i - 1}`] } : {}) }));
    const res = await call<Execution>("POST", "/v1/executions", { body: { definition: { id: "e2e-budget", budget: { max_usd: 0.00001, on_exceed: "pause" }, steps } } });
    expect(res.status, res.text).toBe(202);
    const waiting = await until<Execution>(res.body.id, (e) => e.status === "waiting");
    expect(waiting.waiting_for).toMatchObject({ kind: "budget", step_id: "s3", budget: { id: "execution", needed_usd: 0.000005 } });
    const calls = async () => ((await (await fetch(`${llmUrl}/_calls?model=${encodeURIComponent(model)}`)).json()) as { calls: unknown[] }).calls.length;
    expect(await calls()).toBe(2);
    const tooLow = await call("POST", `/v1/executions/${res.body.id}/budget`, { body: { max_usd: 0.00001 } });
    expect(tooLow.status).toBe(400);
    const raised = await call<Execution>("POST", `/v1/executions/${res.body.id}/budget`, { body: { max_usd: 0.001 } });
    expect(raised.status, raised.text).toBe(200);
    const done = await until<Execution & { cost: { total_usd: number } }>(res.body.id, (e) => e.status === "completed");
    expect(done.cost.total_usd).toBeCloseTo(0.000015, 12);
    expect(await calls()).toBe(3);
  });

  it("the ledger of an execution that does not exist is 404", async () => {
    const res = await call("GET", `/v1/executions/ex_${"0".repeat(32)}/costs`);
    expect(res.status).toBe(404);
  });
});
