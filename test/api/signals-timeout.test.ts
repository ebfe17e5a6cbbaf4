/**
 * Event steps (SPEC §9) and time: `timeout_seconds` with `on_timeout: fail | continue` (the
 * object's clock is moved and its alarm run, no sleeping), a signal in time that clears the
 * deadline, and a signal while the execution is paused.
 */
import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import { eventsOf, start, stepsOf, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { advanceAndRunAlarm, objectNow } from "../helpers/objects";

const sendSignal = (id: string, event: string, key: string, body: unknown = {}) =>
  call<{ event: string; step_id: string | null; kept: boolean; execution: ExecutionBody }>("POST", `/v1/executions/${id}/signals/${event}`, { key, body });

/** Waits for `payment.settled`, then a transform passes the signal on. */
const awaitsPayment = (extra: Record<string, unknown> = {}, more: Record<string, unknown>[] = []) => ({
  definition: {
    id: "awaits-payment",
    steps: [
      { id: "paid", type: "event", event: "payment.settled", ...extra },
      { id: "after", type: "transform", needs: ["paid"], expression: "{ 'paid': steps.paid.output, 'status': steps.paid.status }" },
      ...more,
    ],
    output: "steps.after.output",
  },
});

async function waitingFor(prefix: string, body: Record<string, unknown>) {
  const t = await tenantWithKeys(prefix);
  const started = await start(t.operator, body);
  expect(started.status, started.text).toBe(202);
  const waiting = await waitForStatus(t.viewer, started.body.id, ["waiting"]);
  return { t, id: started.body.id, waiting };
}

const TIMED_OUT = { data: null, received_at: null, via: "timeout" };

describe("event step timeouts", { timeout: 20_000 }, () => {
  it("on_timeout: fail (the default): the step fails EVENT_TIMEOUT at its deadline and so does the execution", async () => {
    const { t, id, waiting } = await waitingFor("sig-to-fail", awaitsPayment({ timeout_seconds: 60 }));
    expect(waiting.waiting_for).toMatchObject({ kind: "event", step_id: "paid", event: "payment.settled" });
    const until = Date.parse(waiting.waiting_for!.until!);
    const now = await objectNow(id);
    expect(until).toBeGreaterThan(now + 55_000);
    expect(until).toBeLessThanOrEqual(now + 60_000);
    const stepWaiting = (await eventsOf(t.viewer, id)).find((e) => e.type === "step.waiting")!;
    expect(stepWaiting.data).toMatchObject({ attempt: 1, kind: "event", event: "payment.settled", until: waiting.waiting_for!.until });

    expect(await advanceAndRunAlarm(id, 61_000)).toBe(true);
    const failed = await waitForStatus(t.viewer, id, ["failed", "completed"]);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({ code: "EVENT_TIMEOUT", step_id: "paid", attempt: 1 });
    const steps = await stepsOf(t.viewer, id);
    expect(steps.map((s) => [s.id, s.status])).toEqual([["paid", "failed"], ["after", "cancelled"]]);
    expect(steps[0]!.error).toMatchObject({ code: "EVENT_TIMEOUT" });
    expect(steps[0]!.attempts).toMatchObject([{ attempt: 1, status: "failed", error: { code: "EVENT_TIMEOUT" } }]);
    expectProblem(await sendSignal(id, "payment.settled", t.operator, { data: 1 }), 409, "INVALID_STATE");
  });

  it("on_timeout: fail with on_error: continue: the step fails EVENT_TIMEOUT, tolerated, and the run goes on", async () => {
    const { t, id } = await waitingFor("sig-to-tolerated", awaitsPayment({ timeout_seconds: 60, on_error: "continue" }));
    expect(await advanceAndRunAlarm(id, 61_000)).toBe(true);
    const ended = await waitForStatus(t.viewer, id, ["completed", "partial", "failed"]);
    expect(ended.status).toBe("partial");
    const paid = (await stepsOf(t.viewer, id)).find((s) => s.id === "paid")!;
    expect(paid).toMatchObject({ status: "failed", error: { code: "EVENT_TIMEOUT", step_id: "paid" } });
    const failedEvent = (await eventsOf(t.viewer, id)).find((e) => e.type === "step.failed")!;
    expect(failedEvent.data).toMatchObject({ attempt: 1, error: { code: "EVENT_TIMEOUT" }, tolerated: true });
  });

  it("on_timeout: continue: the step completes with { data: null, received_at: null, via: \"timeout\" } and the run goes on", async () => {
    const { t, id, waiting } = await waitingFor("sig-to-continue", awaitsPayment({ timeout_seconds: 30, on_timeout: "continue" }));
    expect(waiting.waiting_for?.until).toBeDefined();
    expect(await advanceAndRunAlarm(id, 31_000)).toBe(true);
    const done = await waitForStatus(t.viewer, id, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(done.output).toEqual({ paid: TIMED_OUT, status: "completed" });
    const paid = (await stepsOf(t.viewer, id)).find((s) => s.id === "paid")!;
    expect(paid).toMatchObject({ status: "completed", output: TIMED_OUT, attempts: [{ attempt: 1, status: "completed", output: TIMED_OUT }] });
    const events = await eventsOf(t.viewer, id);
    expect(events.filter((e) => e.type === "signal.received")).toEqual([]);
    expect(events.find((e) => e.type === "step.completed" && e.step_id === "paid")!.data).toEqual({ attempt: 1, output: TIMED_OUT, timed_out: true });
    expectProblem(await sendSignal(id, "payment.settled", t.operator, { data: 1 }), 409, "INVALID_STATE");
  });

  it("a signal in time clears the deadline: passing it later changes nothing", async () => {
    const nap = { id: "nap", type: "wait", seconds: 600, needs: ["after"] };
    const { t, id } = await waitingFor("sig-to-cleared", awaitsPayment({ timeout_seconds: 60 }, [nap]));
    const ok = await sendSignal(id, "payment.settled", t.approver, { data: { n: 1 } });
    expect(ok.status, ok.text).toBe(200);
    // Now it sleeps in `nap`; the event step's deadline passes while it does.
    const napping = await waitForStatus(t.viewer, id, ["waiting"]);
    expect(napping.waiting_for).toMatchObject({ kind: "sleep", step_id: "nap" });
    await advanceAndRunAlarm(id, 61_000);
    const still = (await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: t.viewer })).body;
    expect(still.status).toBe("waiting");
    expect(still.waiting_for).toMatchObject({ kind: "sleep", step_id: "nap" });
    const paid = (await stepsOf(t.viewer, id)).find((s) => s.id === "paid")!;
    expect(paid).toMatchObject({ status: "completed", output: { data: { n: 1 }, via: "signal" } });
    expect((await eventsOf(t.viewer, id)).some((e) => e.type === "step.failed")).toBe(false);
  });
});

describe("a signal while the execution is paused", { timeout: 20_000 }, () => {
  it("completes the waiting step (a fact is recorded while paused); nothing else runs until resume, then the run goes on", async () => {
    const { t, id } = await waitingFor("sig-paused", awaitsPayment());
    const paused = await call<ExecutionBody>("POST", `/v1/executions/${id}/pause`, { key: t.operator });
    expect(paused.status, paused.text).toBe(200);
    expect(paused.body.status).toBe("paused");

    const ok = await sendSignal(id, "payment.settled", t.approver, { data: "while paused" });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ step_id: "paid", kept: false, execution: { status: "paused" } });
    const steps = await stepsOf(t.viewer, id);
    expect(steps.map((s) => [s.id, s.status])).toEqual([["paid", "completed"], ["after", "pending"]]);
    expect(steps[0]!.output).toMatchObject({ data: "while paused", via: "signal" });
    expect((await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: t.viewer })).body.status).toBe("paused");
    // A second signal: no step waits any more, so it is kept.
    const again = await sendSignal(id, "payment.settled", t.approver, { data: "again" });
    expect(again.body).toMatchObject({ step_id: null, kept: true });

    const resumed = await call<ExecutionBody>("POST", `/v1/executions/${id}/resume`, { key: t.operator });
    expect(resumed.status, resumed.text).toBe(200);
    const done = await waitForStatus(t.viewer, id, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(done.waiting_for).toBeUndefined();
    expect(done.output).toMatchObject({ paid: { data: "while paused", via: "signal" }, status: "completed" });
    const types = (await eventsOf(t.viewer, id)).map((e) => [e.type, e.step_id ?? null]);
    expect(types.slice(types.findIndex(([type]) => type === "execution.paused"))).toEqual([
      ["execution.paused", null],
      ["signal.received", "paid"],
      ["step.completed", "paid"],
      ["signal.received", null],
      ["execution.resumed", null],
      ["step.started", "after"],
      ["step.completed", "after"],
      ["execution.completed", null],
    ]);
  });
});
