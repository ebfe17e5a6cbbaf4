/* global performance */
// The harness's HTTP client: bench/lib/http.mjs's `request`, with every answer counted by status
// (and every request that got no answer counted as `network`), so a case can say it saw no 5xx.
import { pool, request, sleep } from "../lib/http.mjs";

export const TERMINAL = new Set(["completed", "partial", "failed", "cancelled", "timed_out", "rejected"]);

/** Requests answered 5xx, from a countingClient's `statuses`. */
export const fivexxOf = (statuses) => Object.entries(statuses ?? {}).filter(([s]) => Number(s) >= 500).reduce((a, [, n]) => a + n, 0);

export function countingClient(base, adminKey) {
  const statuses = {};
  const auth = { authorization: `Bearer ${adminKey}` };
  const client = {
    base,
    statuses,
    /** One request; resolves with `{ status, json, headers, ms }`, or `{ status: 0, error }` when no answer came. */
    async call(method, path, { headers = {}, body } = {}) {
      try {
        const res = await request(client.base, method, path, { headers: { ...auth, ...headers }, body });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        return res;
      } catch (error) {
        statuses.network = (statuses.network ?? 0) + 1;
        return { status: 0, error: error.cause?.code ?? error.message };
      }
    },
    async ok(method, path, opts) {
      const res = await client.call(method, path, opts);
      if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} -> ${res.status || res.error} ${JSON.stringify(res.json ?? "").slice(0, 300)}`);
      return res;
    },
    /** Every row of the D1 listing of `workflowId` (pages of 100), as id -> summary. */
    async listing(workflowId) {
      const rows = new Map();
      let cursor = null;
      do {
        const q = `workflow_id=${encodeURIComponent(workflowId)}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const res = await client.ok("GET", `/v1/executions?${q}`);
        for (const item of res.json.items) rows.set(item.id, item);
        cursor = res.json.next_cursor;
      } while (cursor);
      return rows;
    },
    /** The whole event log of an execution, page by page (`after`, `limit` 1000). */
    async events(id) {
      const items = [];
      let after = 0;
      for (;;) {
        const res = await client.ok("GET", `/v1/executions/${id}/events?after=${after}&limit=1000`);
        items.push(...res.json.items);
        if (res.json.items.length === 0 || res.json.next_after === after) return { items, terminal: res.json.terminal };
        after = res.json.next_after;
        if (res.json.items.length < 1000) return { items, terminal: res.json.terminal };
      }
    },
  };
  return client;
}

/**
 * Waits until every id in `ids` is terminal. First only the D1 listing is read (no execution's
 * object is touched, so only the objects' own alarms and drives can move them: a restarted
 * object is not woken by the harness), for at most `listingMs`; then each execution not yet
 * terminal is read (`GET /v1/executions/{id}`) until it is, for at most `directMs`.
 */
export async function waitTerminal(client, workflowId, ids, { listingMs = 90_000, directMs = 120_000, intervalMs = 1_000 } = {}) {
  const t0 = performance.now();
  let listed = new Map();
  let terminalInListing = 0;
  while (performance.now() - t0 < listingMs) {
    listed = await client.listing(workflowId);
    terminalInListing = ids.filter((id) => TERMINAL.has(listed.get(id)?.status)).length;
    if (terminalInListing === ids.length) break;
    await sleep(intervalMs);
  }
  const listingWaitMs = performance.now() - t0;
  const t1 = performance.now();
  const pending = new Set(ids.filter((id) => !TERMINAL.has(listed.get(id)?.status)));
  const touched = pending.size;
  while (pending.size > 0 && performance.now() - t1 < directMs) {
    const list = [...pending];
    await pool(list.length, 8, async (i) => {
      const res = await client.call("GET", `/v1/executions/${list[i]}`);
      if (res.status === 200 && TERMINAL.has(res.json.status)) pending.delete(list[i]);
    });
    if (pending.size > 0) await sleep(intervalMs);
  }
  return {
    terminal_in_listing_untouched: terminalInListing,
    listing_wait_ms: Math.round(listingWaitMs),
    read_directly: touched,
    direct_wait_ms: Math.round(performance.now() - t1),
    not_terminal: [...pending],
  };
}
