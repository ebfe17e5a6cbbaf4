/* global Response, URL */
// The side effect the fault cases count: a loopback upstream, served by the harness (so it lives
// through every kill of the service), that http steps POST to. Stepline sends every http step's
// request with `Idempotency-Key: <execution id>:<step id>`, the same on each attempt; this counts
// the requests received per key, so a step's side effect sent twice shows as a count of 2.
//
//   POST /effect?ms=N   counts the request under its Idempotency-Key, waits N ms (at most 5 s),
//                       answers 200 { key, count }
//
// A request whose JSON body has a `tag` (the workflow puts the execution's input and the step in
// it) is also filed under that tag with the key it carried, so a case can check every delivery of
// one step's request (the first and any repeat) named the same key, without trusting the key to
// say which step it came from.
import { sleep } from "../lib/http.mjs";

export function effectsUpstream() {
  const sends = new Map();
  const keysByTag = new Map();
  let total = 0;
  let unkeyed = 0;
  async function handler(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/effect" || request.method !== "POST") return new Response("not found", { status: 404 });
    const text = await request.text();
    const key = request.headers.get("idempotency-key");
    total++;
    if (!key) unkeyed++;
    else sends.set(key, (sends.get(key) ?? 0) + 1);
    const tag = tagOf(text);
    if (tag !== null) {
      if (!keysByTag.has(tag)) keysByTag.set(tag, []);
      keysByTag.get(tag).push(key);
    }
    const ms = Math.min(5_000, Math.max(0, Number(url.searchParams.get("ms")) || 0));
    if (ms) await sleep(ms);
    return new Response(JSON.stringify({ key, count: sends.get(key) ?? 0 }), { headers: { "content-type": "application/json" } });
  }
  return {
    handler,
    /** How many requests arrived with this key. */
    sendsOf: (key) => sends.get(key) ?? 0,
    /** The Idempotency-Key of every request whose body was tagged `tag`, in arrival order. */
    keysOfTag: (tag) => keysByTag.get(tag) ?? [],
    stats: () => ({ requests: total, keys: sends.size, unkeyed, tagged: keysByTag.size }),
  };
}

function tagOf(text) {
  try {
    const tag = JSON.parse(text)?.tag;
    return typeof tag === "string" || typeof tag === "number" ? String(tag) : null;
  } catch {
    return null;
  }
}
