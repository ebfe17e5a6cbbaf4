/**
 * `transform`: evaluates `expression` over the step's scope; its value is the output (no match →
 * null). Pure: no I/O, no waiting, so a dry run runs it as usual.
 */
import type { TransformStep } from "../../schemas/definition";
import { evaluateExpression } from "../evaluate";
import type { StepKind } from "./types";

export const transformKind: StepKind<TransformStep> = {
  pure: true,
  async run(step, ctx) {
    const output = await evaluateExpression(step.expression, ctx.scope, { location: "expression" });
    return { kind: "completed", output: output ?? null };
  },
  check(step, ctx) {
    ctx.expression(step.expression, ["expression"]);
  },
  async simulate(step, ctx) {
    return { outcome: await transformKind.run(step, ctx) };
  },
};
