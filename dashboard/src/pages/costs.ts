/** What executions cost over a chosen range: totals, per workflow (charted) and per model. */
import { useMemo, useState } from "preact/hooks";
import { html } from "../html";
import { useLoad } from "../load";
import { Chart, barChart } from "../parts/chart";
import { duration, usd } from "../parts/format";
import { ProblemNote } from "../parts/problem";
import { must, type Session } from "../session";

const RANGES = [
  { id: "1", label: "Last 24 hours" },
  { id: "7", label: "Last 7 days" },
  { id: "30", label: "Last 30 days" },
];

export function CostsPage({ session }: { session: Session }) {
  const [days, setDays] = useState("7");
  const summary = useLoad(() => {
    const to = new Date();
    const from = new Date(to.getTime() - Number(days) * 24 * 3600_000);
    return must(session.client.api.GET("/v1/telemetry/summary", { params: { query: { from: from.toISOString(), to: to.toISOString() } } }));
  }, [days]);
  const s = summary.data;
  const chart = useMemo(
    () =>
      s && s.by_workflow.length > 0
        ? barChart(
            s.by_workflow.map((w) => w.workflow_id),
            "USD",
            [{ label: "cost (USD)", color: "#2f6fdb", values: s.by_workflow.map((w) => w.total_usd) }],
          )
        : null,
    [s],
  );

  return html`<h1>Costs</h1>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()} aria-label="Range">
      <label>Range
        <select value=${days} onChange=${(e: Event) => setDays((e.target as HTMLSelectElement).value)}>
          ${RANGES.map((r) => html`<option value=${r.id}>${r.label}</option>`)}
        </select>
      </label>
    </form>
    <${ProblemNote} error=${summary.error} />
    ${s
      ? html`<dl class="facts">
          <div><dt>Total</dt><dd data-testid="total-usd">${usd(s.total_usd)}</dd></div>
          <div><dt>Executions</dt><dd>${s.executions}</dd></div>
          <div><dt>Average cost</dt><dd>${usd(s.avg_cost_usd)}</dd></div>
          <div><dt>Average duration</dt><dd>${duration(s.avg_duration_ms)}</dd></div>
          <div><dt>Tokens in / out</dt><dd>${s.input_tokens} / ${s.output_tokens}</dd></div>
        </dl>
        ${chart ? html`<${Chart} label="Cost per workflow (USD)" ...${chart} />` : null}
        <div class="columns">
          <section aria-labelledby="by-workflow-h">
            <h2 id="by-workflow-h">By workflow</h2>
            <table class="list">
              <thead><tr><th scope="col">Workflow</th><th scope="col">Executions</th><th scope="col">Cost</th><th scope="col">Avg duration</th></tr></thead>
              <tbody>${s.by_workflow.map((w) => html`<tr><td data-label="Workflow">${w.workflow_id}</td><td data-label="Executions">${w.executions}</td><td data-label="Cost">${usd(w.total_usd)}</td><td data-label="Avg duration">${duration(w.avg_duration_ms)}</td></tr>`)}</tbody>
            </table>
          </section>
          <section aria-labelledby="by-model-h">
            <h2 id="by-model-h">By model</h2>
            ${s.by_model.length === 0 ? html`<p class="muted">No llm call in this range.</p>` : null}
            <table class="list" hidden=${s.by_model.length === 0}>
              <thead><tr><th scope="col">Model</th><th scope="col">Calls</th><th scope="col">Tokens in / out</th><th scope="col">Cost</th></tr></thead>
              <tbody>${s.by_model.map((m) => html`<tr><td data-label="Model">${m.model}</td><td data-label="Calls">${m.calls}</td><td data-label="Tokens">${m.input_tokens} / ${m.output_tokens}</td><td data-label="Cost">${usd(m.total_usd)}</td></tr>`)}</tbody>
            </table>
          </section>
        </div>`
      : null}`;
}
