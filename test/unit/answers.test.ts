import { describe, expect, it } from "vitest";
import { checkAnswers, defaultAnswers } from "../../src/engine/answers";
import type { InputQuestion } from "../../src/schemas/definition";

const questions: InputQuestion[] = [
  { id: "s", prompt: "s", type: "string" },
  { id: "n", prompt: "n", type: "number" },
  { id: "b", prompt: "b", type: "boolean", default: false },
  { id: "c", prompt: "c", type: "choice", options: ["x", "y"] },
  { id: "opt", prompt: "opt", type: "string", required: false },
];

describe("checkAnswers", () => {
  it("accepts answers of the right types and fills defaults", () => {
    expect(checkAnswers(questions, { s: "hi", n: 2.5, c: "y" })).toEqual({ ok: true, answers: { s: "hi", n: 2.5, b: false, c: "y" } });
  });

  it("lists every problem: wrong type, not an option, missing, unknown, non-finite number", () => {
    const r = checkAnswers(questions, { s: 1, n: Number.NaN, b: "yes", c: "z", zz: 1 });
    expect(r).toEqual({
      ok: false,
      problems: [
        { path: "/zz", message: "no question 'zz' was asked" },
        { path: "/s", message: "'s' must be a string" },
        { path: "/n", message: "'n' must be a number" },
        { path: "/b", message: "'b' must be true or false" },
        { path: "/c", message: `'c' must be one of "x", "y"` },
      ],
    });
  });

  it("a missing required answer without a default is a problem; null counts as missing", () => {
    expect(checkAnswers(questions, { s: "a", n: null, c: "x" })).toEqual({ ok: false, problems: [{ path: "/n", message: "an answer is required" }] });
  });

  it("does not treat inherited names as answers", () => {
    expect(checkAnswers([{ id: "toString", prompt: "?", type: "string" }], {})).toEqual({
      ok: false,
      problems: [{ path: "/toString", message: "an answer is required" }],
    });
  });
});

describe("defaultAnswers", () => {
  it("takes each question's default, leaving out those without one", () => {
    expect(defaultAnswers(questions)).toEqual({ b: false });
  });
});
