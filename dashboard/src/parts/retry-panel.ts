/**
 * Retry an ended execution, after seeing its preview: which steps run again and which keep their
 * outputs, which side effects would be repeated, and what the rerun may cost. From a chosen step,
 * optionally with new input (recorded with a new plan hash).
 */
import { useState } from "preact/hooks";
import type { components } from "../../../client/src/index";
import { html } from "../html";
import { must } from "../session";
import { field, parseJson, useAction } from "./action";
import type { ControlProps } from "./controls";
import { usd } from "./format";
import { ProblemNote } from "./problem";

type Step = components["schemas"]["StepTrace"];
type Preview = components["schemas"]["RetryPreview"];

export function RetryPanel({ session, execution, onChanged, steps }: ControlProps & { steps: Step[] }) {
  const api = session.client.api;
  const [preview, setPreview] = useState<{ from: string; input: unknown; plan: Preview } | null>(null);
  const { busy, error, run } = useAction(() => (setPreview(null), onChanged()));
  const look = useAction(() => undefined);

  const showPreview = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const from = field(form, "from_step");
    void look.run(async () => {
      const input = parseJson(field(form, "input"), "The new input", undefined);
      const plan = await must(api.GET("/v1/executions/{id}/retry-preview", { params: { path: { id: execution.id }, query: from ? { from_step: from } : {} } }));
      setPreview({ from, input, plan });
    });
  };
  const retry = () =>
    run(() =>
      must(
        api.POST("/v1/executions/{id}/retry", {
          params: { path: { id: execution.id } },
          body: { ...(preview?.from ? { from_step: preview.from } : {}), ...(preview?.input !== undefined ? { input: preview.input as never } : {}) },
        }),
      ),
    );

  return html`<form class="panel" aria-labelledby="retry-h" onSubmit=${showPreview} onInput=${() => setPreview(null)}>
    <h3 id="retry-h">Retry</h3>
    <label for="retry-from">From step</label>
    <select id="retry-from" name="from_step">
      <option value="">${execution.status === "completed" ? "Choose a step…" : "The failed steps onward"}</option>
      ${steps.map((s) => html`<option value=${s.id}>${s.id} (${s.status})</option>`)}
    </select>
    <label for="retry-input">New input (JSON, optional)</label>
    <textarea id="retry-input" name="input" rows="3" spellcheck=${false} placeholder="Leave empty to keep the input"></textarea>
    <button type="submit" disabled=${look.busy}>Preview</button>
    <${ProblemNote} error=${look.error} />
    ${preview
      ? html`<div class="preview" data-testid="retry-preview">
          <p>Runs again: ${preview.plan.rerun.map((s) => html`<code>${s}</code> `)}</p>
          <p>Kept: ${preview.plan.kept.length ? preview.plan.kept.map((s) => html`<code>${s}</code> `) : "none"}</p>
          ${preview.plan.repeats_side_effects.length
            ? html`<div class="warning" role="note"><strong>Repeats side effects:</strong>
                <ul>${preview.plan.repeats_side_effects.map((r) => html`<li><code>${r.step_id}</code> ${r.method ?? r.type} ${r.url ?? ""} (sent ${r.attempts_sent}×)</li>`)}</ul></div>`
            : html`<p>No side effect is repeated.</p>`}
          <p>Estimated cost: ${usd(preview.plan.estimated_cost_usd)}</p>
          <button type="button" class="primary" disabled=${busy} onClick=${retry}>Retry now</button>
        </div>`
      : null}
    <${ProblemNote} error=${error} />
  </form>`;
}
