/* global performance */
// Scenario 3: starts per second with `concurrency` clients starting executions back to back for a
// fixed time, and the latency of each start request. 1-step executions measure the start path;
// 20-step chains show it while the started executions compete for the same CPU. The executions run
// meanwhile, as they would; this scenario runs last in a server session, which is then stopped.
import { field, row } from "../lib/rows.mjs";
import { latencySummary } from "../lib/stats.mjs";

export const THROUGHPUT_VARIANTS = [
  { key: "1step", steps: 1, label: "1-step executions" },
  { key: "20step", steps: 20, label: "20-step chains" },
];

async function startFor(client, steps, concurrency, seconds) {
  const latencies = [];
  let errors = 0;
  let firstError = null;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      try {
        const { ms } = await client.start(steps);
        latencies.push(ms);
      } catch (err) {
        errors++;
        firstError ??= err.message.slice(0, 200);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  return { starts_per_s: latencies.length / elapsed, started: latencies.length, errors, first_error: firstError, ...latencySummary(latencies) };
}

export const throughput = {
  id: "throughput",
  title: "Start throughput",
  peer: true,
  // Sustained load at concurrency 50 is what makes the local runtime exit (for both systems); in a
  // session of its own, a crash here does not cost the other scenarios' figures of the round.
  ownSession: true,
  description:
    "Concurrent clients each start executions back to back for a fixed time (1-step executions: the start path; 20-step chains: the same while the started executions compete for the CPU). Starts/s counts successful start requests; latency is each start request, client side.",
  async measure({ client, opts }) {
    const out = {};
    for (const v of THROUGHPUT_VARIANTS.filter((x) => opts.throughputVariants.includes(x.key))) {
      out[v.key] = await startFor(client, v.steps, opts.throughputConcurrency, opts.throughputSeconds);
    }
    return out;
  },
  rows(results, opts) {
    const how = `concurrency ${opts.throughputConcurrency}, ${opts.throughputSeconds} s`;
    return THROUGHPUT_VARIANTS.filter((x) => opts.throughputVariants.includes(x.key)).flatMap((v) => {
      const pick = (f) => ({ stepline: field(results.stepline, (r) => r[v.key]?.[f]), peer: field(results.peer, (r) => r[v.key]?.[f]) });
      return [
        row({ scenario: "throughput", metric: `${v.label}: started/s (${how})`, unit: "starts/s", better: "higher", ...pick("starts_per_s") }),
        row({ scenario: "throughput", metric: `${v.label}: start latency p50`, unit: "ms", better: "lower", ...pick("p50") }),
        row({
          scenario: "throughput", metric: `${v.label}: start latency p99`, unit: "ms", better: "lower", ...pick("p99"),
          goal: { text: "p99 ≤ 50 ms at concurrency 50", met: (r) => r.stepline.median <= 50 },
        }),
        row({ scenario: "throughput", metric: `${v.label}: failed start requests`, unit: "count", better: "lower", ...pick("errors") }),
      ];
    });
  },
};
