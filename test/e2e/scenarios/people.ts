/** What executions pause for: approvals (levels 1-3 and approval steps) and questions (input steps). */
import { describe, expect, it } from "vitest";
import { call, type Execution, uniqueId, until } from "../helpers/client";

describe("approvals", () => {
  it("level 2: the plan hash reviewed must match; approve starts it", async () => {
    const definition = { id: uniqueId("plan"), approval: { level: 2 }, steps: [{ id: "v", type: "transform", expression: "{ 'ok': true }" }], output: "steps.v.output" };
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition, input: { a: 1 } } });
    expect(started.status).toBe(202);
    expect(started.body.status).toBe("pending_approval");
    expect(started.body.plan_hash).toMatch(/^[0-9a-f]{64}$/);
    const wrong = await call("POST", `/v1/executions/${started.body.id}/approval`, { body: { decision: "approve", plan_hash: "0".repeat(64) } });
    expect(wrong.status).toBe(409);
    expect(wrong.body).toMatchObject({ code: "PLAN_HASH_MISMATCH" });
    const ok = await call<Execution>("POST", `/v1/executions/${started.body.id}/approval`, { body: { decision: "approve", plan_hash: started.body.plan_hash, comment: "looks right" } });
    expect(ok.status, ok.text).toBe(200);
    const done = await until<Execution>(started.body.id, (e) => e.status === "completed");
    expect(done.output).toEqual({ ok: true });
    const again = await call("POST", `/v1/executions/${started.body.id}/approval`, { body: { decision: "approve", plan_hash: started.body.plan_hash } });
    expect(again.status).toBe(409);
  });

  it("an approval step: reject ends the execution rejected", async () => {
    const definition = { id: uniqueId("gate"), steps: [{ id: "gate", type: "approval", comment: "Ship it?" }, { id: "after", type: "transform", needs: ["gate"], expression: "1" }] };
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition, input: {} } });
    const waiting = await until<Execution>(started.body.id, (e) => e.status === "waiting");
    expect(waiting.waiting_for).toMatchObject({ kind: "approval", step_id: "gate" });
    const rejected = await call<Execution>("POST", `/v1/executions/${started.body.id}/approval`, { body: { decision: "reject", step_id: "gate", comment: "not today" } });
    expect(rejected.status, rejected.text).toBe(200);
    expect((await until<Execution>(started.body.id, (e) => e.status === "rejected")).status).toBe("rejected");
  });
});

describe("questions", () => {
  it("answers are checked against the questions, then the run goes on", async () => {
    const definition = {
      id: uniqueId("ask"),
      steps: [
        { id: "ask", type: "input", questions: [{ id: "ok", prompt: "Proceed?", type: "boolean" }, { id: "n", prompt: "How many?", type: "number" }] },
        { id: "after", type: "transform", needs: ["ask"], expression: "{ 'answers': steps.ask.output }" },
      ],
      output: "steps.after.output",
    };
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition, input: {} } });
    const waiting = await until<Execution>(started.body.id, (e) => e.status === "waiting");
    expect(waiting.waiting_for).toMatchObject({ kind: "answers", step_id: "ask" });
    const bad = await call<{ errors: { path: string }[] }>("POST", `/v1/executions/${started.body.id}/steps/ask/answers`, { body: { answers: { ok: "yes" } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e) => e.path).sort()).toEqual(["/answers/n", "/answers/ok"]);
    const answered = await call("POST", `/v1/executions/${started.body.id}/steps/ask/answers`, { body: { answers: { ok: true, n: 3 } } });
    expect(answered.status, answered.text).toBe(200);
    const done = await until<Execution>(started.body.id, (e) => e.status === "completed");
    expect(done.output).toEqual({ answers: { ok: true, n: 3 } });
    const late = await call("POST", `/v1/executions/${started.body.id}/steps/ask/answers`, { body: { answers: { ok: true, n: 3 } } });
    expect(late.status).toBe(409);
  });
});
