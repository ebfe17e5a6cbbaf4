// Scenario 7: telemetry over the index seeded for the listing scenario (its largest tenant: 1,000,000
// executions over 90 days, 20 workflows, five steps each). `GET /v1/telemetry/summary` and
// `GET /v1/telemetry/workflows/{id}/stats`, each over the default range (the last 24 h: two partial
// days, read raw) and over the longest one (92 days: whole days from the rollups of migration 0007
// plus two partial days). Latency is client side; rows read is D1's own count from the request log.
import { requestOk, sleep } from "../lib/http.mjs";
import { field, row } from "../lib/rows.mjs";
import { median, percentile } from "../lib/stats.mjs";
import { d1RowsReadOf } from "../lib/server.mjs";
import { listingTenant } from "./listing.mjs";

const DAY = 86_400_000;
const QUERIES = [
  { key: "summary-24h", label: "summary, last 24 h", path: () => "/v1/telemetry/summary" },
  { key: "summary-92d", label: "summary, 92 days", path: (now) => `/v1/telemetry/summary?${range(now, 92)}` },
  { key: "stats-24h", label: "workflow stats, last 24 h", path: () => "/v1/telemetry/workflows/wf-3/stats" },
  { key: "stats-92d", label: "workflow stats, 92 days", path: (now) => `/v1/telemetry/workflows/wf-3/stats?${range(now, 92)}` },
];

function range(now, days) {
  const iso = (ms) => encodeURIComponent(new Date(ms).toISOString());
  return `from=${iso(now - days * DAY)}&to=${iso(now)}`;
}

const tenantOf = (opts) => listingTenant(Math.max(...opts.listingSizes));

export const telemetry = {
  id: "telemetry",
  title: "Telemetry over the seeded index",
  peer: false,
  description: "`GET /v1/telemetry/summary` and `GET /v1/telemetry/workflows/wf-3/stats` for the listing scenario's largest tenant (seeded directly into local D1 through the rollup triggers: executions over 90 days, 20 workflows, five steps each, durations from 0.2 to 20 s), over the default range (last 24 h: two partial days, read from the raw rows) and over 92 days (whole days from the daily rollups, partial days raw). Requests one after another; latency is client side, rows read is D1's count from the request log (`d1_rows_read`). Stepline only.",
  async setup({ client, opts }) {
    const tenant = tenantOf(opts);
    const { json } = await requestOk(client.base, "POST", "/v1/api-keys", { headers: client.auth, body: { name: `bench telemetry ${tenant}`, role: "viewer", tenant } });
    return { key: json.key };
  },
  async measure({ client, server, opts, state }) {
    const headers = { authorization: `Bearer ${state.key}` };
    const out = {};
    for (const q of QUERIES) {
      const latencies = [];
      const requestIds = [];
      for (let i = 0; i < opts.telemetryRequests; i++) {
        const res = await requestOk(client.base, "GET", q.path(Date.now()), { headers });
        if (i === 0) out[`${q.key}_executions`] = res.json.executions;
        latencies.push(res.ms);
        requestIds.push(res.headers.get("x-request-id"));
      }
      await sleep(300); // let the last request lines reach stdout
      const rowsRead = d1RowsReadOf(server, requestIds);
      out[q.key] = { p50: percentile(latencies, 50), p95: percentile(latencies, 95), rows_read: median(rowsRead) };
    }
    return out;
  },
  rows(results, opts) {
    const s = results.stepline ?? [];
    const size = Math.max(...opts.listingSizes);
    const at = size >= 1_000_000 ? "" : ` (goal set at 1,000,000 executions; checked at ${size.toLocaleString("en-US")} in this run)`;
    return QUERIES.flatMap((q) => [
      row({ scenario: "telemetry", metric: `${q.label}: latency p50`, unit: "ms", better: "lower", stepline: field(s, (r) => r[q.key]?.p50) }),
      row({
        scenario: "telemetry", metric: `${q.label}: latency p95`, unit: "ms", better: "lower", stepline: field(s, (r) => r[q.key]?.p95),
        goal: { text: `p95 ≤ 100 ms at 1,000,000 executions${at}`, met: (r) => r.stepline.median <= 100 },
      }),
      row({
        scenario: "telemetry", metric: `${q.label}: D1 rows read per request`, unit: "rows", better: "lower", stepline: field(s, (r) => r[q.key]?.rows_read),
        note: `executions in the range: ${field(s, (r) => r[`${q.key}_executions`]).find((x) => x !== null)?.toLocaleString("en-US") ?? "n/a"}`,
      }),
    ]);
  },
};
