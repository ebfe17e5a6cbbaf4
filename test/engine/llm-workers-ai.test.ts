/**
 * llm steps whose model is `@cf/…` go to the Workers AI binding when the deployment has one (SPEC §7).
 * Workers AI runs only on Cloudflare's network, so here the binding is a local stand-in with the
 * binding's shape (`run(model, inputs, { signal })` → `{ response, usage? }`, or a thrown error),
 * recording what it was asked; everything else — the llm kind, fallbacks, pricing, the ledger's
 * calls — is the real code, and the OpenAI-compatible fallback goes to the loopback LLM stand-in.
 */
import { describe, expect, it } from "vitest";
import type { LlmStep } from "../../src/schemas/definition";
import type { WorkersAi } from "../../src/engine/steps/types";
import { UsageMeter } from "../../src/engine/usage";
import { context, failure, run } from "../helpers/step-context";

type Reply = { response?: unknown; usage?: { prompt_tokens?: number; completion_tokens?: number } };

/** A Workers AI binding whose models answer as `replies` says (a function may throw). */
function workersAi(replies: Record<string, (inputs: Record<string, unknown>) => Reply>): WorkersAi & { calls: { model: string; inputs: Record<string, unknown> }[] } {
  const calls: { model: string; inputs: Record<string, unknown> }[] = [];
  return {
    calls,
    async run(model, inputs) {
      calls.push({ model, inputs });
      const reply = replies[model];
      if (!reply) throw new Error(`AiError: No such model ${model}`);
      return reply(inputs);
    },
  };
}

const PRICES = {
  "@cf/meta/llama-3.1-8b-instruct": { input_usd_per_mtok: 0.3, output_usd_per_mtok: 0.6 },
  "standin-small": { input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 },
};

function llm(extra: Partial<LlmStep> = {}): LlmStep {
  return { id: "ask", type: "llm", model: "@cf/meta/llama-3.1-8b-instruct", prompt: "Name a colour.", ...extra };
}

function completedOutput(outcome: Awaited<ReturnType<typeof run>>): Record<string, unknown> {
  if (outcome.kind !== "completed") throw new Error(`expected completed, got ${outcome.kind}`);
  return outcome.output as Record<string, unknown>;
}

describe("llm steps on Workers AI", () => {
  it("sends the messages and limits to the binding, and records the call at the model's price", async () => {
    const ai = workersAi({ "@cf/meta/llama-3.1-8b-instruct": () => ({ response: "Teal.", usage: { prompt_tokens: 21, completion_tokens: 3 } }) });
    const usage = new UsageMeter(PRICES);
    const ctx = context({ usage, llm: { ...context().llm, ai } });
    const out = completedOutput(await run(llm({ system: "Be brief.", max_tokens: 16, temperature: 0.2 }), ctx));

    expect(ai.calls).toHaveLength(1);
    expect(ai.calls[0]!.model).toBe("@cf/meta/llama-3.1-8b-instruct");
    expect(ai.calls[0]!.inputs).toMatchObject({
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Name a colour." }],
      max_tokens: 16,
      temperature: 0.2,
    });
    expect(ai.calls[0]!.inputs).not.toHaveProperty("model");
    expect(out).toEqual({
      text: "Teal.",
      model: "@cf/meta/llama-3.1-8b-instruct",
      usage: { input_tokens: 21, output_tokens: 3 },
      cost_usd: (21 * 0.3 + 3 * 0.6) / 1e6,
      finish_reason: "stop",
    });
    expect(usage.calls).toEqual([
      { model: "@cf/meta/llama-3.1-8b-instruct", input_tokens: 21, output_tokens: 3, cost_usd: (21 * 0.3 + 3 * 0.6) / 1e6, price: PRICES["@cf/meta/llama-3.1-8b-instruct"] },
    ]);
  });

  it("estimates tokens when the binding reports none, and parses a JSON answer against output_schema", async () => {
    const ai = workersAi({ "@cf/meta/llama-3.1-8b-instruct": () => ({ response: { colour: "teal" } }) });
    const ctx = context({ usage: new UsageMeter(PRICES), llm: { ...context().llm, ai } });
    const schema = { type: "object", required: ["colour"], properties: { colour: { type: "string" } } };
    const out = completedOutput(await run(llm({ output_schema: schema }), ctx));
    expect(out.json).toEqual({ colour: "teal" });
    expect(out.text).toBe('{"colour":"teal"}');
    // ⌈characters ÷ 4⌉ of the prompt and of the answer.
    expect(out.usage).toEqual({ input_tokens: Math.ceil("Name a colour.".length / 4), output_tokens: Math.ceil('{"colour":"teal"}'.length / 4) });
  });

  it("moves on to the fallbacks after a context-length refusal and a failure, to an OpenAI-compatible model; every call is billed", async () => {
    const ai = workersAi({
      "@cf/meta/llama-3.1-8b-instruct": () => {
        throw new Error("AiError: 5021: The input exceeded the maximum context length of this model");
      },
      "@cf/mistral/mistral-7b-instruct-v0.1": () => {
        throw new Error("AiError: 3040: Capacity temporarily exceeded");
      },
    });
    const usage = new UsageMeter(PRICES);
    const ctx = context({ usage, llm: { ...context().llm, ai } });
    const out = completedOutput(await run(llm({ fallback_models: ["@cf/mistral/mistral-7b-instruct-v0.1", "standin-small"] }), ctx));

    expect(ai.calls.map((c) => c.model)).toEqual(["@cf/meta/llama-3.1-8b-instruct", "@cf/mistral/mistral-7b-instruct-v0.1"]);
    expect(out.model).toBe("standin-small");
    expect(out.text).toContain("Name a colour.");
    // The refused calls used no tokens: recorded, at 0 (priced or not).
    expect(usage.calls.map((c) => [c.model, c.cost_usd === 0])).toEqual([
      ["@cf/meta/llama-3.1-8b-instruct", true],
      ["@cf/mistral/mistral-7b-instruct-v0.1", true],
      ["standin-small", false],
    ]);
  });

  it("with no fallback left, a refusal fails the attempt (a context-length refusal is not retried)", async () => {
    const ai = workersAi({
      "@cf/meta/llama-3.1-8b-instruct": () => {
        throw new Error("AiError: too many tokens in the prompt");
      },
    });
    const error = await failure(llm(), context({ usage: new UsageMeter(PRICES), llm: { ...context().llm, ai } }));
    expect(error.code).toBe("LLM_CONTEXT_LENGTH");
    expect(error.retryable).toBe(false);
  });

  it("without the binding, an @cf/ model goes to the OpenAI-compatible endpoint like any other", async () => {
    const ctx = context({ usage: new UsageMeter(PRICES), llm: { ...context().llm, ai: undefined } });
    const out = completedOutput(await run(llm(), ctx));
    // The loopback stand-in answered (it answers any model name), not a Workers AI binding.
    expect(out).toMatchObject({ model: "@cf/meta/llama-3.1-8b-instruct", text: "Stand-in reply to: Name a colour." });
  });
});
