/**
 * Everything waiting for a person, newest first: approvals, questions, events and budgets, each
 * linking to its execution where it is decided. Refreshed live; a decided item leaves `pending`.
 */
import { useState } from "preact/hooks";
import type { components } from "../../../client/src/index";
import { html } from "../html";
import { useLoad } from "../load";
import { StatusBadge, when } from "../parts/format";
import { ProblemNote } from "../parts/problem";
import { href, setQuery } from "../route";
import { must, type Session } from "../session";

type Item = components["schemas"]["InboxItem"];
const KINDS: Item["kind"][] = ["approval", "answers", "event", "budget"];
const REFRESH_MS = 3_000;

export function InboxPage({ session, query }: { session: Session; query: URLSearchParams }) {
  const [kind, setKind] = useState(query.get("kind") ?? "");
  const [status, setStatus] = useState(query.get("status") ?? "pending");
  const items = useLoad(
    () => {
      setQuery({ kind: kind || undefined, status });
      const q = { ...(kind ? { kind: kind as Item["kind"] } : {}), status: status as Item["status"], limit: 50 };
      return must(session.client.api.GET("/v1/inbox", { params: { query: q } }));
    },
    [kind, status],
    REFRESH_MS,
  );
  const rows = items.data?.items ?? [];
  return html`<h1>Inbox</h1>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()} aria-label="Filter the inbox">
      <label>Kind
        <select value=${kind} onChange=${(e: Event) => setKind((e.target as HTMLSelectElement).value)}>
          <option value="">Every kind</option>
          ${KINDS.map((k) => html`<option value=${k}>${k}</option>`)}
        </select>
      </label>
      <label>Status
        <select value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="pending">Pending</option>
          <option value="done">Done</option>
        </select>
      </label>
    </form>
    <${ProblemNote} error=${items.error} />
    <ul class="inbox" data-testid="inbox">
      ${rows.map(
        (i) => html`<li data-execution=${i.execution_id} data-kind=${i.kind}>
          <a href=${href("executions", i.execution_id)}><strong>${i.summary}</strong></a>
          <span class="muted">${i.kind}${i.step_id ? html` · step <code>${i.step_id}</code>` : null} · ${i.workflow_id}</span>
          <span class="muted">requested ${when(i.requested_at)}${i.expires_at ? ` · expires ${when(i.expires_at)}` : ""}</span>
          ${i.outcome ? html`<span><${StatusBadge} status=${i.outcome} />${i.decided_by ? html` <span class="muted">by ${i.decided_by}</span>` : null}</span>` : null}
        </li>`,
      )}
    </ul>
    ${rows.length === 0 && !items.loading ? html`<p class="muted" data-testid="inbox-empty">${status === "pending" ? "Nothing is waiting for you." : "Nothing here."}</p>` : null}`;
}
