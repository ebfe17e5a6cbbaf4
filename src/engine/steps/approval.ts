import type { ApprovalStep } from "../../schemas/definition";
import { renderTemplate } from "../evaluate";
import type { StepKind } from "./types";

/**
 * `approval`: waits for an approver's decision (POST /v1/executions/{id}/approval with the step's
 * id). The comment shown to them is rendered over the scope. Approve completes the step with
 * `{ approved: true, by, comment? }`; reject or expiry ends the execution `rejected`. Its
 * `timeout_seconds` is the expiry of that wait (default: the workflow's approval expiry, else the
 * level's default); the attempt itself has no timer. A dry run asks as usual and decides from its
 * request (`approve`).
 */
export const approvalKind: StepKind<ApprovalStep> = {
  async run(step, ctx) {
    const level = step.level ?? 1;
    if (step.comment === undefined) return { kind: "approval", level };
    return { kind: "approval", level, comment: String(await renderTemplate(step.comment, ctx.scope)) };
  },
  waitsFor: "decision",
  attemptTimeoutMs: (step, defaults) => defaults.approvalExpiryMs(step.level ?? 1),
  check(step, ctx) {
    if (step.comment !== undefined) ctx.template(step.comment, ["comment"]);
  },
  async simulate(step, ctx) {
    return { outcome: await approvalKind.run(step, ctx) };
  },
};
