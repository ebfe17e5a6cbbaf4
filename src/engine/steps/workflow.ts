/**
 * `workflow`: starts a child execution of `workflow_id` (SPEC §9) and waits for its end. The attempt
 * renders `input` and has the Durable Object prepare the child's start (`ctx.children`: the pinned
 * version's definition, its input checked against the child's `input_schema`, the depth limit);
 * the outcome `child` makes the step wait and puts the start in the outbox in the same
 * transaction, so a child is started exactly when the wait is recorded. The child's id is derived
 * from (parent, step, attempt): a start sent twice reaches the same child. Its end comes back
 * through the child's outbox (`childEnded`): the child's output is the step's output; any other
 * end fails the step `CHILD_FAILED` through its retry policy, and a retry starts a new child.
 * A dry run starts nothing: it completes with output null.
 */
import type { ChildWorkflowStep } from "../../schemas/definition";
import { renderTemplate } from "../evaluate";
import type { StepKind } from "./types";

export const workflowKind: StepKind<ChildWorkflowStep> = {
  async run(step, ctx) {
    const input = step.input === undefined ? {} : await renderTemplate(step.input, ctx.scope, undefined, "input");
    const start = await ctx.children.prepare({
      workflowId: step.workflow_id,
      version: step.version,
      input,
      parentClose: step.parent_close ?? "cancel",
    });
    return { kind: "child", start };
  },
  waitsFor: "child",
  // The child's own timeout bounds it (and the parent's): the step has no attempt timeout of its own.
  attemptTimeoutMs: () => null,
  check(step, ctx) {
    if (step.input !== undefined) ctx.templates(step.input, ["input"]);
  },
  async simulate() {
    return { outcome: { kind: "completed", output: null } };
  },
};
