/**
 * The form of an input step, built from its questions: a text field, a number field, or
 * a list of choices (yes/no for a boolean) per question, each labelled with its prompt, required ones marked, defaults
 * filled in. The service checks the answers again and lists every problem.
 */
import { html } from "../html";
import { must } from "../session";
import { useAction } from "./action";
import type { ControlProps } from "./controls";
import { ProblemNote } from "./problem";

interface Question {
  id: string;
  prompt: string;
  type: "string" | "number" | "boolean" | "choice";
  options?: string[];
  required?: boolean;
  default?: unknown;
}

function control(q: Question, name: string) {
  const required = q.required !== false && q.default === undefined;
  switch (q.type) {
    case "boolean":
      // Yes or no, chosen on purpose: an unticked box would send `false` for a question left unread.
      return html`<select id=${name} name=${q.id} required=${required}>
        <option value="">${required ? "Choose…" : "(no answer)"}</option>
        <option value="true" selected=${q.default === true}>Yes</option>
        <option value="false" selected=${q.default === false}>No</option>
      </select>`;
    case "number":
      return html`<input id=${name} name=${q.id} type="number" step="any" required=${required} defaultValue=${q.default === undefined ? "" : String(q.default)} />`;
    case "choice":
      return html`<select id=${name} name=${q.id} required=${required}>
        ${required ? html`<option value="">Choose…</option>` : html`<option value="">(no answer)</option>`}
        ${(q.options ?? []).map((o) => html`<option value=${o} selected=${q.default === o}>${o}</option>`)}
      </select>`;
    default:
      return html`<input id=${name} name=${q.id} type="text" required=${required} defaultValue=${q.default === undefined ? "" : String(q.default)} />`;
  }
}

/** The answers the form holds; an empty optional field is left out, so its default applies. */
function answersOf(form: HTMLFormElement, questions: Question[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const q of questions) {
    const el = form.elements.namedItem(q.id) as HTMLInputElement | HTMLSelectElement;
    if (el.value === "") continue;
    out[q.id] = q.type === "number" ? Number(el.value) : q.type === "boolean" ? el.value === "true" : el.value;
  }
  return out;
}

export function AnswerForm({ session, execution, onChanged, stepId, questions }: ControlProps & { stepId: string; questions: unknown }) {
  const { busy, error, run } = useAction(onChanged);
  const list = Array.isArray(questions) ? (questions as Question[]) : [];
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    void run(() =>
      must(
        session.client.api.POST("/v1/executions/{id}/steps/{step_id}/answers", {
          params: { path: { id: execution.id, step_id: stepId } },
          body: { answers: answersOf(form, list) as Record<string, never> },
        }),
      ),
    );
  };
  return html`<form class="panel" aria-labelledby="answers-h" onSubmit=${submit} data-testid="answer-form">
    <h3 id="answers-h">Questions of step <code>${stepId}</code></h3>
    ${list.map((q) => {
      const name = `answer-${q.id}`;
      const required = q.required !== false && q.default === undefined;
      return html`<div class=${`field field-${q.type}`}>
        <label for=${name}>${q.prompt}${required ? html` <span aria-hidden="true">*</span><span class="visually-hidden"> (required)</span>` : null}</label>
        ${control(q, name)}
      </div>`;
    })}
    <button type="submit" class="primary" disabled=${busy}>Send answers</button>
    <${ProblemNote} error=${error} />
  </form>`;
}
