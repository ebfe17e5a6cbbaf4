// Scenario 8: costed executions. A 20-step chain, 5 of its steps `llm` calls to the LLM stand-in
// (scripts/llm-standin.mjs, served by the runner on loopback), run under an execution budget (the
// workflow's `budget`: reserved in the execution's own object) and under a shared workflow budget
// (`/v1/budgets`: one BudgetObject, reserved before each call, the previous call's settle riding on
// the next reserve). From each execution's last `execution.billed_rows` log line: Durable Object
// storage rows and D1 rows written, and the round trips to budget objects per reserved call.
import { pollUntilTerminal, requestOk, sleep } from "../lib/http.mjs";
import { field, row } from "../lib/rows.mjs";
import { median } from "../lib/stats.mjs";
import { billedRowsOf } from "./cost.mjs";

const LLM_STEPS = 5;
const VARIANTS = [
  { key: "execution", label: "execution budget", workflow: "costed-execution-budget" },
  { key: "shared", label: "shared workflow budget", workflow: "costed-shared-budget" },
];

/** s1 … s20, each needing the one before; every fourth an llm call to the stand-in. */
function costedDefinition(id, budget) {
  return {
    id,
    ...(budget ? { budget } : {}),
    steps: Array.from({ length: 20 }, (_, i) => {
      const step = { id: `s${i + 1}`, ...(i > 0 ? { needs: [`s${i}`] } : {}) };
      return (i + 1) % 4 === 0
        ? { ...step, type: "llm", model: "standin-small", prompt: `Summarise item ${i + 1} in one line.`, max_tokens: 32 }
        : { ...step, type: "transform", expression: `${i + 1}` };
    }),
  };
}

export const costed = {
  id: "costed",
  title: "Costed executions (20 steps, 5 of them llm)",
  peer: false,
  description: `A 20-step chain whose every fourth step is an \`llm\` call to the loopback LLM stand-in (priced model \`standin-small\`), started in batches and run to completion, under an execution budget (the workflow's \`budget\`) and under a shared workflow budget (\`POST /v1/budgets\`, one BudgetObject). Figures per execution from its last \`execution.billed_rows\` log line; round trips per reserved call = calls to budget objects ÷ ${LLM_STEPS} llm calls. Stepline only.`,
  async setup({ client }) {
    const post = (path, body) => requestOk(client.base, "POST", path, { headers: client.auth, body });
    await post("/v1/workflows", costedDefinition(VARIANTS[0].workflow, { max_usd: 100, on_exceed: "fail" }));
    await post("/v1/workflows", costedDefinition(VARIANTS[1].workflow));
    await post("/v1/budgets", { scope: "workflow", workflow_id: VARIANTS[1].workflow, period: "month", max_usd: 1000, on_exceed: "fail" });
    return {};
  },
  async measure({ client, server, opts }) {
    const out = {};
    for (const v of VARIANTS) {
      const started = await Promise.all(
        Array.from({ length: opts.costExecutions }, () =>
          requestOk(client.base, "POST", "/v1/executions", { headers: client.auth, body: { workflow_id: v.workflow, input: {} } }),
        ),
      );
      const ids = started.map((r) => r.json.id);
      await pollUntilTerminal(client, ids, { intervalMs: 20 });
      const lines = await billedRowsOf(server, ids);
      const pick = (f) => median(lines.map((l) => l[f]).filter((x) => typeof x === "number"));
      out[v.key] = {
        executions: ids.length,
        lines: lines.length,
        storage_rows_written: pick("storage_rows_written"),
        d1_rows_written: pick("d1_rows_written"),
        round_trips_per_call: lines.length ? pick("budget_calls") / LLM_STEPS : null,
      };
      await sleep(500);
    }
    return out;
  },
  rows(results) {
    const s = results.stepline ?? [];
    return VARIANTS.flatMap((v) => [
      row({ scenario: "costed", metric: `${v.label}: Durable Object storage rows written per execution`, unit: "rows", better: "lower", stepline: field(s, (r) => r[v.key]?.storage_rows_written) }),
      row({ scenario: "costed", metric: `${v.label}: D1 rows written per execution`, unit: "rows", better: "lower", stepline: field(s, (r) => r[v.key]?.d1_rows_written) }),
      row({
        scenario: "costed", metric: `${v.label}: round trips to budget objects per reserved call`, unit: "calls", better: "lower",
        stepline: field(s, (r) => r[v.key]?.round_trips_per_call),
        goal: v.key === "execution"
          ? { text: "none for an execution budget", met: (r) => r.stepline.max === 0 }
          : { text: "one per call for a shared budget (its reserve; each settle rides on the next reserve, the last one goes alone: 6 for 5 calls)", met: (r) => r.stepline.max <= (LLM_STEPS + 1) / LLM_STEPS },
      }),
    ]);
  },
};
