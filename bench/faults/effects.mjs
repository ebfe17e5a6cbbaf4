/* global Response, URL */
// The side effect the fault cases count: a loopback upstream, served by the harness (so it lives
// through every kill of the service), that http steps POST to. Stepline sends every http step's
// request with `Idempotency-Key: <execution id>:<step id>`, the same on each attempt; this counts
// the requests received per key, so a step's side effect sent twice shows as a count of 2.
//
//   POST /effect?ms=N   counts the request under its Idempotency-Key, waits N ms (at most 5 s),
//                       answers 200 { key, count }
import { sleep } from "../lib/http.mjs";

export function effectsUpstream() {
  const sends = new Map();
  let total = 0;
  let unkeyed = 0;
  async function handler(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/effect" || request.method !== "POST") return new Response("not found", { status: 404 });
    await request.arrayBuffer();
    const key = request.headers.get("idempotency-key");
    total++;
    if (!key) unkeyed++;
    else sends.set(key, (sends.get(key) ?? 0) + 1);
    const ms = Math.min(5_000, Math.max(0, Number(url.searchParams.get("ms")) || 0));
    if (ms) await sleep(ms);
    return new Response(JSON.stringify({ key, count: sends.get(key) ?? 0 }), { headers: { "content-type": "application/json" } });
  }
  return {
    handler,
    /** How many requests arrived with this key. */
    sendsOf: (key) => sends.get(key) ?? 0,
    stats: () => ({ requests: total, keys: sends.size, unkeyed }),
  };
}
