/** The two other things an execution may wait for a person to do: send its event, or raise its budget. */
import { html } from "../html";
import { must } from "../session";
import { field, parseJson, useAction } from "./action";
import type { ControlProps } from "./controls";
import { usd } from "./format";
import { ProblemNote } from "./problem";

export function SignalForm({ session, execution, onChanged, event }: ControlProps & { event: string }) {
  const { busy, error, run } = useAction(onChanged);
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    void run(() =>
      must(
        session.client.api.POST("/v1/executions/{id}/signals/{event}", {
          params: { path: { id: execution.id, event } },
          body: { data: parseJson(field(form, "data"), "The data", null) as never },
        }),
      ),
    );
  };
  return html`<form class="panel" aria-labelledby="signal-h" onSubmit=${submit}>
    <h3 id="signal-h">Send the event <code>${event}</code></h3>
    <label for="signal-data">Data (JSON, optional)</label>
    <textarea id="signal-data" name="data" rows="3" spellcheck=${false} placeholder='{ "amount": 120 }'></textarea>
    <button type="submit" class="primary" disabled=${busy}>Send</button>
    <${ProblemNote} error=${error} />
  </form>`;
}

export function BudgetForm({ session, execution, onChanged }: ControlProps) {
  const { busy, error, run } = useAction(onChanged);
  const current = execution.budget?.max_usd;
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    void run(() =>
      must(
        session.client.api.POST("/v1/executions/{id}/budget", {
          params: { path: { id: execution.id } },
          body: { max_usd: Number(field(form, "max_usd")) },
        }),
      ),
    );
  };
  return html`<form class="panel" aria-labelledby="budget-h" onSubmit=${submit}>
    <h3 id="budget-h">Raise the budget</h3>
    <p>A step waits: its call did not fit the budget of ${usd(current)}.</p>
    <label for="budget-max">New budget (USD)</label>
    <input id="budget-max" name="max_usd" type="number" min=${current ?? 0} step="0.01" required />
    <button type="submit" class="primary" disabled=${busy}>Raise</button>
    <${ProblemNote} error=${error} />
  </form>`;
}
