/** A failed call, shown as the service said it: its code, its detail, and each field error. */
import { SteplineError } from "../../../client/src/index";
import { html } from "../html";

export function ProblemNote({ error }: { error: unknown }) {
  if (!error) return null;
  if (!(error instanceof SteplineError)) return html`<p class="problem" role="alert">${String(error)}</p>`;
  const p = error.problem as { code?: string; detail?: string; title?: string; errors?: { path: string; message: string }[] };
  return html`<div class="problem" role="alert">
    <strong>${p.title ?? "Request failed"}</strong> <code>${p.code ?? error.status}</code>
    ${p.detail ? html`<p>${p.detail}</p>` : null}
    ${p.errors?.length ? html`<ul>${p.errors.map((e) => html`<li><code>${e.path}</code>: ${e.message}</li>`)}</ul>` : null}
  </div>`;
}
