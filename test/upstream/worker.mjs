/* global Response, Headers, URL, TextEncoder, ReadableStream, TransformStream, setTimeout, clearTimeout */
/**
 * The local upstream of the test suite: an auxiliary worker ("upstream") that miniflare runs
 * beside the Worker under test. `vitest.config.ts` sets it as the `outboundService` of the
 * Worker under test, so EVERY outbound fetch of that Worker (test files and engine code alike,
 * whatever host the URL names) arrives here instead of leaving the machine. That is what makes
 * SSRF refusal tests safe: even if a guard failed, the request would be answered here, and it
 * would show up in `/__hits`.
 *
 * Routes (the path is what matters; any host is accepted):
 *   /echo                    the request as JSON: { method, url, host, path, query, headers, body }
 *   /status/:code            that status (body `{ status }`), `?retry_after=` sets Retry-After
 *   /slow?ms=N               answers after N ms (default 5000); a client abort ends it cleanly
 *   /flaky/:key/:n           503 for the first n calls with that key, then 200 { ok: true, calls }
 *   /redirect?to=URL&status=30x   a redirect (default 302) to `to`
 *   /big?bytes=N&status=S    N bytes of text (streamed in 64 KiB chunks, no content-length), status S (200)
 *   /json, /text             a fixed JSON / plain text body; /json?value=V answers V (JSON text) as the body
 *   /broken                  a 200 whose body stream fails after the first chunk
 *   /store/:key              PUT or POST keeps the request body (text) under key; GET answers
 *                            { value } (null when nothing is kept), as an API that hands back a
 *                            credential it was given would
 *   /__hits?host=H&contains=S     requests received (not counting /__ routes): with `host`, those
 *                            whose Host header is H; with `contains`, those whose URL contains S.
 *                            With a filter, also `requests: [{ method, url, idempotency_key }]`
 *                            (oldest first), so a test can compare what each attempt sent
 *   /__reset                 forget hits, flaky counters and stored values
 *   /llm/…                   the LLM stand-in (scripts/llm-standin.mjs, API key `test-llm-key`), so
 *                            LLM_BASE_URL = http://127.0.0.1:9999/llm/v1: POST /llm/v1/chat/completions,
 *                            GET|DELETE /llm/v1/_calls[?model=M] (its call log). These count as hits too
 *
 * State lives in module scope: miniflare runs this worker in one isolate. Tests that run
 * concurrently share it, so assertions should use a unique marker (`contains=`) rather than
 * `/__reset`.
 */

import { llmStandin } from "../../scripts/llm-standin.mjs";

/** The API key the workers project gives the Worker under test as LLM_API_KEY (vitest.config.ts). */
const LLM_API_KEY = "test-llm-key";
const llm = llmStandin({ apiKey: LLM_API_KEY });

/** @type {{ host: string; url: string; method: string; idempotencyKey: string | null }[]} */
let hits = [];
/** @type {Map<string, number>} */
let flaky = new Map();
/** @type {Map<string, string>} */
let stored = new Map();
const MAX_HITS = 10_000;

function json(value, init = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  return new Response(JSON.stringify(value), { ...init, headers });
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(true), ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export default {
  /** @param {Request} request */
  async fetch(request) {
    const url = new URL(request.url);
    const host = request.headers.get("host") ?? url.host;
    const path = url.pathname;

    if (path === "/__hits") {
      const wantHost = url.searchParams.get("host");
      const contains = url.searchParams.get("contains");
      const matching = hits.filter((h) => (wantHost === null || h.host === wantHost) && (contains === null || h.url.includes(contains)));
      const requests = wantHost === null && contains === null ? {} : { requests: matching.map((h) => ({ method: h.method, url: h.url, idempotency_key: h.idempotencyKey })) };
      return json({ hits: matching.length, total: hits.length, ...requests });
    }
    if (path === "/__reset") {
      hits = [];
      flaky = new Map();
      stored = new Map();
      return json({ ok: true });
    }

    hits.push({ host, url: request.url, method: request.method, idempotencyKey: request.headers.get("idempotency-key") });
    if (hits.length > MAX_HITS) hits.splice(0, hits.length - MAX_HITS);

    if (path.startsWith("/llm/")) return llm(request);

    if (path === "/echo") {
      const body = request.method === "GET" || request.method === "HEAD" ? null : await request.text();
      return json({
        method: request.method,
        url: request.url,
        host,
        path,
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(request.headers),
        body,
      });
    }

    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) {
      const code = Number(status[1]);
      const headers = new Headers({ "content-type": "application/json" });
      const retryAfter = url.searchParams.get("retry_after");
      if (retryAfter !== null) headers.set("retry-after", retryAfter);
      const noBody = code === 204 || code === 205 || code === 304;
      return new Response(noBody ? null : JSON.stringify({ status: code }), { status: code, headers });
    }

    if (path === "/slow") {
      const ms = Number(url.searchParams.get("ms") ?? "5000");
      const finished = await sleep(Number.isFinite(ms) ? ms : 5000, request.signal);
      if (!finished) return new Response(null, { status: 499 });
      return json({ slept_ms: ms });
    }

    const flakyMatch = /^\/flaky\/([^/]+)\/(\d+)$/.exec(path);
    if (flakyMatch) {
      const key = flakyMatch[1];
      const failures = Number(flakyMatch[2]);
      const calls = (flaky.get(key) ?? 0) + 1;
      flaky.set(key, calls);
      if (calls <= failures) return json({ ok: false, calls }, { status: 503 });
      return json({ ok: true, calls });
    }

    const storeMatch = /^\/store\/([^/]+)$/.exec(path);
    if (storeMatch) {
      const key = storeMatch[1];
      if (request.method === "PUT" || request.method === "POST") {
        stored.set(key, await request.text());
        return json({ ok: true });
      }
      return json({ value: stored.get(key) ?? null });
    }

    if (path === "/redirect") {
      const to = url.searchParams.get("to");
      if (to === null) return json({ error: "missing to" }, { status: 400 });
      const code = Number(url.searchParams.get("status") ?? "302");
      return new Response(null, { status: code, headers: { location: to } });
    }

    if (path === "/big") {
      const total = Math.max(0, Number(url.searchParams.get("bytes") ?? "0") || 0);
      const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream({
        pull(controller) {
          if (sent >= total) {
            controller.close();
            return;
          }
          const n = Math.min(chunk.byteLength, total - sent);
          controller.enqueue(n === chunk.byteLength ? chunk : chunk.slice(0, n));
          sent += n;
        },
      });
      // No content-length: the client has to cap the stream as it reads it.
      const code = Number(url.searchParams.get("status") ?? "200");
      return new Response(stream, { status: code, headers: { "content-type": "text/plain" } });
    }

    if (path === "/broken") {
      // Headers and a first chunk, then the body is cut off: a connection lost mid-response.
      const { readable, writable } = new TransformStream();
      const writer = writable.getWriter();
      writer.write(new TextEncoder().encode('{"partial":')).then(
        () => writer.abort(new Error("connection lost")),
        () => undefined,
      );
      return new Response(readable, { headers: { "content-type": "application/json" } });
    }

    if (path === "/json") {
      const value = url.searchParams.get("value");
      return value === null ? json({ name: "stepline", items: [1, 2, 3], nested: { ok: true } }) : new Response(value, { headers: { "content-type": "application/json" } });
    }
    if (path === "/text") return new Response("plain text body", { headers: { "content-type": "text/plain; charset=utf-8" } });

    return json({ error: "not found", path }, { status: 404 });
  },
};
