/** The tenant's workflows: latest version, when it was registered, and a link to each. */
import { html } from "../html";
import { useLoad } from "../load";
import { when } from "../parts/format";
import { ProblemNote } from "../parts/problem";
import { href } from "../route";
import { must, type Session } from "../session";

export function WorkflowsPage({ session }: { session: Session }) {
  const list = useLoad(() => must(session.client.api.GET("/v1/workflows", { params: { query: { limit: 100 } } })), []);
  return html`<h1>Workflows</h1>
    <${ProblemNote} error=${list.error} />
    <div class="table-wrap" role="region" aria-label="Workflows" tabindex="0">
      <table class="list">
        <thead><tr><th scope="col">Workflow</th><th scope="col">Version</th><th scope="col">Description</th><th scope="col">Registered</th></tr></thead>
        <tbody>
          ${(list.data?.items ?? []).map(
            (w) => html`<tr>
              <td data-label="Workflow"><a href=${href("workflows", w.id)}>${w.name ?? w.id}</a> <code class="muted">${w.id}</code></td>
              <td data-label="Version">v${w.version}${w.archived ? " (archived)" : ""}</td>
              <td data-label="Description">${w.description ?? ""}</td>
              <td data-label="Registered">${when(w.created_at)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
}
