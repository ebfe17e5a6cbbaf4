import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import { eventsOf, start, stepsOf, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { advanceAndRunAlarm } from "../helpers/objects";

function review(extra: Record<string, unknown> = {}) {
  return {
    definition: {
      id: "invoice-check",
      steps: [
        { id: "total", type: "transform", expression: "input.amount * 2" },
        {
          id: "confirm",
          type: "input",
          needs: ["total"],
          questions: [
            { id: "pay", prompt: "Total is {{ steps.total.output }}. Pay it?", type: "boolean" },
            { id: "channel", prompt: "How?", type: "choice", options: ["wire", "card"], default: "wire" },
            { id: "note", prompt: "Anything to add?", type: "string", required: false },
          ],
          ...extra,
        },
        { id: "after", type: "transform", needs: ["confirm"], expression: "steps.confirm.output" },
      ],
      output: "steps.after.output",
    },
    input: { amount: 600 },
  };
}

async function waitingForAnswers(prefix: string, extra: Record<string, unknown> = {}) {
  const t = await tenantWithKeys(prefix);
  const res = await start(t.operator, review(extra));
  const waiting = await waitForStatus(t.viewer, res.body.id, ["waiting"]);
  return { t, id: res.body.id, waiting };
}

const answer = (id: string, key: string, answers: Record<string, unknown>, step = "confirm") =>
  call<ExecutionBody>("POST", `/v1/executions/${id}/steps/${step}/answers`, { key, body: { answers } });

describe("input steps and answers", { timeout: 20_000 }, () => {
  it("waits with the questions visible, then accepted answers become the output and the run continues", async () => {
    const { t, id, waiting } = await waitingForAnswers("ans-ok");
    expect(waiting.waiting_for).toMatchObject({ kind: "answers", step_id: "confirm" });
    const questions = (waiting.waiting_for as unknown as { questions: { id: string; prompt: string }[] }).questions;
    expect(questions.map((q) => [q.id, q.prompt])).toEqual([
      ["pay", "Total is 1200. Pay it?"],
      ["channel", "How?"],
      ["note", "Anything to add?"],
    ]);
    const res = await answer(id, t.approver, { pay: true });
    expect(res.status, res.text).toBe(200);
    const done = await waitForStatus(t.viewer, id, ["completed"]);
    expect(done.output).toEqual({ pay: true, channel: "wire" }); // the default filled in; the optional one left out
    const types = (await eventsOf(t.viewer, id)).map((e) => [e.type, e.step_id ?? null]);
    expect(types).toEqual([
      ["execution.created", null],
      ["execution.started", null],
      ["step.started", "total"],
      ["step.completed", "total"],
      ["step.started", "confirm"],
      ["step.waiting", "confirm"],
      ["answers.requested", "confirm"],
      ["execution.waiting", null],
      ["answers.received", "confirm"],
      ["step.completed", "confirm"],
      ["step.started", "after"],
      ["step.completed", "after"],
      ["execution.completed", null],
    ]);
  });

  it("400 lists every wrong or missing answer and changes nothing", async () => {
    const { t, id } = await waitingForAnswers("ans-bad");
    const res = await answer(id, t.approver, { channel: "cash", note: 5, extra: "?" });
    const p = expectProblem(res, 400, "VALIDATION_FAILED");
    expect(p.errors!.map((e) => e.path).sort()).toEqual(["/answers/channel", "/answers/extra", "/answers/note", "/answers/pay"]);
    const still = await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: t.viewer });
    expect(still.body.status).toBe("waiting");
    expect((await stepsOf(t.viewer, id))[1]!.status).toBe("waiting");
  });

  it("409 for a step that is not waiting for answers, 404 for an unknown step or another tenant", async () => {
    const { t, id } = await waitingForAnswers("ans-conflict");
    const other = await tenantWithKeys("ans-other");
    expectProblem(await answer(id, t.approver, { pay: true }, "total"), 409, "INVALID_STATE");
    expectProblem(await answer(id, t.approver, { pay: true }, "ghost"), 404, "STEP_NOT_FOUND");
    expectProblem(await answer(id, other.admin, { pay: true }), 404, "EXECUTION_NOT_FOUND");
    expect((await answer(id, t.admin, { pay: false })).status).toBe(200);
    expectProblem(await answer(id, t.approver, { pay: true }), 409, "INVALID_STATE"); // answered already
  });

  it("only approvers and admins answer", async () => {
    const { t, id } = await waitingForAnswers("ans-roles");
    for (const role of ["operator", "viewer"] as const) expectProblem(await answer(id, t[role], { pay: true }), 403, "FORBIDDEN");
    expect((await answer(id, t.approver, { pay: true })).status).toBe(200);
  });

  it("timeout_seconds with on_timeout: default completes with the defaults; with fail, the step fails", async () => {
    const withDefault = await waitingForAnswers("ans-timeout-default", {
      timeout_seconds: 60,
      on_timeout: "default",
      questions: [{ id: "pay", prompt: "Pay?", type: "boolean", default: false }],
    });
    expect(withDefault.waiting.waiting_for?.until).toBeDefined();
    expect(await advanceAndRunAlarm(withDefault.id, 61_000)).toBe(true);
    const done = await waitForStatus(withDefault.t.viewer, withDefault.id, ["completed"]);
    expect(done.output).toEqual({ pay: false });

    const withFail = await waitingForAnswers("ans-timeout-fail", { timeout_seconds: 60 });
    expect(await advanceAndRunAlarm(withFail.id, 61_000)).toBe(true);
    const failed = await waitForStatus(withFail.t.viewer, withFail.id, ["failed"]);
    expect(failed.error).toMatchObject({ code: "ANSWERS_TIMEOUT", step_id: "confirm" });
    expectProblem(await answer(withFail.id, withFail.t.approver, { pay: true }), 409, "INVALID_STATE");
  });
});
