/**
 * A pending approval gate: what is asked, the plan hash a level-2 approver reviews (sent back with
 * the decision, so an approval never applies to a plan the approver did not see), and a comment.
 */
import type { components } from "../../../client/src/index";
import { html } from "../html";
import { must } from "../session";
import { field, useAction } from "./action";
import type { ControlProps } from "./controls";
import { when } from "./format";
import { ProblemNote } from "./problem";

type Gate = components["schemas"]["ApprovalGate"];

export function ApprovalPanel({ session, execution, onChanged, gate }: ControlProps & { gate: Gate }) {
  const { busy, error, run } = useAction(onChanged);
  let form: HTMLFormElement | null = null;
  const decide = (decision: "approve" | "reject") =>
    run(() =>
      must(
        session.client.api.POST("/v1/executions/{id}/approval", {
          params: { path: { id: execution.id } },
          body: {
            decision,
            ...(gate.level === 2 ? { plan_hash: execution.plan_hash } : {}),
            ...(gate.step_id ? { step_id: gate.step_id } : {}),
            ...(form && field(form, "comment").trim() ? { comment: field(form, "comment").trim() } : {}),
          },
        }),
      ),
    );
  return html`<form class="panel" aria-labelledby="approval-h" ref=${(el: HTMLFormElement | null) => (form = el)} onSubmit=${(e: Event) => e.preventDefault()}>
    <h3 id="approval-h">Approval ${gate.step_id ? html`of step <code>${gate.step_id}</code>` : "to start"} <span class="muted">(level ${gate.level})</span></h3>
    ${gate.request_comment ? html`<p>${gate.request_comment}</p>` : null}
    ${gate.level === 2
      ? html`<p>You approve this plan: <code class="hash" data-testid="plan-hash">${execution.plan_hash}</code></p>`
      : null}
    <p class="muted">Requested ${when(gate.requested_at)}; expires ${when(gate.expires_at)}.</p>
    <label for="approval-comment">Comment (optional)</label>
    <textarea id="approval-comment" name="comment" rows="2" maxlength="4000"></textarea>
    <div class="buttons">
      <button type="button" class="primary" disabled=${busy} onClick=${() => decide("approve")}>Approve</button>
      <button type="button" class="danger" disabled=${busy} onClick=${() => decide("reject")}>Reject</button>
    </div>
    <${ProblemNote} error=${error} />
  </form>`;
}
