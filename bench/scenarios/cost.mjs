/* global performance */
// Scenario 6: what one completed 20-step execution writes (Durable Object SQLite rows, D1 rows), from
// Stepline's `execution.billed_rows` log line (the last one per execution), priced at Cloudflare's
// published rates and set beside AWS Step Functions Standard.
import { runBatch, sleep } from "../lib/http.mjs";
import { field, row } from "../lib/rows.mjs";
import { median } from "../lib/stats.mjs";

/** USD; published list prices as read on the date below. Assumptions, stated in RESULTS.md. */
export const PRICES = {
  as_of: "2026-11-22",
  do_rows_written_per_million: 1.0,
  do_rows_read_per_million: 0.001,
  d1_rows_written_per_million: 1.0,
  d1_rows_read_per_million: 0.001,
  do_requests_per_million: 0.15,
  workers_requests_per_million: 0.3,
  step_functions_standard_per_1000_transitions: 0.025,
  // A 20-step Step Functions Standard state machine: 20 task states + the start transition.
  step_functions_transitions_per_execution: 21,
  // Requests billed per execution: the start (one Worker request, one Durable Object request).
  workers_requests_per_execution: 1,
  do_requests_per_execution: 1,
};

export function pricePerMillion(u) {
  const p = PRICES;
  return (
    (u.storage_rows_written ?? 0) * p.do_rows_written_per_million +
    (u.storage_rows_read ?? 0) * p.do_rows_read_per_million +
    (u.d1_rows_written ?? 0) * p.d1_rows_written_per_million +
    (u.d1_rows_read ?? 0) * p.d1_rows_read_per_million +
    p.do_requests_per_execution * p.do_requests_per_million +
    p.workers_requests_per_execution * p.workers_requests_per_million
  );
}

/** USD per million 20-step executions that a completed execution may cost at most. */
const COST_GOAL_USD = 40;

export const stepFunctionsPerMillion = () =>
  PRICES.step_functions_transitions_per_execution * (PRICES.step_functions_standard_per_1000_transitions / 1000) * 1e6;

/** The last `execution.billed_rows` log line of each execution in `ids` (waits until each has one). */
export async function billedRowsOf(server, ids, timeoutMs = 15_000) {
  const t0 = performance.now();
  for (;;) {
    const last = new Map();
    for (const l of server.logs) if (l.message === "execution.billed_rows" && ids.includes(l.execution_id)) last.set(l.execution_id, l);
    if (last.size === ids.length || performance.now() - t0 > timeoutMs) return [...last.values()];
    await sleep(100);
  }
}

const FIELDS = ["storage_rows_written", "storage_rows_read", "d1_rows_written", "d1_rows_read"];

export const cost = {
  id: "cost",
  title: "Cost per completed 20-step execution",
  peer: false,
  description: "20-step chains run to completion; their last `execution.billed_rows` log line gives the Durable Object storage rows and D1 rows each one cost, priced below. Stepline only.",
  async measure({ client, server, opts }) {
    const { ids } = await runBatch(client, opts.costExecutions, 20, { intervalMs: 20 });
    const lines = await billedRowsOf(server, ids);
    const out = { executions: ids.length, usage_lines: lines.length };
    for (const f of FIELDS) {
      const v = lines.map((l) => l[f]).filter((x) => typeof x === "number");
      out[f] = v.length ? median(v) : null;
    }
    out.usd_per_million = lines.length ? pricePerMillion(out) : null;
    return out;
  },
  rows(results) {
    const s = results.stepline ?? [];
    const sfn = stepFunctionsPerMillion();
    const missing = s.every((r) => r.usage_lines === 0) ? "no `execution.billed_rows` log lines seen: figures missing" : undefined;
    const perExec = (f, label) => row({ scenario: "cost", metric: `${label} per execution`, unit: "rows", better: "lower", stepline: field(s, (r) => r[f]), note: missing });
    return [
      perExec("storage_rows_written", "Durable Object storage rows written"),
      perExec("storage_rows_read", "Durable Object storage rows read"),
      perExec("d1_rows_written", "D1 rows written"),
      row({
        scenario: "cost", metric: "USD per million executions (Step Functions Standard: see note)", unit: "USD", better: "lower",
        stepline: field(s, (r) => r.usd_per_million),
        note: `AWS Step Functions Standard: $${sfn.toFixed(2)} per million (${PRICES.step_functions_transitions_per_execution} transitions × $0.025/1,000); peer Workflow: n/a (not metered locally)`,
        // Issue 16's goal; 1/10 of Step Functions Standard (the earlier goal) is $52.50.
        goal: { text: `≤ $${COST_GOAL_USD} per million (Step Functions Standard ÷ ${(sfn / COST_GOAL_USD).toFixed(1)})`, met: (r) => r.stepline.median <= COST_GOAL_USD },
      }),
    ];
  },
};
