/**
 * Step kinds run directly with a real StepContext. Its `fetch` is the real global fetch:
 * vitest.config.ts routes every outbound request of this Worker to the local upstream worker
 * (test/upstream/worker.mjs), so nothing here can leave the machine. Requests carry a unique
 * marker so `/__hits?contains=` counts only this test's requests, even with other files running.
 *
 * The NETWORK_ERROR test makes the upstream cut a response off mid-body; workerd logs that as an
 * "uncaught exception … connection lost" on stderr. That line is expected.
 */
import { describe, expect, it } from "vitest";
import type { HttpStep, PluginStep, TransformStep, WaitStep } from "../../src/schemas/definition";
import { NonRetriableError } from "../../src/engine/errors";
import { MAX_RESPONSE_BYTES } from "../../src/engine/steps/http";
import type { StepContext, StepOutcome } from "../../src/engine/steps/types";
import { PLUGIN_NAMES } from "../../src/engine/plugins";
import { TOKEN, context, failure, run } from "../helpers/step-context";

const UPSTREAM = "http://127.0.0.1:9999";

function http(request: HttpStep["request"], extra: Partial<HttpStep> = {}): HttpStep {
  return { id: "call", type: "http", request, ...extra };
}

function output(outcome: StepOutcome): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  expect(outcome.kind).toBe("completed");
  if (outcome.kind !== "completed") throw new Error(`expected a completed outcome, got ${outcome.kind}`);
  return outcome.output as { status: number; headers: Record<string, string>; body: Record<string, unknown> };
}

const marker = () => `m-${crypto.randomUUID()}`;

/** Requests the upstream received whose URL contains `text` (and, when given, with that Host). */
async function hits(text: string, host?: string): Promise<number> {
  const params = new URLSearchParams({ contains: text, ...(host ? { host } : {}) });
  const res = await fetch(`${UPSTREAM}/__hits?${params}`);
  return ((await res.json()) as { hits: number }).hits;
}

describe("outbound routing of the test environment", () => {
  it("sends every fetch of this Worker to the local upstream, recording it", async () => {
    const m = marker();
    const res = await fetch(`${UPSTREAM}/echo?m=${m}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ host: "127.0.0.1:9999", path: "/echo", query: { m } });
    expect(await hits(m)).toBe(1);
    expect(await hits(m, "127.0.0.1:9999")).toBe(1);
  });
});

describe("http runner", () => {
  it("round-trips a templated request through /echo, with an Idempotency-Key and secrets masked in the output", async () => {
    const ctx = context();
    const step = http({
      method: "POST",
      url: `${UPSTREAM}/echo?fixed=1`,
      headers: { "X-Invoice": "{{ input.invoice_id }}", authorization: "Bearer {{ secrets.TOKEN }}", "x-optional": "{{ input.missing }}" },
      query: { id: "{{ input.invoice_id }}", amount: "{{ input.amount }}", text: "a b&c", skipped: "{{ input.missing }}" },
      body: { id: "{{ input.invoice_id }}", lines: "{{ steps.fetch.output.body.lines }}", total: "{{ $sum(steps.fetch.output.body.lines.amount) }}" },
    });
    const out = output(await run(step, ctx));
    expect(out.status).toBe(200);
    expect(out.headers["content-type"]).toBe("application/json");
    const echo = out.body as { method: string; query: Record<string, string>; headers: Record<string, string>; body: string };
    expect(echo.method).toBe("POST");
    expect(echo.query).toEqual({ fixed: "1", id: "inv-42", amount: "1200", text: "a b&c" });
    expect(echo.headers["x-invoice"]).toBe("inv-42");
    expect(echo.headers["x-optional"]).toBeUndefined();
    expect(echo.headers["idempotency-key"]).toBe(`${ctx.executionId}:call`);
    expect(echo.headers["content-type"]).toBe("application/json");
    // the token was sent (the upstream saw it), but the recorded output masks it
    expect(echo.headers.authorization).toBe("Bearer ***");
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(ctx.secrets.used.has(TOKEN)).toBe(true);
    expect(JSON.parse(echo.body)).toEqual({ id: "inv-42", lines: [{ amount: 10 }, { amount: 32 }], total: 42 });
  });

  it("sends the same Idempotency-Key on every attempt of a step, and another one for another step or execution", async () => {
    const executionId = `ex-${crypto.randomUUID()}`;
    const keyOf = async (overrides: Partial<StepContext>) => {
      const echo = output(await run(http({ method: "POST", url: `${UPSTREAM}/echo`, body: "x" }), context({ executionId, ...overrides }))).body;
      return (echo.headers as Record<string, string>)["idempotency-key"];
    };
    const first = await keyOf({ attempt: 1 });
    expect(first).toBe(`${executionId}:call`);
    expect(await keyOf({ attempt: 2 })).toBe(first);
    expect(await keyOf({ attempt: 7 })).toBe(first);
    expect(await keyOf({ attempt: 1, stepId: "other" })).toBe(`${executionId}:other`);
    expect(await keyOf({ attempt: 1, executionId: `ex-${crypto.randomUUID()}` })).not.toBe(first);
  });

  it("keeps an author's Idempotency-Key and content-type, sends text bodies as text and exact templates as JSON", async () => {
    const text = output(
      await run(http({ method: "PUT", url: `${UPSTREAM}/echo`, headers: { "idempotency-key": "mine" }, body: "invoice {{ input.invoice_id }}" })),
    ).body as { headers: Record<string, string>; body: string };
    expect(text.headers["idempotency-key"]).toBe("mine");
    expect(text.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(text.body).toBe("invoice inv-42");

    const exact = output(await run(http({ method: "POST", url: `${UPSTREAM}/echo`, body: "{{ input.invoice_id }}" }))).body as { body: string };
    expect(exact.body).toBe('"inv-42"');

    const custom = output(
      await run(http({ method: "PATCH", url: `${UPSTREAM}/echo`, headers: { "content-type": "application/merge-patch+json" }, body: { a: 1 } })),
    ).body as { headers: Record<string, string>; body: string };
    expect(custom.headers["content-type"]).toBe("application/merge-patch+json");
    expect(custom.body).toBe('{"a":1}');
  });

  it("parses JSON responses and keeps other bodies as text", async () => {
    expect(output(await run(http({ method: "GET", url: `${UPSTREAM}/json` }))).body).toEqual({ name: "stepline", items: [1, 2, 3], nested: { ok: true } });
    expect(output(await run(http({ method: "GET", url: `${UPSTREAM}/text` }))).body).toBe("plain text body");
    const empty = output(await run(http({ method: "GET", url: `${UPSTREAM}/status/204` })));
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it("masks a secret in the message and details of an error", async () => {
    const error = await failure(http({ method: "GET", url: `${UPSTREAM}/status/401?token={{ secrets.TOKEN }}` }));
    expect(error.code).toBe("HTTP_STATUS");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("token=***");
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(TOKEN);

    const refused = await failure(http({ method: "GET", url: "http://localhost:9999/{{ secrets.TOKEN }}" }));
    expect(refused.code).toBe("SSRF_BLOCKED");
    expect(JSON.stringify({ message: refused.message, details: refused.details })).not.toContain(TOKEN);
  });

  it("fails on an unexpected status: retryable for 408/429/5xx, not for other 4xx", async () => {
    const unavailable = await failure(http({ method: "GET", url: `${UPSTREAM}/status/503` }));
    expect(unavailable).toMatchObject({ code: "HTTP_STATUS", retryable: true, retryAfterMs: undefined });
    expect(unavailable.details).toEqual({ status: 503, body: '{"status":503}' });
    expect((await failure(http({ method: "GET", url: `${UPSTREAM}/status/408` }))).retryable).toBe(true);
    expect((await failure(http({ method: "GET", url: `${UPSTREAM}/status/500` }))).retryable).toBe(true);

    const notFound = await failure(http({ method: "GET", url: `${UPSTREAM}/status/404` }));
    expect(notFound).toBeInstanceOf(NonRetriableError);
    expect(notFound).toMatchObject({ code: "HTTP_STATUS", retryable: false, details: { status: 404 } });
  });

  it("honours Retry-After in seconds and as an HTTP-date", async () => {
    const seconds = await failure(http({ method: "GET", url: `${UPSTREAM}/status/429?retry_after=7` }));
    expect(seconds).toMatchObject({ code: "HTTP_STATUS", retryable: true, retryAfterMs: 7000 });

    const now = Date.parse("2026-03-01T12:00:00Z");
    const date = encodeURIComponent("Sun, 01 Mar 2026 12:00:30 GMT");
    const dated = await failure(http({ method: "GET", url: `${UPSTREAM}/status/503?retry_after=${date}` }), context({ now: () => now }));
    expect(dated.retryAfterMs).toBe(30_000);
  });

  it("counts expect_status as success", async () => {
    const out = output(await run(http({ method: "GET", url: `${UPSTREAM}/status/404` }, { expect_status: [200, 404] })));
    expect(out.status).toBe(404);
    const error = await failure(http({ method: "GET", url: `${UPSTREAM}/json` }, { expect_status: [201] }));
    expect(error).toMatchObject({ code: "HTTP_STATUS", retryable: false });
  });

  it("turns an abort by timeout into STEP_TIMEOUT, promptly", async () => {
    const m = marker();
    const started = Date.now();
    const error = await failure(http({ method: "GET", url: `${UPSTREAM}/slow?ms=5000&m=${m}` }), context({ signal: AbortSignal.timeout(150) }));
    expect(error).toMatchObject({ code: "STEP_TIMEOUT", retryable: true });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("throws the StepError an abort carries (cancel), and NETWORK_ERROR for another reason", async () => {
    const cancel = new AbortController();
    const cancelled = new NonRetriableError("CANCELLED", "execution cancelled");
    setTimeout(() => cancel.abort(cancelled), 50);
    expect(await failure(http({ method: "GET", url: `${UPSTREAM}/slow?ms=5000` }), context({ signal: cancel.signal }))).toBe(cancelled);

    const other = new AbortController();
    other.abort("stop");
    expect(await failure(http({ method: "GET", url: `${UPSTREAM}/echo` }), context({ signal: other.signal }))).toMatchObject({
      code: "NETWORK_ERROR",
      retryable: true,
    });
  });

  it("turns a transport failure into a retryable NETWORK_ERROR", async () => {
    expect(await failure(http({ method: "GET", url: `${UPSTREAM}/broken` }))).toMatchObject({ code: "NETWORK_ERROR", retryable: true });
  });

  it("follows redirects, re-checking each hop, with the method rules browsers use", async () => {
    const to = (path: string, status: number) => `${UPSTREAM}/redirect?status=${status}&to=${encodeURIComponent(path)}`;
    const followed = output(await run(http({ method: "GET", url: to("/echo?hop=1", 302) })));
    expect(followed.body).toMatchObject({ method: "GET", path: "/echo", query: { hop: "1" } });

    const seeOther = output(await run(http({ method: "POST", url: to("/echo", 303), body: { a: 1 } }))).body;
    expect(seeOther).toMatchObject({ method: "GET", body: null });
    expect((seeOther.headers as Record<string, string>)["content-type"]).toBeUndefined();

    const found = output(await run(http({ method: "POST", url: to("/echo", 301), body: { a: 1 } }))).body;
    expect(found).toMatchObject({ method: "GET", body: null });

    const temporary = output(await run(http({ method: "POST", url: to("/echo", 307), body: { a: 1 } }))).body;
    expect(temporary).toMatchObject({ method: "POST", body: '{"a":1}' });
    const permanent = output(await run(http({ method: "PUT", url: to("/echo", 308), body: "x" }))).body;
    expect(permanent).toMatchObject({ method: "PUT", body: "x" });
  });

  it("returns a redirect listed in expect_status instead of following it", async () => {
    const out = output(await run(http({ method: "GET", url: `${UPSTREAM}/redirect?status=302&to=/echo` }, { expect_status: [302] })));
    expect(out.status).toBe(302);
    expect(out.headers.location).toBe("/echo");
  });

  it("stops after 5 redirects", async () => {
    let url = `${UPSTREAM}/echo`;
    for (let i = 0; i < 6; i++) url = `${UPSTREAM}/redirect?to=${encodeURIComponent(url)}`;
    expect(await failure(http({ method: "GET", url }))).toMatchObject({ code: "TOO_MANY_REDIRECTS", retryable: false });
    // five are fine
    let five = `${UPSTREAM}/echo`;
    for (let i = 0; i < 5; i++) five = `${UPSTREAM}/redirect?to=${encodeURIComponent(five)}`;
    expect(output(await run(http({ method: "GET", url: five }))).body).toMatchObject({ path: "/echo" });
  });

  it("refuses a redirect to a blocked host without sending anything there", async () => {
    for (const target of ["http://localhost:9999/echo", "http://[::1]:9999/echo", "http://127.0.0.1:8080/echo", "http://2130706433:9999/echo"]) {
      const m = marker();
      const url = `${UPSTREAM}/redirect?to=${encodeURIComponent(`${target}?m=${m}`)}`;
      const error = await failure(http({ method: "GET", url }));
      expect(error.code, target).toBe("SSRF_BLOCKED");
      // the redirect itself was fetched (its URL holds the marker, encoded); the target never was
      expect(await hits(`m=${m}`), target).toBe(0);
    }
  });

  it("drops credentials and secret-bearing headers on a cross-origin redirect", async () => {
    const ctx = context({ allowedPrivateHosts: ["127.0.0.1:9999", "127.0.0.1:9998"] });
    const step = http({
      method: "GET",
      url: `${UPSTREAM}/redirect?to=${encodeURIComponent("http://127.0.0.1:9998/echo")}`,
      headers: { authorization: "Bearer {{ secrets.TOKEN }}", "x-api-key": "{{ secrets.API_KEY }}", "x-plain": "kept" },
    });
    const echo = output(await run(step, ctx)).body as { host: string; headers: Record<string, string> };
    expect(echo.host).toBe("127.0.0.1:9998");
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers["x-api-key"]).toBeUndefined();
    expect(echo.headers["x-plain"]).toBe("kept");
    expect(echo.headers["idempotency-key"]).toBe(`${ctx.executionId}:call`);

    // same origin: kept
    const same = output(
      await run(http({ method: "GET", url: `${UPSTREAM}/redirect?to=/echo`, headers: { authorization: "Bearer {{ secrets.TOKEN }}" } })),
    ).body as { headers: Record<string, string> };
    expect(same.headers.authorization).toBe("Bearer ***");
  });

  it("caps the response body", async () => {
    const error = await failure(http({ method: "GET", url: `${UPSTREAM}/big?bytes=${MAX_RESPONSE_BYTES + 1}` }));
    expect(error).toMatchObject({ code: "RESPONSE_TOO_LARGE", retryable: false });
    // an unexpected status with a large body is still that status
    const large503 = await failure(http({ method: "GET", url: `${UPSTREAM}/big?status=503&bytes=${2 * MAX_RESPONSE_BYTES}` }));
    expect(large503).toMatchObject({ code: "HTTP_STATUS", retryable: true, details: { status: 503 } });
    expect((large503.details?.body as string).length).toBeLessThanOrEqual(1025);
    const fits = output(await run(http({ method: "GET", url: `${UPSTREAM}/big?bytes=${MAX_RESPONSE_BYTES}` })));
    expect((fits.body as unknown as string).length).toBe(MAX_RESPONSE_BYTES);
  });

  describe("refuses loopback spellings end to end, sending nothing", () => {
    const refused: readonly [string, string][] = [
      ["http://127.0.0.1:8080/", "127.0.0.1:8080"], // allowed host, port not allowed
      ["http://[::1]:9999/", "[::1]:9999"],
      ["http://2130706433:9999/", "127.0.0.1:9999"],
      ["http://0x7f000001:9999/", "127.0.0.1:9999"],
      ["http://localhost:9999/", "localhost:9999"],
      ["http://LOCALHOST.:9999/", "localhost.:9999"],
      ["http://[::ffff:127.0.0.1]:9999/", "[::ffff:7f00:1]:9999"],
      ["http://0177.0.0.1:9999/", "127.0.0.1:9999"],
    ];
    it.each(refused)("%s", async (base, host) => {
      const m = marker();
      const error = await failure(http({ method: "GET", url: `${base}echo?m=${m}` }));
      expect(error).toMatchObject({ code: "SSRF_BLOCKED", retryable: false, details: { host } });
      expect(await hits(m)).toBe(0);
    });

    it("while the allowed host:port itself is reached (control)", async () => {
      const m = marker();
      expect(output(await run(http({ method: "GET", url: `${UPSTREAM}/echo?m=${m}` }))).status).toBe(200);
      expect(await hits(m)).toBe(1);
    });
  });

  it("refuses malformed requests before sending", async () => {
    expect((await failure(http({ method: "GET", url: "ftp://127.0.0.1:9999/" }))).code).toBe("INVALID_URL");
    expect((await failure(http({ method: "GET", url: "{{ input.amount }}" }))).code).toBe("TEMPLATE_ERROR");
    expect((await failure(http({ method: "GET", url: `${UPSTREAM}/echo`, body: { a: 1 } }))).code).toBe("INVALID_REQUEST");
    expect((await failure(http({ method: "GET", url: `${UPSTREAM}/echo`, headers: { "bad header": "x" } }))).code).toBe("INVALID_REQUEST");
    expect((await failure(http({ method: "GET", url: `${UPSTREAM}/{{ secrets.NOPE }}` }))).code).toBe("SECRET_NOT_FOUND");
  });
});

describe("transform runner", () => {
  const transform = (expression: string): TransformStep => ({ id: "t", type: "transform", expression });

  it("completes with the expression's value", async () => {
    expect(await run(transform("{ 'total': $sum(steps.fetch.output.body.lines.amount) }"))).toEqual({ kind: "completed", output: { total: 42 } });
    expect(await run(transform("input.missing"))).toEqual({ kind: "completed", output: null });
  });

  it("fails with EXPRESSION_ERROR", async () => {
    expect(await failure(transform("$unknown(1)"))).toMatchObject({ code: "EXPRESSION_ERROR", retryable: false });
    expect(await failure(transform("secrets.TOKEN"))).toMatchObject({ code: "EXPRESSION_ERROR" });
  });
});

describe("wait runner", () => {
  const now = Date.parse("2026-05-01T10:00:00.000Z");
  const ctx = () => context({ now: () => now });
  const wait = (w: Pick<WaitStep, "seconds" | "until">): WaitStep => ({ id: "w", type: "wait", ...w }) as WaitStep;

  it("sleeps for seconds", async () => {
    expect(await run(wait({ seconds: 90 }), ctx())).toEqual({
      kind: "sleep",
      until: now + 90_000,
      output: { waited_until: "2026-05-01T10:01:30.000Z" },
    });
  });

  it("sleeps until a literal or templated RFC 3339 instant", async () => {
    expect(await run(wait({ until: "2026-05-01T12:30:00+02:00" }), ctx())).toMatchObject({ kind: "sleep", until: Date.parse("2026-05-01T10:30:00Z") });
    expect(await run(wait({ until: "{{ input.when }}" }), ctx())).toMatchObject({ until: Date.parse("2030-01-02T03:04:05Z") });
  });

  it("does not wait for a past instant", async () => {
    expect(await run(wait({ until: "2020-01-01T00:00:00Z" }), ctx())).toEqual({
      kind: "sleep",
      until: now,
      output: { waited_until: "2026-05-01T10:00:00.000Z" },
    });
  });

  it("refuses what is not an RFC 3339 instant with an offset", async () => {
    for (const until of ["tomorrow", "2026-05-01", "2026-05-01T10:00:00", "2026-02-30T00:00:00Z", "{{ input.amount }}", "{{ input.missing }}"]) {
      expect(await failure(wait({ until }), ctx()), until).toMatchObject({ code: "TEMPLATE_ERROR", retryable: false });
    }
  });
});

describe("plugin runner", () => {
  const plugin = (name: string, args?: Record<string, unknown>): PluginStep => ({ id: "p", type: "plugin", plugin: name, ...(args ? { args } : {}) });
  const schema = { type: "object", required: ["lines"], properties: { lines: { type: "array", items: { type: "object", required: ["amount"] } } } };

  it("lists the registered plugins for registration", () => {
    expect([...PLUGIN_NAMES].sort()).toEqual(["json.validate", "text.template"]);
  });

  it("json.validate: a valid document, with args rendered", async () => {
    expect(await run(plugin("json.validate", { schema, data: "{{ steps.fetch.output.body }}" }))).toEqual({
      kind: "completed",
      output: { valid: true, errors: [] },
    });
  });

  it("json.validate: an invalid document is a result, not an error", async () => {
    const outcome = await run(plugin("json.validate", { schema, data: { lines: [{ amount: 1 }, { price: 2 }] } }));
    expect(outcome).toEqual({
      kind: "completed",
      output: { valid: false, errors: [{ path: "/lines/1", keyword: "required", message: expect.stringContaining("amount") }] },
    });
  });

  it("json.validate: an invalid schema is PLUGIN_ERROR", async () => {
    expect(await failure(plugin("json.validate", { schema: { type: "object", requried: ["a"] }, data: {} }))).toMatchObject({
      code: "PLUGIN_ERROR",
      retryable: false,
    });
    expect(await failure(plugin("json.validate", { schema: "nope", data: {} }))).toMatchObject({ code: "PLUGIN_ERROR" });
  });

  it("text.template: renders its own template with values over the context", async () => {
    const outcome = await run(
      plugin("text.template", {
        template: "Dear {{ name }}, invoice {{ input.invoice_id }} totals {{ $sum(steps.fetch.output.body.lines.amount) }}{{ suffix }}",
        values: { name: "Ada", suffix: "{{ '!' }}" },
      }),
    );
    expect(outcome).toEqual({ kind: "completed", output: { text: "Dear Ada, invoice inv-42 totals 42!" } });
    // values shadow the context; an exact template still yields text
    expect(await run(plugin("text.template", { template: "{{ input }}", values: { input: { a: 1 } } }))).toEqual({
      kind: "completed",
      output: { text: '{"a":1}' },
    });
    expect(await failure(plugin("text.template", { template: 42 }))).toMatchObject({ code: "PLUGIN_ERROR" });
    expect(await failure(plugin("text.template", { template: "{{ secrets.TOKEN }}" }))).toMatchObject({ code: "EXPRESSION_ERROR" });
  });

  it("an unknown plugin is UNKNOWN_PLUGIN", async () => {
    expect(await failure(plugin("no.such"))).toMatchObject({ code: "UNKNOWN_PLUGIN", retryable: false });
    expect(await failure(plugin("toString"))).toMatchObject({ code: "UNKNOWN_PLUGIN" });
  });
});
