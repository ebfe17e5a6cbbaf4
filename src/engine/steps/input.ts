/**
 * `input`: asks people the step's questions (prompts rendered over the scope). The execution waits
 * until answers arrive (POST …/steps/{step_id}/answers) or `timeout_seconds` passes (no default:
 * without it the wait is bounded only by the execution timeout). A dry run asks as usual and
 * answers from its request (`answers`).
 */
import type { InputQuestion, InputStep } from "../../schemas/definition";
import { checkAnswers, defaultAnswers } from "../answers";
import { renderTemplate } from "../evaluate";
import type { StepCheckContext, StepKind } from "./types";

export const inputKind: StepKind<InputStep> = {
  async run(step, ctx) {
    const questions = await Promise.all(
      step.questions.map(async (q) => ({ ...q, prompt: String(await renderTemplate(q.prompt, ctx.scope)) })),
    );
    return { kind: "ask", questions };
  },
  waitsFor: "answers",
  answers: {
    check: (step, given) => checkAnswers(step.questions, given),
    // `on_timeout: default` completes with the questions' defaults; otherwise the step fails.
    onTimeout: (step) => (step.on_timeout === "default" ? defaultAnswers(step.questions) : null),
  },
  attemptTimeoutMs: () => null,
  check,
  async simulate(step, ctx) {
    return { outcome: await inputKind.run(step, ctx) };
  },
};

/** Choice questions have distinct options, others none; a literal default fits its question; `on_timeout: default` has defaults. */
function check(step: InputStep, ctx: StepCheckContext): void {
  step.questions.forEach((question, q) => {
    const at = ["questions", q];
    ctx.template(question.prompt, [...at, "prompt"]);
    if (question.type === "choice") {
      if (question.options === undefined) {
        ctx.problem([...at, "options"], "INVALID_QUESTION", `choice question '${question.id}' has no options`);
      } else {
        const seen = new Set<string>();
        question.options.forEach((option, k) => {
          if (seen.has(option)) ctx.problem([...at, "options", k], "INVALID_QUESTION", `option '${option}' of question '${question.id}' is listed twice`);
          seen.add(option);
        });
      }
    } else if (question.options !== undefined) {
      ctx.problem([...at, "options"], "INVALID_QUESTION", `options are only used by choice questions; question '${question.id}' is of type ${question.type}`);
    }

    if (question.default !== undefined) {
      const value = question.default;
      // A templated default is computed at run time; its type cannot be known here.
      const templated = typeof value === "string" && ctx.template(value, [...at, "default"]) !== "literal";
      if (!templated) {
        const problem = defaultProblem(question.type, value, question.options);
        if (problem) ctx.problem([...at, "default"], "INVALID_QUESTION", `default of question '${question.id}' ${problem}`);
      }
    }
  });

  if (step.on_timeout === "default") {
    const missing = step.questions.filter((question) => question.required !== false && question.default === undefined).map((question) => `'${question.id}'`);
    if (missing.length > 0) {
      ctx.problem(["on_timeout"], "INVALID_QUESTION", `on_timeout 'default' needs a default for every required question; ${missing.join(", ")} ${missing.length === 1 ? "has" : "have"} none`);
    }
  }
}

function defaultProblem(type: InputQuestion["type"], value: unknown, options: readonly string[] | undefined): string | null {
  switch (type) {
    case "choice":
      if (typeof value !== "string") return "must be one of its options";
      if (options && !options.includes(value)) return `'${value}' is not one of its options (${options.join(", ")})`;
      return null;
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? null : "must be a number";
    case "boolean":
      return typeof value === "boolean" ? null : "must be true or false";
    case "string":
      return typeof value === "string" ? null : "must be a string";
  }
}
