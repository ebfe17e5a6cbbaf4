import type { ApprovalStep } from "../../schemas/definition";
import { renderTemplate } from "../evaluate";
import type { StepRunner } from "./types";

/**
 * `approval`: waits for an approver's decision (POST /v1/executions/{id}/approval with the step's
 * id). The comment shown to them is rendered over the scope. Approve completes the step with
 * `{ approved: true, by, comment? }`; reject or expiry ends the execution `rejected`.
 */
export const approvalRunner: StepRunner<ApprovalStep> = {
  async run(step, ctx) {
    if (step.comment === undefined) return { kind: "approval" };
    return { kind: "approval", comment: String(await renderTemplate(step.comment, ctx.scope)) };
  },
};
