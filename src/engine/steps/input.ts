import type { InputStep } from "../../schemas/definition";
import { renderTemplate } from "../evaluate";
import type { StepRunner } from "./types";

/**
 * `input`: asks people the step's questions (prompts rendered over the scope). The execution waits
 * until answers arrive (POST …/steps/{step_id}/answers) or `timeout_seconds` passes.
 */
export const inputRunner: StepRunner<InputStep> = {
  async run(step, ctx) {
    const questions = await Promise.all(
      step.questions.map(async (q) => ({ ...q, prompt: String(await renderTemplate(q.prompt, ctx.scope)) })),
    );
    return { kind: "ask", questions };
  },
};
