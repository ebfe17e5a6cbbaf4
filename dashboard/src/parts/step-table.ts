/** Each step as it ran: status, attempts with timings and errors, output, and what its calls cost. */
import type { components } from "../../../client/src/index";
import { html } from "../html";
import { JsonBlock, StatusBadge, between, usd } from "./format";

type Step = components["schemas"]["StepTrace"];
type Usage = components["schemas"]["UsageRecord"];

export function StepTable({ steps, usage }: { steps: Step[]; usage: Usage[] }) {
  if (steps.length === 0) return html`<p class="muted">No step has started.</p>`;
  const cost = (id: string) => usage.filter((u) => u.step_id === id).reduce((sum, u) => sum + (u.cost_usd ?? 0), 0);
  return html`<ul class="steps" data-testid="steps">
    ${steps.map(
      (s) => html`<li data-step=${s.id} data-status=${s.status}>
        <details>
          <summary>
            <code>${s.id}</code> <span class="muted">${s.type}</span> <${StatusBadge} status=${s.status} />
            <span class="muted">${between(s.started_at, s.ended_at)}${s.attempts.length > 1 ? ` · ${s.attempts.length} attempts` : ""}${cost(s.id) ? ` · ${usd(cost(s.id))}` : ""}</span>
          </summary>
          ${s.error ? html`<p class="problem"><strong>${s.error.code}</strong> ${s.error.message}</p>` : null}
          <h3>Attempts</h3>
          <ol class="attempts">
            ${s.attempts.map(
              (a) => html`<li>#${a.attempt} <${StatusBadge} status=${a.status} /> ${between(a.started_at, a.ended_at)}
                ${a.error ? html` <code>${a.error.code}</code> ${a.error.message}` : null}</li>`,
            )}
          </ol>
          <h3>Output</h3>
          <${JsonBlock} value=${s.output} label=${`Output of ${s.id}`} />
        </details>
      </li>`,
    )}
  </ul>`;
}
