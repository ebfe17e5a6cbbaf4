/**
 * Executions, newest first, filtered by workflow, status and label (kept in the page's fragment so
 * a filtered list can be shared), refreshed live every few seconds, with paging.
 */
import { useState } from "preact/hooks";
import type { components } from "../../../client/src/index";
import { html } from "../html";
import { useLoad } from "../load";
import { StatusBadge, between, usd, when } from "../parts/format";
import { ProblemNote } from "../parts/problem";
import { href, setQuery } from "../route";
import { must, type Session } from "../session";

type Summary = components["schemas"]["ExecutionSummary"];
type Status = NonNullable<Summary["status"]>;

export const STATUSES: Status[] = ["pending_approval", "queued", "running", "waiting", "paused", "completed", "partial", "failed", "cancelled", "timed_out", "rejected"];
const REFRESH_MS = 2_000;

export function ExecutionsPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const [workflowId, setWorkflowId] = useState(query.get("workflow_id") ?? "");
  const [status, setStatus] = useState(query.get("status") ?? "");
  const [label, setLabel] = useState(query.get("label") ?? "");
  const [live, setLive] = useState(true);
  const [older, setOlder] = useState<{ items: Summary[]; cursor: string | null }>({ items: [], cursor: null });

  const filter = { workflow_id: workflowId || undefined, status: (status || undefined) as Status | undefined, label: label || undefined };
  const workflows = useLoad(() => must(session.client.api.GET("/v1/workflows", { params: { query: { limit: 100 } } })), []);
  const first = useLoad(
    async () => {
      setQuery({ workflow_id: filter.workflow_id, status: filter.status, label: filter.label });
      const page = await must(session.client.api.GET("/v1/executions", { params: { query: { ...filter, limit: 25 } } }));
      return page;
    },
    [workflowId, status, label],
    live ? REFRESH_MS : undefined,
  );

  async function more() {
    const cursor = older.cursor ?? first.data?.next_cursor;
    if (!cursor) return;
    const page = await must(session.client.api.GET("/v1/executions", { params: { query: { ...filter, limit: 25, cursor } } }));
    setOlder({ items: [...older.items, ...page.items], cursor: page.next_cursor ?? null });
  }

  const seen = new Set<string>();
  const rows = [...(first.data?.items ?? []), ...older.items].filter((e) => !seen.has(e.id) && seen.add(e.id));
  const canMore = older.items.length ? older.cursor : first.data?.next_cursor;

  return html`<h1>Executions</h1>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()} aria-label="Filter executions">
      <label>Workflow
        <select value=${workflowId} onChange=${(e: Event) => (setOlder({ items: [], cursor: null }), setWorkflowId((e.target as HTMLSelectElement).value))}>
          <option value="">All workflows</option>
          ${workflows.data?.items.map((w) => html`<option value=${w.id}>${w.name ?? w.id}</option>`)}
        </select>
      </label>
      <label>Status
        <select value=${status} onChange=${(e: Event) => (setOlder({ items: [], cursor: null }), setStatus((e.target as HTMLSelectElement).value))}>
          <option value="">Any status</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s.replace("_", " ")}</option>`)}
        </select>
      </label>
      <label>Label
        <input type="search" placeholder="key:value" value=${label}
          onChange=${(e: Event) => (setOlder({ items: [], cursor: null }), setLabel((e.target as HTMLInputElement).value.trim()))} />
      </label>
      <label class="check"><input type="checkbox" checked=${live} onChange=${(e: Event) => setLive((e.target as HTMLInputElement).checked)} /> Live refresh</label>
    </form>
    <${ProblemNote} error=${first.error} />
    <div class="table-wrap" role="region" aria-label="Executions" tabindex="0">
      <table class="list">
        <thead><tr><th scope="col">Execution</th><th scope="col">Workflow</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Cost</th></tr></thead>
        <tbody data-testid="executions">
          ${rows.map(
            (e) => html`<tr data-id=${e.id}>
              <td data-label="Execution"><a href=${href("executions", e.id)}><code>${e.id}</code></a></td>
              <td data-label="Workflow">${e.workflow_id} <span class="muted">v${e.workflow_version}</span></td>
              <td data-label="Status"><${StatusBadge} status=${e.status} />${e.error_code ? html` <code class="muted">${e.error_code}</code>` : null}</td>
              <td data-label="Created">${when(e.created_at)}</td>
              <td data-label="Duration">${between(e.started_at, e.ended_at)}</td>
              <td data-label="Cost">${usd(e.cost?.total_usd)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
    ${rows.length === 0 && !first.loading ? html`<p class="muted">No executions match.</p>` : null}
    ${canMore ? html`<button type="button" onClick=${more}>Load older</button>` : null}`;
}
