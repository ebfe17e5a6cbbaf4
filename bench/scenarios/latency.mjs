/* global performance */
// Scenario 2: one 20-step chain at a time, start to terminal status (polled every 5 ms).
import { pollUntilTerminal } from "../lib/http.mjs";
import { field, row } from "../lib/rows.mjs";
import { latencySummary } from "../lib/stats.mjs";

export const latency = {
  id: "latency",
  title: "Single-execution latency (20 steps)",
  peer: true,
  description: "One execution at a time: start, then poll every 5 ms until terminal. p50/p99 are over the runs of a round; the table shows their median over rounds.",
  async measure({ client, opts }) {
    const samples = [];
    for (let i = 0; i < opts.latencyRuns; i++) {
      const t0 = performance.now();
      const { id } = await client.start(20);
      const doneAt = await pollUntilTerminal(client, [id], { intervalMs: 5, inFlight: 1 });
      samples.push(doneAt.get(id) - t0);
    }
    return { ...latencySummary(samples), samples };
  },
  rows(results, opts) {
    const pick = (f) => ({ stepline: field(results.stepline, (r) => r[f]), peer: field(results.peer, (r) => r[f]) });
    const runs = `${opts.latencyRuns} runs per round`;
    return [
      row({ scenario: "latency", metric: `20-step chain start→terminal p50 (${runs})`, unit: "ms", better: "lower", ...pick("p50") }),
      row({ scenario: "latency", metric: `20-step chain start→terminal p99 (${runs})`, unit: "ms", better: "lower", ...pick("p99") }),
    ];
  },
};
