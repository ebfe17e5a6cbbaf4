/**
 * What the signed-in key may do to this execution now: each control shows only when the key's role
 * allows it (GET /v1/api-keys/current) and the execution's state accepts it, so a viewer sees none.
 */
import type { components } from "../../../client/src/index";
import { html } from "../html";
import { must, type Session } from "../session";
import { useAction } from "./action";
import { AnswerForm } from "./answer-form";
import { ApprovalPanel } from "./approval-panel";
import { BudgetForm, SignalForm } from "./wait-forms";
import { isEnded } from "./format";
import { ProblemNote } from "./problem";
import { RetryPanel } from "./retry-panel";

type Execution = components["schemas"]["Execution"];
type Step = components["schemas"]["StepTrace"];
type Button = { label: string; call: () => Promise<unknown> };

export interface ControlProps {
  session: Session;
  execution: Execution;
  onChanged: () => unknown;
}

export function Controls(props: ControlProps & { steps: Step[] }) {
  const { session, execution: ex } = props;
  const api = session.client.api;
  const path = { params: { path: { id: ex.id } } };
  const { busy, error, run } = useAction(props.onChanged);
  const operate = session.can("executions:operate");
  const decide = session.can("executions:decide");
  const waiting = ex.waiting_for;
  const pendingGate = ex.approvals?.find((g) => g.status === "pending");

  const choices: (Button | false)[] = operate
    ? [
        !isEnded(ex.status) && { label: "Cancel", call: () => must(api.POST("/v1/executions/{id}/cancel", path)) },
        ["running", "waiting", "queued"].includes(ex.status) && { label: "Pause", call: () => must(api.POST("/v1/executions/{id}/pause", path)) },
        ex.status === "paused" && { label: "Resume", call: () => must(api.POST("/v1/executions/{id}/resume", path)) },
      ]
    : [];
  const buttons = choices.filter((b): b is Button => b !== false);

  const panels = [
    decide && pendingGate && html`<${ApprovalPanel} ...${props} gate=${pendingGate} />`,
    decide && waiting?.kind === "answers" && waiting.step_id && html`<${AnswerForm} ...${props} stepId=${waiting.step_id} questions=${waiting.questions} />`,
    session.can("executions:signal") && waiting?.kind === "event" && html`<${SignalForm} ...${props} event=${String(waiting.event)} />`,
    decide && waiting?.kind === "budget" && html`<${BudgetForm} ...${props} />`,
    operate && isEnded(ex.status) && html`<${RetryPanel} ...${props} steps=${props.steps} />`,
  ].filter(Boolean);

  if (buttons.length === 0 && panels.length === 0) return null;
  return html`<section class="controls" aria-labelledby="controls-h">
    <h2 id="controls-h">Actions</h2>
    ${buttons.length
      ? html`<div class="buttons">
          ${buttons.map((b) => html`<button type="button" disabled=${busy} onClick=${() => run(b.call)}>${b.label}</button>`)}
        </div>`
      : null}
    <${ProblemNote} error=${error} />
    ${panels}
  </section>`;
}
