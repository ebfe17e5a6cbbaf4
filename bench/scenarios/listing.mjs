// Scenario 5: `GET /v1/executions?status=completed&limit=100` over an index seeded with 100,000
// and 1,000,000 rows (one tenant each, seeded directly into local D1 before the server starts).
// Each round walks pages with the keyset cursor, from the top and from random depths
// (`created_before`). D1 rows_read per page comes from Stepline's request log (`d1_rows_read`).
import { requestOk, sleep } from "../lib/http.mjs";
import { field, row } from "../lib/rows.mjs";
import { latencySummary, median } from "../lib/stats.mjs";
import { d1RowsReadOf, wranglerSync } from "../lib/server.mjs";

export const PAGE = 100;
export const listingTenant = (rows) => `bench-list-${rows >= 1_000_000 ? `${rows / 1_000_000}m` : `${rows / 1000}k`}`;

/** Fallback when the request log has no d1_rows_read: the listing's query through wrangler d1 execute. */
function rowsReadViaWrangler(persistTo, tenant) {
  const sql = `SELECT e.id FROM executions e WHERE e.tenant = '${tenant}' AND e.status = 'completed' ORDER BY e.created_at DESC, e.id DESC LIMIT ${PAGE + 1}`;
  const out = JSON.parse(wranglerSync(["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--json", "--command", sql]));
  return out[0]?.meta?.rows_read ?? null;
}

export const listing = {
  id: "listing",
  title: "Listing with a status filter",
  peer: false,
  description: "`GET /v1/executions?status=completed&limit=100` for a tenant whose index holds the given number of rows (seeded directly into local D1), walking pages with the keyset cursor from the top and from random depths (`created_before`). Latency is client side; rows_read is D1's own count for the page query. Stepline only.",
  /** One viewer key per seeded tenant (the rows are seeded by the runner before the server starts). */
  async setup({ client, opts }) {
    const keys = {};
    for (const rows of opts.listingSizes) {
      const tenant = listingTenant(rows);
      const { json } = await requestOk(client.base, "POST", "/v1/api-keys", { headers: client.auth, body: { name: `bench ${tenant}`, role: "viewer", tenant } });
      keys[rows] = json.key;
    }
    return { keys };
  },
  async measure({ client, server, opts, state, persistTo }) {
    const out = {};
    for (const rows of opts.listingSizes) {
      const headers = { authorization: `Bearer ${state.keys[rows]}` };
      const latencies = [];
      const requestIds = [];
      const now = Date.now();
      for (let walk = 0; walk < opts.listingWalks; walk++) {
        // First walk from the newest row, the others from a random depth of the 90 seeded days.
        let query = `status=completed&limit=${PAGE}` + (walk === 0 ? "" : `&created_before=${new Date(now - Math.random() * 89 * 86_400_000).toISOString()}`);
        for (let page = 0; page < opts.listingPages; page++) {
          const res = await requestOk(client.base, "GET", `/v1/executions?${query}`, { headers });
          latencies.push(res.ms);
          requestIds.push(res.headers.get("x-request-id"));
          if (!res.json.next_cursor) break;
          query = `status=completed&limit=${PAGE}&cursor=${encodeURIComponent(res.json.next_cursor)}`;
        }
      }
      await sleep(300); // let the last request lines reach stdout
      const rowsRead = d1RowsReadOf(server, requestIds);
      let rowsReadSource = "request log (d1_rows_read)";
      if (rowsRead.length === 0 && state.fallbackRowsRead?.[rows] === undefined) {
        state.fallbackRowsRead = { ...state.fallbackRowsRead, [rows]: rowsReadViaWrangler(persistTo, listingTenant(rows)) };
      }
      if (rowsRead.length === 0) {
        rowsReadSource = "wrangler d1 execute of the same query (request log has no d1_rows_read)";
        if (state.fallbackRowsRead[rows] !== null) rowsRead.push(state.fallbackRowsRead[rows]);
      }
      out[rows] = { ...latencySummary(latencies), rows_read_median: median(rowsRead), rows_read_max: rowsRead.length ? Math.max(...rowsRead) : null, rows_read_source: rowsReadSource };
    }
    return out;
  },
  rows(results, opts) {
    const s = results.stepline ?? [];
    const na = "peer: n/a (Workflows offers no filtered listing to a Worker)";
    return opts.listingSizes.flatMap((rows) => {
      const size = rows.toLocaleString("en-US");
      // The goals are set at 1,000,000 rows; a run without that size (quick mode) checks its largest.
      const big = rows === Math.max(...opts.listingSizes);
      const at = rows >= 1_000_000 ? "" : ` (goal set at 1,000,000 rows; checked at ${size} in this run)`;
      const source = s[0]?.[rows]?.rows_read_source;
      return [
        row({ scenario: "listing", metric: `${size} rows: page latency p50`, unit: "ms", better: "lower", stepline: field(s, (r) => r[rows]?.p50), note: na }),
        row({
          scenario: "listing", metric: `${size} rows: page latency p99`, unit: "ms", better: "lower", stepline: field(s, (r) => r[rows]?.p99),
          goal: big ? { text: `p99 ≤ 20 ms at 1,000,000 rows${at}`, met: (r) => r.stepline.median <= 20 } : undefined,
        }),
        row({
          scenario: "listing", metric: `${size} rows: D1 rows_read per page of ${PAGE} (max over pages)`, unit: "rows", better: "lower",
          stepline: field(s, (r) => r[rows]?.rows_read_max), note: source ? `source: ${source}` : undefined,
          goal: big ? { text: `rows_read ≤ 2× page size (${2 * PAGE})${at}`, met: (r) => r.stepline.max <= 2 * PAGE } : undefined,
        }),
      ];
    });
  },
};
