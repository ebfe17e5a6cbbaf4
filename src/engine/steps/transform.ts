/** `transform`: evaluates `expression` over the step's scope; its value is the output (no match → null). */
import type { TransformStep } from "../../schemas/definition";
import { evaluateExpression } from "../evaluate";
import type { StepRunner } from "./types";

export const transformRunner: StepRunner<TransformStep> = {
  pure: true,
  async run(step, ctx) {
    const output = await evaluateExpression(step.expression, ctx.scope, { location: "expression" });
    return { kind: "completed", output: output ?? null };
  },
};
