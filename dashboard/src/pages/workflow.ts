/**
 * One workflow: its versions, the definition of the chosen one, and its last 7 days in numbers and
 * charts (each step's p50/p95 duration, and the duration of its recent executions over time).
 */
import { useMemo, useState } from "preact/hooks";
import type { components } from "../../../client/src/index";
import { html } from "../html";
import { useLoad } from "../load";
import { Chart, barChart, type ChartProps } from "../parts/chart";
import { JsonBlock, duration, usd, when } from "../parts/format";
import { ProblemNote } from "../parts/problem";
import { href } from "../route";
import { must, type Session } from "../session";

type Stats = components["schemas"]["WorkflowStats"];
type Summary = components["schemas"]["ExecutionSummary"];
const WEEK_MS = 7 * 24 * 3600_000;

function stepChart(stats: Stats): Pick<ChartProps, "options" | "data"> {
  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  return barChart(
    stats.steps.map((s) => s.step_id),
    "seconds",
    [
      { label: "p50", color: "#2f6fdb", values: stats.steps.map((s) => seconds(s.duration_ms.p50)) },
      { label: "p95", color: "#c2410c", values: stats.steps.map((s) => seconds(s.duration_ms.p95)) },
    ],
  );
}

function durationChart(items: Summary[]): Pick<ChartProps, "options" | "data"> {
  const ended = items.filter((e) => e.started_at && e.ended_at).sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  return {
    data: [ended.map((e) => Date.parse(e.created_at) / 1000), ended.map((e) => (Date.parse(e.ended_at!) - Date.parse(e.started_at!)) / 1000)],
    options: {
      axes: [{}, { label: "seconds" }],
      series: [{}, { label: "duration", stroke: "#2f6fdb", width: 2, points: { show: true, size: 6 } }],
    },
  };
}

export function WorkflowPage({ session, id }: { session: Session; id: string }) {
  const api = session.client.api;
  const [version, setVersion] = useState<number | undefined>(undefined);
  const versions = useLoad(() => must(api.GET("/v1/workflows/{id}/versions", { params: { path: { id }, query: { limit: 100 } } })), [id]);
  const chosen = useLoad(() => must(api.GET("/v1/workflows/{id}", { params: { path: { id }, query: version ? { version } : {} } })), [id, version]);
  const stats = useLoad(() => {
    const to = new Date();
    const from = new Date(to.getTime() - WEEK_MS);
    return must(api.GET("/v1/telemetry/workflows/{id}/stats", { params: { path: { id }, query: { from: from.toISOString(), to: to.toISOString() } } }));
  }, [id]);
  const recent = useLoad(() => must(api.GET("/v1/executions", { params: { query: { workflow_id: id, limit: 100 } } })), [id]);
  const steps = useMemo(() => (stats.data ? stepChart(stats.data) : null), [stats.data]);
  const durations = useMemo(() => (recent.data ? durationChart(recent.data.items) : null), [recent.data]);
  const s = stats.data;

  return html`<h1>Workflow <code>${id}</code></h1>
    <${ProblemNote} error=${chosen.error ?? versions.error} />
    ${chosen.data
      ? html`<p><strong>${chosen.data.name ?? id}</strong>${chosen.data.description ? html` <span class="muted">${chosen.data.description}</span>` : null}</p>
          <p><a href=${`${href("executions")}?workflow_id=${encodeURIComponent(id)}`}>Its executions</a></p>`
      : null}
    <section aria-labelledby="stats-h">
      <h2 id="stats-h">Last 7 days</h2>
      <${ProblemNote} error=${stats.error} />
      ${s
        ? html`<dl class="facts">
            <div><dt>Executions</dt><dd>${s.executions}</dd></div>
            <div><dt>Success rate</dt><dd>${s.success_rate === null ? "—" : `${Math.round(s.success_rate * 1000) / 10} %`}</dd></div>
            <div><dt>p50 / p95</dt><dd>${duration(s.duration_ms.p50)} / ${duration(s.duration_ms.p95)}</dd></div>
            <div><dt>Cost</dt><dd>${usd(s.total_usd)}</dd></div>
          </dl>`
        : null}
      <div class="columns">
        ${steps && s?.steps.length ? html`<${Chart} label="Step duration, p50 and p95 (seconds)" ...${steps} />` : null}
        ${durations && durations.data[0].length ? html`<${Chart} label="Duration of recent executions (seconds) by start time" ...${durations} />` : null}
      </div>
    </section>
    <div class="columns">
      <section aria-labelledby="versions-h">
        <h2 id="versions-h">Versions</h2>
        <ul class="versions">
          ${(versions.data?.items ?? []).map(
            (v) => html`<li>
              <button type="button" class="link" aria-pressed=${(version ?? chosen.data?.version) === v.version} onClick=${() => setVersion(v.version)}>v${v.version}</button>
              <span class="muted">${when(v.created_at)}${v.archived ? " · archived" : ""}</span> <code class="hash">${v.hash.slice(0, 12)}</code>
            </li>`,
          )}
        </ul>
      </section>
      <section aria-labelledby="definition-h">
        <h2 id="definition-h">Definition${chosen.data ? ` (v${chosen.data.version})` : ""}</h2>
        <${JsonBlock} value=${chosen.data?.definition} label="Definition" />
      </section>
    </div>`;
}
