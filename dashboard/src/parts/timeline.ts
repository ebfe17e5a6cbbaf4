/** The execution's events in order, newest last, announced politely to screen readers as they arrive. */
import type { ExecutionEvent } from "../../../client/src/index";
import { html } from "../html";

function detail(e: ExecutionEvent): string {
  const d = e.data as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof d.attempt === "number" && d.attempt > 1) parts.push(`attempt ${d.attempt}`);
  if (typeof d.kind === "string") parts.push(d.kind);
  const error = d.error as { code?: string } | undefined;
  if (error?.code) parts.push(error.code);
  if (typeof d.by === "string") parts.push(`by ${d.by}`);
  return parts.join(" · ");
}

export function Timeline({ events }: { events: ExecutionEvent[] }) {
  if (events.length === 0) return html`<p class="muted">Waiting for events…</p>`;
  return html`<ol class="timeline" aria-live="polite" data-testid="timeline">
    ${events.map(
      (e) => html`<li data-type=${e.type} class=${`ev ev-${e.type.split(".")[1]}`}>
        <time datetime=${e.time}>${new Date(e.time).toLocaleTimeString()}</time>
        <span class="ev-type">${e.type}</span>
        ${e.step_id ? html`<code>${e.step_id}</code>` : null}
        <span class="muted">${detail(e)}</span>
      </li>`,
    )}
  </ol>`;
}
