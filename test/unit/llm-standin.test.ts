/**
 * The local LLM stand-in (scripts/llm-standin.mjs), reached as llm steps reach it in this project:
 * a fetch to http://127.0.0.1:9999/llm/v1/… that the upstream worker (test/upstream/worker.mjs)
 * routes to the stand-in, which requires the key `test-llm-key` (LLM_API_KEY in vitest.config.ts).
 *
 * The upstream, and so the stand-in's call log, is shared with every test file that runs at the
 * same time: each test here uses its own model names (`<model>:<marker>`, the part after ":" is a
 * free tag) and reads and clears only those with `?model=`.
 */
import { type Schema, Validator } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import { marker } from "../helpers/upstream";

const LLM = "http://127.0.0.1:9999/llm/v1";
const KEY = "test-llm-key";

interface Completion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

interface OpenAiError {
  error: { message: string; type: string; code: string | null };
}

interface Call {
  model: string | null;
  status: number | null;
  at: string;
}

function complete(body: unknown, init: { key?: string | null; signal?: AbortSignal } = {}): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const key = init.key === undefined ? KEY : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  return fetch(`${LLM}/chat/completions`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

async function completion(body: unknown): Promise<Completion> {
  const res = await complete(body);
  expect(res.status).toBe(200);
  return (await res.json()) as Completion;
}

async function calls(model: string): Promise<Call[]> {
  const res = await fetch(`${LLM}/_calls?${new URLSearchParams({ model })}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { calls: Call[] }).calls;
}

/** `<name>:<marker>`: behaves as `name`, counted apart from every other test's calls. */
function tagged(name: string): string {
  return `${name}:${marker("t")}`;
}

const user = (content: string) => [{ role: "user", content }];

const SCHEMA: Schema = {
  type: "object",
  properties: {
    title: { type: "string", minLength: 40 },
    decision: { type: "string", enum: ["approve", "reject"] },
    kind: { const: "invoice" },
    due: { type: "string", format: "date-time" },
    amount: { type: "number", minimum: 10.5 },
    count: { type: "integer", minimum: 3 },
    urgent: { type: "boolean" },
    note: { type: ["string", "null"] },
    lines: {
      type: "array",
      minItems: 2,
      items: { type: "object", properties: { sku: { type: "string" }, qty: { type: "integer", minimum: 1 } }, required: ["sku", "qty"], additionalProperties: false },
    },
    tags: { type: "array", items: { type: "string" } },
    customer: { $ref: "#/$defs/customer" },
  },
  required: ["title", "decision", "kind", "due", "amount", "count", "urgent", "note", "lines", "tags", "customer"],
  additionalProperties: false,
  $defs: { customer: { type: "object", properties: { id: { type: "string" } }, required: ["id"], additionalProperties: false } },
};

const JSON_SCHEMA_FORMAT = { type: "json_schema", json_schema: { name: "invoice_decision", schema: SCHEMA, strict: true } };

describe("the LLM stand-in, through the test upstream", () => {
  it("answers in the Chat Completions shape with deterministic text and exact token counts", async () => {
    const model = tagged("standin-small");
    const body = {
      model,
      temperature: 0.7,
      messages: [
        { role: "system", content: "You are terse." }, // 14 characters
        { role: "user", content: "Summarise the invoice INV-1001." }, // 31 characters
      ],
    };
    const first = await completion(body);
    expect(first).toMatchObject({
      object: "chat.completion",
      model,
      choices: [{ index: 0, message: { role: "assistant", content: "Stand-in reply to: Summarise the invoice INV-1001." }, finish_reason: "stop" }],
      // prompt: ceil(45 / 4) = 12; reply: 50 characters, ceil(50 / 4) = 13
      usage: { prompt_tokens: 12, completion_tokens: 13, total_tokens: 25 },
    });
    expect(first.id).toMatch(/^chatcmpl-/);
    expect(Number.isInteger(first.created)).toBe(true);
    const again = await completion(body);
    expect(again.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
    expect(again.usage).toEqual(first.usage);
  });

  it("quotes the first 200 characters of the last user message", async () => {
    const long = "a".repeat(300);
    const reply = await completion({
      model: tagged("gpt-4o-mini"),
      messages: [{ role: "user", content: "first question" }, { role: "assistant", content: "an answer" }, { role: "user", content: long }],
    });
    expect(reply.choices[0]?.message.content).toBe(`Stand-in reply to: ${"a".repeat(200)}`);
    // prompt: 14 + 9 + 300 = 323 characters → 81; reply: 219 characters → 55
    expect(reply.usage).toEqual({ prompt_tokens: 81, completion_tokens: 55, total_tokens: 136 });
  });

  it("cuts a reply at max_tokens × 4 characters with finish_reason length", async () => {
    const reply = await completion({ model: tagged("standin-small"), messages: user("hello there"), max_tokens: 3 });
    expect(reply.choices[0]).toMatchObject({ message: { content: "Stand-in rep" }, finish_reason: "length" });
    expect(reply.usage).toEqual({ prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
    const roomy = await completion({ model: tagged("standin-small"), messages: user("hello there"), max_tokens: 100 });
    expect(roomy.choices[0]).toMatchObject({ message: { content: "Stand-in reply to: hello there" }, finish_reason: "stop" });
  });

  it("answers a json_schema request with JSON that validates against the schema", async () => {
    const reply = await completion({ model: tagged("standin-small"), messages: user("Decide."), response_format: JSON_SCHEMA_FORMAT });
    const content = reply.choices[0]?.message.content ?? "";
    const value = JSON.parse(content) as Record<string, unknown>;
    const result = new Validator(SCHEMA, "2020-12").validate(value);
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    expect(value).toMatchObject({ decision: "approve", kind: "invoice", count: 3, amount: 10.5, urgent: true });
    expect((value.lines as unknown[]).length).toBe(2);
    expect(reply.usage.completion_tokens).toBe(Math.ceil(content.length / 4));
    const again = await completion({ model: tagged("standin-large"), messages: user("Decide."), response_format: JSON_SCHEMA_FORMAT });
    expect(again.choices[0]?.message.content).toBe(content);
  });

  it("answers a json_object request with a JSON object", async () => {
    const reply = await completion({ model: tagged("standin-small"), messages: user("hi"), response_format: { type: "json_object" } });
    expect(JSON.parse(reply.choices[0]?.message.content ?? "")).toEqual({ reply: "Stand-in reply to: hi" });
  });

  it("standin-429 is rate limited, with Retry-After", async () => {
    const model = tagged("standin-429");
    const res = await complete({ model, messages: user("hi") });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(((await res.json()) as OpenAiError).error).toMatchObject({ type: "rate_limit_exceeded", message: expect.any(String) });
    expect((await calls(model)).map((c) => c.status)).toEqual([429]);
  });

  it("standin-500 fails with a server error", async () => {
    const res = await complete({ model: tagged("standin-500"), messages: user("hi") });
    expect(res.status).toBe(500);
    expect(((await res.json()) as OpenAiError).error.type).toBe("server_error");
  });

  it("standin-context-length refuses with context_length_exceeded", async () => {
    const res = await complete({ model: tagged("standin-context-length"), messages: user("hi") });
    expect(res.status).toBe(400);
    expect(((await res.json()) as OpenAiError).error).toMatchObject({ type: "invalid_request_error", code: "context_length_exceeded" });
  });

  it("standin-slow-<ms> answers normally after that long", async () => {
    const started = Date.now();
    const reply = await completion({ model: tagged("standin-slow-300"), messages: user("hi") });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(reply.choices[0]?.message.content).toBe("Stand-in reply to: hi");
  });

  it("standin-slow stops when its client goes away", async () => {
    const model = tagged("standin-slow");
    const controller = new AbortController();
    const pending = complete({ model, messages: user("hi") }, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    await expect(pending).rejects.toThrow();
    // The stand-in saw the abort (499) well before its 5 s were up.
    await expect.poll(async () => (await calls(model)).map((c) => c.status), { timeout: 3000, interval: 50 }).toEqual([499]);
  });

  it("standin-invalid-json answers JSON requests with text that is not JSON, other requests normally", async () => {
    const bad = await completion({ model: tagged("standin-invalid-json"), messages: user("hi"), response_format: JSON_SCHEMA_FORMAT });
    const content = bad.choices[0]?.message.content ?? "";
    expect(() => JSON.parse(content)).toThrow();
    expect(bad.choices[0]?.finish_reason).toBe("stop");
    const plain = await completion({ model: tagged("standin-invalid-json"), messages: user("hi") });
    expect(plain.choices[0]?.message.content).toBe("Stand-in reply to: hi");
  });

  it("standin-wrong-schema answers JSON that does not match the schema", async () => {
    const reply = await completion({ model: tagged("standin-wrong-schema"), messages: user("hi"), response_format: JSON_SCHEMA_FORMAT });
    const value: unknown = JSON.parse(reply.choices[0]?.message.content ?? "");
    expect(value).toEqual({ unexpected: true });
    expect(new Validator(SCHEMA, "2020-12").validate(value).valid).toBe(false);
    const arraySchema = { type: "json_schema", json_schema: { name: "list", schema: { type: "array", items: { type: "string" } } } };
    const other = await completion({ model: tagged("standin-wrong-schema"), messages: user("hi"), response_format: arraySchema });
    expect(Array.isArray(JSON.parse(other.choices[0]?.message.content ?? ""))).toBe(false);
  });

  it("requires the API key", async () => {
    const model = tagged("standin-small");
    const missing = await complete({ model, messages: user("hi") }, { key: null });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as OpenAiError).error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
    const wrong = await complete({ model, messages: user("hi") }, { key: "not-the-key" });
    expect(wrong.status).toBe(401);
    // A misbehaving model is refused the same way: auth comes first.
    const refused = await complete({ model: tagged("standin-500"), messages: user("hi") }, { key: "not-the-key" });
    expect(refused.status).toBe(401);
    expect((await calls(model)).map((c) => c.status)).toEqual([401, 401]);
  });

  it("refuses a malformed body with an OpenAI-style 400", async () => {
    const notJson = await complete("{ not json");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as OpenAiError).error.type).toBe("invalid_request_error");
    const model = tagged("standin-small");
    for (const body of [
      { model, messages: [] },
      { model, messages: [{ role: "narrator", content: "x" }] },
      { model, messages: user("hi"), max_tokens: 0 },
      { model, messages: user("hi"), response_format: { type: "yaml" } },
      { messages: user("hi") },
    ]) {
      const res = await complete(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as OpenAiError).error).toMatchObject({ type: "invalid_request_error", message: expect.any(String) });
    }
    expect((await calls(model)).map((c) => c.status)).toEqual([400, 400, 400, 400]);
  });

  it("keeps a call log in arrival order, refused calls included, and clears it", async () => {
    const ok = tagged("standin-small");
    const limited = tagged("standin-429");
    await complete({ model: ok, messages: user("one") });
    await complete({ model: limited, messages: user("two") });
    await complete({ model: ok, messages: user("three") });
    await complete({ model: ok, messages: user("four") }, { key: "wrong" });

    const all = ((await (await fetch(`${LLM}/_calls`)).json()) as { calls: Call[] }).calls.filter((c) => c.model === ok || c.model === limited);
    expect(all.map((c) => [c.model, c.status])).toEqual([
      [ok, 200],
      [limited, 429],
      [ok, 200],
      [ok, 401],
    ]);
    for (const c of all) expect(new Date(c.at).toISOString()).toBe(c.at);
    expect(Date.parse(all[3]!.at)).toBeGreaterThanOrEqual(Date.parse(all[0]!.at));

    const cleared = await fetch(`${LLM}/_calls?${new URLSearchParams({ model: ok })}`, { method: "DELETE" });
    expect(await cleared.json()).toEqual({ cleared: 3 });
    expect(await calls(ok)).toEqual([]);
    expect((await calls(limited)).length).toBe(1);
  });

  it("answers other paths and methods with OpenAI-style errors", async () => {
    const unknown = await fetch(`${LLM}/embeddings`, { method: "POST", body: "{}" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as OpenAiError).error.type).toBe("invalid_request_error");
    const get = await fetch(`${LLM}/chat/completions`);
    expect(get.status).toBe(405);
  });
});
