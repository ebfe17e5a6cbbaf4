/**
 * llm steps and the usage ledger, through the real app and real objects against the LLM stand-in
 * (scripts/llm-standin.mjs, served by the upstream worker under /llm/). Deployment prices come from
 * wrangler.toml's PRICES: standin-small 0.5 / 1.5 USD per million tokens (input / output).
 */
import { describe, expect, it } from "vitest";
import { call, tenantWithKeys } from "../helpers/api";
import { UPSTREAM } from "../helpers/upstream";
import { start, stepsOf, waitForStatus, type ExecutionBody } from "../helpers/executions";
import type { LlmOutput } from "../../src/engine/steps/llm";

const SMALL = { input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 };

interface Ledger {
  execution_id: string;
  total_usd: number;
  input_tokens: number;
  output_tokens: number;
  items: { step_id: string; attempt: number; call: number; model: string | null; input_tokens: number; output_tokens: number; cost_usd: number | null; price: unknown }[];
}

/** The stand-in's exact counts (see its header): ceil(characters / 4). */
const tokens = (text: string) => Math.ceil(text.length / 4);

async function callsTo(model: string): Promise<number> {
  const res = await fetch(`${UPSTREAM}/llm/v1/_calls?model=${encodeURIComponent(model)}`);
  return ((await res.json()) as { calls: unknown[] }).calls.length;
}

async function costsOf(key: string, id: string): Promise<Ledger> {
  const res = await call<Ledger>("GET", `/v1/executions/${id}/costs`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

async function run(key: string, steps: unknown[], input: unknown = {}): Promise<ExecutionBody> {
  const res = await start(key, { definition: { id: "llm-test", steps }, input }, { wait: 10 });
  expect([200, 202], res.text).toContain(res.status);
  return waitForStatus(key, res.body.id, ["completed", "failed", "partial"]);
}

describe("llm step", () => {
  it("answers with text, the model, exact token usage and its cost; the ledger and Execution.cost agree", async () => {
    const t = await tenantWithKeys("llm-basic");
    const prompt = "Summarise: {{ input.doc }}";
    const e = await run(t.operator, [{ id: "sum", type: "llm", model: "standin-small", system: "Be brief.", prompt }], { doc: "invoice 42" });
    expect(e.status).toBe("completed");
    const [step] = await stepsOf(t.viewer, e.id);
    const out = step!.output as LlmOutput;
    expect(out.text).toBe("Stand-in reply to: Summarise: invoice 42");
    expect(out.model).toBe("standin-small");
    expect(out.finish_reason).toBe("stop");
    const input = tokens("Be brief." + "Summarise: invoice 42");
    const output = tokens(out.text);
    expect(out.usage).toEqual({ input_tokens: input, output_tokens: output });
    const cost = (input * SMALL.input_usd_per_mtok + output * SMALL.output_usd_per_mtok) / 1e6;
    expect(out.cost_usd).toBeCloseTo(cost, 12);

    const ledger = await costsOf(t.viewer, e.id);
    expect(ledger).toMatchObject({ execution_id: e.id, input_tokens: input, output_tokens: output });
    expect(ledger.total_usd).toBeCloseTo(cost, 12);
    expect(ledger.items).toEqual([
      expect.objectContaining({ step_id: "sum", attempt: 1, call: 1, model: "standin-small", input_tokens: input, output_tokens: output, price: SMALL }),
    ]);
    const got = await call<ExecutionBody & { cost: Ledger }>("GET", `/v1/executions/${e.id}`, { key: t.viewer });
    expect(got.body.cost).toEqual({ total_usd: ledger.total_usd, input_tokens: input, output_tokens: output });
  });

  it("max_tokens cuts the reply: finish_reason is 'length'", async () => {
    const t = await tenantWithKeys("llm-length");
    const e = await run(t.operator, [{ id: "s", type: "llm", model: "standin-small", prompt: "x".repeat(200), max_tokens: 3 }]);
    const out = (await stepsOf(t.viewer, e.id))[0]!.output as LlmOutput;
    expect(out).toMatchObject({ finish_reason: "length", usage: { output_tokens: 3 } });
    expect(out.text).toHaveLength(12);
  });

  it("output_schema: the reply is parsed and validated into `json`", async () => {
    const t = await tenantWithKeys("llm-json");
    const schema = { type: "object", required: ["total", "ok"], properties: { total: { type: "number", minimum: 5 }, ok: { type: "boolean" } } };
    const e = await run(t.operator, [{ id: "s", type: "llm", model: "standin-small", prompt: "Total?", output_schema: schema }]);
    expect(e.status).toBe("completed");
    const out = (await stepsOf(t.viewer, e.id))[0]!.output as LlmOutput;
    expect(out.json).toEqual({ total: 5, ok: true });
    expect(JSON.parse(out.text)).toEqual(out.json);
  });

  it("output_schema: an invalid reply fails the attempt LLM_OUTPUT_INVALID, is retried, and every attempt is billed", async () => {
    const t = await tenantWithKeys("llm-invalid");
    const model = `standin-wrong-schema:${t.tenant}`;
    const schema = { type: "object", required: ["total"], properties: { total: { type: "number" } } };
    const e = await run(t.operator, [
      { id: "s", type: "llm", model, prompt: "Total?", output_schema: schema, retry: { max_attempts: 2, initial_interval_ms: 0 } },
    ]);
    expect(e.status).toBe("failed");
    expect(e.error).toMatchObject({ code: "LLM_OUTPUT_INVALID", step_id: "s", attempt: 2 });
    expect(await callsTo(model)).toBe(2);
    const ledger = await costsOf(t.viewer, e.id);
    expect(ledger.items.map((i) => [i.attempt, i.call, i.model])).toEqual([
      [1, 1, model],
      [2, 1, model],
    ]);
    // No price for this model: recorded, with its tokens, at an unknown cost.
    expect(ledger.items.every((i) => i.cost_usd === null && i.price === null && i.input_tokens > 0)).toBe(true);
    expect(ledger.total_usd).toBe(0);
  });

  it("a reply that is not JSON also fails LLM_OUTPUT_INVALID", async () => {
    const t = await tenantWithKeys("llm-notjson");
    const e = await run(t.operator, [
      { id: "s", type: "llm", model: "standin-invalid-json", prompt: "Total?", output_schema: { type: "object" }, retry: { max_attempts: 1 } },
    ]);
    expect(e.error).toMatchObject({ code: "LLM_OUTPUT_INVALID" });
  });

  it("fallback_models: moves on after a 429 and a 500 within one attempt; each call is a ledger record", async () => {
    const t = await tenantWithKeys("llm-fallback");
    const [m429, m500] = [`standin-429:${t.tenant}`, `standin-500:${t.tenant}`];
    const e = await run(t.operator, [{ id: "s", type: "llm", model: m429, fallback_models: [m500, "standin-small"], prompt: "hello" }]);
    expect(e.status).toBe("completed");
    const out = (await stepsOf(t.viewer, e.id))[0]!.output as LlmOutput;
    expect(out.model).toBe("standin-small");
    expect([await callsTo(m429), await callsTo(m500)]).toEqual([1, 1]);
    const ledger = await costsOf(t.viewer, e.id);
    expect(ledger.items.map((i) => [i.attempt, i.call, i.model, i.input_tokens])).toEqual([
      [1, 1, m429, 0],
      [1, 2, m500, 0],
      [1, 3, "standin-small", tokens("hello")],
    ]);
    // The refused calls used no tokens: they cost 0, though no price is known for their models.
    expect(ledger.items.slice(0, 2).map((i) => [i.cost_usd, i.price])).toEqual([
      [0, null],
      [0, null],
    ]);
    expect(out.cost_usd).toBe(ledger.items[2]!.cost_usd);
    expect(out.cost_usd).toBeCloseTo((tokens("hello") * SMALL.input_usd_per_mtok + out.usage.output_tokens * SMALL.output_usd_per_mtok) / 1e6, 12);
  });

  it("a context-length refusal moves on too; a 429 on the last model fails the attempt retryably", async () => {
    const t = await tenantWithKeys("llm-ctx");
    const ok = await run(t.operator, [{ id: "s", type: "llm", model: "standin-context-length", fallback_models: ["standin-small"], prompt: "long" }]);
    expect(((await stepsOf(t.viewer, ok.id))[0]!.output as LlmOutput).model).toBe("standin-small");
    const failed = await run(t.operator, [{ id: "s", type: "llm", model: "standin-context-length", prompt: "long", retry: { max_attempts: 3 } }]);
    expect(failed.error).toMatchObject({ code: "LLM_CONTEXT_LENGTH", attempt: 1 }); // not retried: the prompt does not shrink
    const limited = await run(t.operator, [{ id: "s", type: "llm", model: "standin-429", prompt: "x", retry: { max_attempts: 1 } }]);
    expect(limited.error).toMatchObject({ code: "HTTP_STATUS", details: { status: 429 } });
  });

  it("secrets in prompts are masked in what is recorded", async () => {
    const t = await tenantWithKeys("llm-secret");
    const e = await run(t.operator, [{ id: "s", type: "llm", model: "standin-small", prompt: "token={{ secrets.API_TOKEN }}" }]);
    const out = (await stepsOf(t.viewer, e.id))[0]!.output as LlmOutput;
    expect(out.text).toBe("Stand-in reply to: token=***");
  });

  it("registration checks: duplicate models, an output_schema that is not a schema, a model name that is not one", async () => {
    const t = await tenantWithKeys("llm-check");
    const res = await call("POST", "/v1/workflows", {
      key: t.admin,
      body: {
        id: "bad-llm",
        steps: [
          { id: "a", type: "llm", model: "m1", fallback_models: ["m1"], prompt: "x" },
          { id: "b", type: "llm", model: "m1", prompt: "x", output_schema: { type: "nope" } },
        ],
      },
    });
    expect(res.status, res.text).toBe(400);
    const codes = (res.body as { errors: { path: string; code: string }[] }).errors.map((e) => [e.path, e.code]);
    expect(codes).toEqual(expect.arrayContaining([["/steps/0/fallback_models/0", "DUPLICATE_MODEL"], expect.arrayContaining(["INVALID_OUTPUT_SCHEMA"])]));
    const badName = await call("POST", "/v1/workflows", { key: t.admin, body: { id: "bad-name", steps: [{ id: "a", type: "llm", model: "{{ input.m }}", prompt: "x" }] } });
    expect(badName.status).toBe(400);
  });
});

describe("declared costs", () => {
  it("cost_usd as a number and as an expression over the output: one ledger record per successful attempt", async () => {
    const t = await tenantWithKeys("cost-declared");
    const e = await run(t.operator, [
      { id: "fixed", type: "transform", expression: "1", cost_usd: 0.25 },
      { id: "paid", type: "http", request: { method: "GET", url: `${UPSTREAM}/json?cost=0.125` }, cost_usd: "{{ output.status / 1600 }}" },
    ]);
    expect(e.status).toBe("completed");
    const ledger = await costsOf(t.viewer, e.id);
    const byStep = Object.fromEntries(ledger.items.map((i) => [i.step_id, i]));
    expect(byStep.fixed).toMatchObject({ model: null, cost_usd: 0.25, input_tokens: 0, price: null });
    expect(byStep.paid).toMatchObject({ model: null, cost_usd: 0.125 });
    expect(ledger.total_usd).toBe(0.375);
  });

  it("a cost that is not a non-negative number fails the step", async () => {
    const t = await tenantWithKeys("cost-bad");
    const e = await run(t.operator, [{ id: "s", type: "transform", expression: "'free'", cost_usd: "{{ output }}" }]);
    expect(e.error).toMatchObject({ code: "EXPRESSION_ERROR", step_id: "s" });
  });

  it("a templated cost_usd must be exactly one expression", async () => {
    const t = await tenantWithKeys("cost-check");
    const res = await call("POST", "/v1/workflows", { key: t.admin, body: { id: "c", steps: [{ id: "s", type: "transform", expression: "1", cost_usd: "about {{ 1 }}" }] } });
    expect(res.status).toBe(400);
    expect(res.text).toContain("INVALID_COST");
  });
});

describe("prices", () => {
  it("an execution prices its calls with the prices in force when it started; a price change leaves past records alone", async () => {
    const t = await tenantWithKeys("llm-prices");
    const put = await call("PUT", "/v1/prices/standin-small", { key: t.admin, body: { input_usd_per_mtok: 1000, output_usd_per_mtok: 2000 } });
    expect(put.status, put.text).toBe(200);
    const first = await run(t.operator, [{ id: "s", type: "llm", model: "standin-small", prompt: "abcd" }]);
    const before = await costsOf(t.viewer, first.id);
    expect(before.items[0]!.price).toEqual({ input_usd_per_mtok: 1000, output_usd_per_mtok: 2000 });
    await call("PUT", "/v1/prices/standin-small", { key: t.admin, body: { input_usd_per_mtok: 1, output_usd_per_mtok: 1 } });
    expect(await costsOf(t.viewer, first.id)).toEqual(before);
    const second = await run(t.operator, [{ id: "s", type: "llm", model: "standin-small", prompt: "abcd" }]);
    expect((await costsOf(t.viewer, second.id)).items[0]!.price).toEqual({ input_usd_per_mtok: 1, output_usd_per_mtok: 1 });
  });
});
