/* global Response, URL, setTimeout */
// A loopback upstream for http steps that should take a while, served by the runner (like the LLM
// stand-in) with scripts/serve-fetch.mjs:
//
//   GET /hold?ms=N[&jitter=J][&gate=G]
//       waits until gate G is open (when named), then N ms, or a uniformly random time in N ± J ms
//       (at most 10 s), then answers 200 { held_ms }
//
// A gate lets a scenario hold every request that reaches it until the scenario opens it (e.g. the
// first executions admitted on a concurrency key wait until the whole batch has been started), so
// what is measured afterwards is not mixed with the start burst. Opening lets the requests held
// through in arrival order, `spacingMs` apart (so they do not all end at once); a gate is opened
// once and stays open.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const param = (url, name) => Number(url.searchParams.get(name)) || 0;
const json = (value, status = 200) => new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

export function holdUpstream() {
  const gates = new Map();
  const gate = (name) => {
    let g = gates.get(name);
    if (!g) {
      g = { open: false, held: [] };
      gates.set(name, g);
    }
    return g;
  };
  const pass = (name) => {
    const g = gate(name);
    return g.open ? null : new Promise((r) => g.held.push(r));
  };
  async function handler(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/hold" || request.method !== "GET") return json({ error: "not found", path: url.pathname }, 404);
    const jitter = param(url, "jitter");
    const ms = Math.round(Math.max(0, Math.min(10_000, param(url, "ms") + (jitter ? (Math.random() * 2 - 1) * jitter : 0))));
    const name = url.searchParams.get("gate");
    if (name) await pass(name);
    await sleep(ms);
    return json({ held_ms: ms });
  }
  return {
    handler,
    /** Lets the requests held at gate `name` through, `spacingMs` apart, and every later one at once. */
    async open(name, spacingMs = 0) {
      const g = gate(name);
      g.open = true;
      for (const [i, release] of g.held.splice(0).entries()) {
        if (i > 0 && spacingMs > 0) await sleep(spacingMs);
        release();
      }
    },
  };
}
