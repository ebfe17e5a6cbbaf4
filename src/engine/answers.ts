/**
 * Answers to an `input` step's questions: checked against the questions (every problem listed),
 * with defaults filled in for questions left unanswered. Pure.
 */
import type { InputQuestion } from "../schemas/definition";
import type { AnswerProblem } from "../schemas/execution-rpc";

export type AnswersCheck = { ok: true; answers: Record<string, unknown> } | { ok: false; problems: AnswerProblem[] };

function typeProblem(q: InputQuestion, value: unknown): string | null {
  switch (q.type) {
    case "string":
      return typeof value === "string" ? null : "must be a string";
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? null : "must be a number";
    case "boolean":
      return typeof value === "boolean" ? null : "must be true or false";
    case "choice":
      return typeof value === "string" && (q.options ?? []).includes(value)
        ? null
        : `must be one of ${(q.options ?? []).map((o) => JSON.stringify(o)).join(", ")}`;
  }
}

export function checkAnswers(questions: readonly InputQuestion[], given: Record<string, unknown>): AnswersCheck {
  const problems: AnswerProblem[] = [];
  const answers: Record<string, unknown> = {};
  const known = new Set(questions.map((q) => q.id));
  for (const key of Object.keys(given)) {
    if (!known.has(key)) problems.push({ path: `/${key}`, message: `no question '${key}' was asked` });
  }
  for (const q of questions) {
    const value = Object.hasOwn(given, q.id) ? given[q.id] : undefined;
    if (value === undefined || value === null) {
      if (q.default !== undefined) answers[q.id] = q.default;
      else if (q.required !== false) problems.push({ path: `/${q.id}`, message: "an answer is required" });
      continue;
    }
    const problem = typeProblem(q, value);
    if (problem) problems.push({ path: `/${q.id}`, message: `'${q.id}' ${problem}` });
    else answers[q.id] = value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, answers };
}

/** The answers a timed-out `input` step with `on_timeout: default` completes with. */
export function defaultAnswers(questions: readonly InputQuestion[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const q of questions) if (q.default !== undefined) out[q.id] = q.default;
  return out;
}
