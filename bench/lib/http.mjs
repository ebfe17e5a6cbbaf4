/* global fetch, performance, setTimeout */
// The one HTTP client both systems are driven by: JSON requests, polling to a terminal status,
// and a bounded-concurrency pool.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Every measured batch starts on a quiet server: this long after the previous batch ended. The
 * local Workflows runtime (wrangler 4.124) exits ("Network connection lost") when new instances
 * start while finished ones are still being wound down; with this pause it survives batch after
 * batch. Both systems get the same pause.
 */
export const QUIET_MS = 3_000;
export const quiet = () => sleep(QUIET_MS);

/** One JSON request; resolves with status, parsed body and the client-side latency in ms. */
export async function request(base, method, path, { headers = {}, body } = {}) {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json, ms, headers: res.headers };
}

export async function requestOk(base, method, path, opts) {
  const res = await request(base, method, path, opts);
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(res.json).slice(0, 500)}`);
  return res;
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight; results in order. */
export async function pool(n, concurrency, fn) {
  const results = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return results;
}

/**
 * Polls `client.status(id)` for every id until each is terminal. One sweep at a time over the
 * pending ids (a few requests in flight), then `intervalMs` pause: the load the poller adds stays
 * the same whichever system is measured. Resolves with the time each id was first seen terminal.
 */
export async function pollUntilTerminal(client, ids, { intervalMs = 10, inFlight = 4, timeoutMs = 300_000 } = {}) {
  const doneAt = new Map();
  const t0 = performance.now();
  while (doneAt.size < ids.length) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${client.label}: ${ids.length - doneAt.size} executions not terminal after ${timeoutMs} ms`);
    const pending = ids.filter((id) => !doneAt.has(id));
    await pool(pending.length, inFlight, async (i) => {
      const s = await client.status(pending[i]);
      if (s.terminal) {
        if (!s.ok) throw new Error(`${client.label}: execution ${pending[i]} ended ${s.status}`);
        doneAt.set(pending[i], performance.now());
      }
    });
    if (doneAt.size < ids.length) await sleep(intervalMs);
  }
  return doneAt;
}

/** Starts `count` executions of a `steps`-step chain at once and polls them all to the end. */
export async function runBatch(client, count, steps, pollOpts) {
  const t0 = performance.now();
  const started = await Promise.all(Array.from({ length: count }, () => client.start(steps)));
  const doneAt = await pollUntilTerminal(client, started.map((s) => s.id), pollOpts);
  const wallMs = Math.max(...doneAt.values()) - t0;
  return { wallMs, ids: started.map((s) => s.id) };
}
