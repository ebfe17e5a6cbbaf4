/** What a retry would run again, in pure code (engine/redrive.ts). */
import { describe, expect, it } from "vitest";
import { estimatedRerunCost, redrivePlan, repeatedSideEffects } from "../../src/engine/redrive";
import { compilePlan } from "../../src/engine/scheduler";
import type { StepRecord } from "../../src/engine/model";
import type { Step } from "../../src/schemas/definition";
import { stepRecord } from "../helpers/records";

const defs: Step[] = [
  { id: "fetch", type: "http", request: { method: "GET", url: "https://a.example/" } },
  { id: "pay", type: "http", needs: ["fetch"], request: { method: "POST", url: "https://b.example/pay" } },
  { id: "ask", type: "llm", needs: ["fetch"], model: "m", prompt: "p" },
  { id: "child", type: "workflow", needs: ["pay"], workflow_id: "w" },
  { id: "side", type: "transform", expression: "1" },
] as Step[];
const plan = compilePlan(defs);
const byId = new Map(defs.map((d) => [d.id, d]));
const states = (s: Record<string, [StepRecord["status"], number]>) => new Map(Object.entries(s).map(([id, [status, attempts]]) => [id, stepRecord(id, status, attempts)]));

describe("redrivePlan", () => {
  it("a plain retry reruns what did not complete (and never ran), keeps completed and skipped steps", () => {
    const st = states({ fetch: ["completed", 1], pay: ["failed", 3], ask: ["cancelled", 1], side: ["skipped", 0] });
    expect(redrivePlan(plan, st)).toEqual({ rerun: ["pay", "ask", "child"], kept: ["fetch", "side"] });
  });

  it("from a step: it and everything downstream, plus what did not complete", () => {
    const st = states({ fetch: ["completed", 1], pay: ["completed", 1], ask: ["completed", 1], child: ["completed", 1], side: ["completed", 1] });
    expect(redrivePlan(plan, st, "pay")).toEqual({ rerun: ["pay", "child"], kept: ["fetch", "ask", "side"] });
    expect(redrivePlan(plan, st, "fetch").kept).toEqual(["side"]);
  });
});

describe("repeatedSideEffects and estimatedRerunCost", () => {
  it("names requests other than GET, llm calls and children that earlier attempts sent; costs the last attempts", () => {
    const st = states({ fetch: ["failed", 2], pay: ["failed", 3], ask: ["failed", 2], child: ["pending", 0] });
    expect(repeatedSideEffects(["fetch", "pay", "ask", "child"], byId, st)).toEqual([
      { step_id: "pay", type: "http", method: "POST", url: "https://b.example/pay", attempts_sent: 3 },
      { step_id: "ask", type: "llm", attempts_sent: 2 },
    ]);
    const usage = [
      { stepId: "ask", item: null, attempt: 1, call: 1, model: "m", input_tokens: 1, output_tokens: 1, cost_usd: 0.5, price: null, time: 0 },
      { stepId: "ask", item: null, attempt: 2, call: 1, model: "m", input_tokens: 1, output_tokens: 1, cost_usd: 0.25, price: null, time: 0 },
      { stepId: "ask", item: null, attempt: 2, call: 2, model: "m", input_tokens: 1, output_tokens: 1, cost_usd: null, price: null, time: 0 },
      { stepId: "fetch", item: null, attempt: 2, call: 1, model: null, input_tokens: 0, output_tokens: 0, cost_usd: 9, price: null, time: 0 },
    ];
    expect(estimatedRerunCost(["ask"], st, usage)).toBe(0.25);
  });
});
