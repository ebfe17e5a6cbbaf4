// Scenario 1: chains of trivial steps, where per-step overhead dominates. Every execution of a
// batch is started at once, then all are polled to the end; wall time is first start to last end.
import { quiet, runBatch } from "../lib/http.mjs";
import { field, row } from "../lib/rows.mjs";

export const VARIANTS = [
  { key: "10x100", executions: 10, steps: 100 },
  { key: "50x20", executions: 50, steps: 20 },
];

export const chain = {
  id: "chain",
  title: "Chains of trivial steps",
  peer: true,
  description: "All executions of a batch are started at once (registered workflow, trivial `transform` steps in Stepline, one `step.do` per step in the peer), then polled every 20 ms until all are terminal. Wall time runs from the first start request to the last terminal status seen; per-step overhead is wall time ÷ total steps.",
  async measure({ client, opts }) {
    const out = {};
    for (const [i, v] of VARIANTS.filter((x) => opts.chainVariants.includes(x.key)).entries()) {
      if (i > 0) await quiet();
      const { wallMs } = await runBatch(client, v.executions, v.steps, { intervalMs: 20 });
      const total = v.executions * v.steps;
      out[v.key] = { wall_ms: wallMs, steps_per_s: total / (wallMs / 1000), ms_per_step: wallMs / total };
    }
    return out;
  },
  rows(results, opts) {
    return VARIANTS.filter((x) => opts.chainVariants.includes(x.key)).flatMap((v) => {
      const pick = (f) => ({ stepline: field(results.stepline, (r) => r[v.key]?.[f]), peer: field(results.peer, (r) => r[v.key]?.[f]) });
      const name = `${v.executions} × ${v.steps} steps`;
      return [
        row({
          scenario: "chain", metric: `${name}: wall time`, unit: "ms", better: "lower", ...pick("wall_ms"),
          goal: v.key === "10x100" ? { text: "≥ 10× faster than the peer", met: (r) => r.ratio !== null && r.ratio.median >= 10 } : undefined,
        }),
        row({ scenario: "chain", metric: `${name}: steps/s`, unit: "steps/s", better: "higher", ...pick("steps_per_s") }),
        row({ scenario: "chain", metric: `${name}: per-step overhead (wall ÷ steps)`, unit: "ms", better: "lower", ...pick("ms_per_step") }),
      ];
    });
  },
};
