/**
 * Event steps and signals (SPEC §9) through the real app and real objects: a signal for the step
 * waiting for it, signals kept before any step waits (taken first in, first out), the schema check,
 * refusals (404, 409, 403, the 100 kept signals) and the audit log. Timeouts and pause:
 * signals-timeout.test.ts.
 */
import { describe, expect, it } from "vitest";
import { call, createKey, eventually, expectProblem, tenantWithKeys } from "../helpers/api";
import { eventsOf, start, stepsOf, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { inObject } from "../helpers/objects";

interface SignalReceipt {
  event: string;
  step_id: string | null;
  kept: boolean;
  execution: ExecutionBody;
}

const sendSignal = (id: string, event: string, key: string, body: unknown = {}) =>
  call<SignalReceipt>("POST", `/v1/executions/${id}/signals/${event}`, { key, body });

/** How many signals the execution's object keeps for steps that do not wait yet. */
const keptSignals = (id: string) => inObject(id, (o) => o.runtime.store.keptSignals());

const PAYMENT_SCHEMA = {
  type: "object",
  required: ["amount"],
  properties: { amount: { type: "number" }, currency: { type: "string", enum: ["EUR", "USD"] } },
};

/** Waits for `payment.settled` (with a schema), then a transform passes the signal on. */
const awaitsPayment = (extra: Record<string, unknown> = {}) => ({
  definition: {
    id: "awaits-payment",
    steps: [
      { id: "paid", type: "event", event: "payment.settled", schema: PAYMENT_SCHEMA, ...extra },
      { id: "after", type: "transform", needs: ["paid"], expression: "steps.paid.output" },
    ],
    output: "steps.after.output",
  },
});

/** An input step `gate` first: while it waits, no event step waits, so signals are kept. */
const gated = (id: string, steps: Record<string, unknown>[], output: string) => ({
  definition: { id, steps: [{ id: "gate", type: "input", questions: [{ id: "go", prompt: "Go?", type: "boolean" }] }, ...steps], output },
});

async function openGate(id: string, key: string): Promise<void> {
  const res = await call("POST", `/v1/executions/${id}/steps/gate/answers`, { key, body: { answers: { go: true } } });
  expect(res.status, res.text).toBe(200);
}

async function startWaiting(key: string, viewer: string, body: Record<string, unknown>): Promise<ExecutionBody> {
  const started = await start(key, body);
  expect(started.status, started.text).toBe(202);
  return waitForStatus(viewer, started.body.id, ["waiting"]);
}

describe("signals for an event step", { timeout: 30_000 }, () => {
  it("a signal during the wait completes the step with { data, received_at, via } and the run goes on; signal.received comes before step.completed", async () => {
    const t = await tenantWithKeys("sig-wait");
    const waiting = await startWaiting(t.operator, t.viewer, awaitsPayment());
    const id = waiting.id;
    expect(waiting.waiting_for).toMatchObject({ kind: "event", step_id: "paid", event: "payment.settled" });
    expect(waiting.waiting_for?.until).toBeUndefined(); // no timeout_seconds: no deadline
    expect((await stepsOf(t.viewer, id)).map((s) => [s.id, s.status])).toEqual([["paid", "waiting"], ["after", "pending"]]);
    const waitingEvent = (await eventsOf(t.viewer, id)).find((e) => e.type === "step.waiting")!;
    expect(waitingEvent).toMatchObject({ step_id: "paid", data: { attempt: 1, kind: "event", event: "payment.settled" } });
    expect(waitingEvent.data.until).toBeUndefined();

    const before = Date.now();
    const ok = await sendSignal(id, "payment.settled", t.approver, { data: { amount: 12, currency: "EUR" } });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ event: "payment.settled", step_id: "paid", kept: false, execution: { id } });
    const done = await waitForStatus(t.viewer, id, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(done.waiting_for).toBeUndefined();
    const output = done.output as { data: unknown; received_at: string; via: string };
    expect(output).toEqual({ data: { amount: 12, currency: "EUR" }, received_at: expect.any(String), via: "signal" });
    expect(Date.parse(output.received_at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(output.received_at)).toBeLessThanOrEqual(Date.now());

    const paid = (await stepsOf(t.viewer, id))[0]!;
    expect(paid).toMatchObject({ status: "completed", output, attempts: [{ attempt: 1, status: "completed", output }] });
    const events = await eventsOf(t.viewer, id);
    expect(events.map((e) => [e.type, e.step_id ?? null])).toEqual([
      ["execution.created", null],
      ["execution.started", null],
      ["step.started", "paid"],
      ["step.waiting", "paid"],
      ["execution.waiting", null],
      ["signal.received", "paid"],
      ["step.completed", "paid"],
      ["step.started", "after"],
      ["step.completed", "after"],
      ["execution.completed", null],
    ]);
    expect(events.find((e) => e.type === "signal.received")!.data).toEqual({ event: "payment.settled", via: "signal", kept: false });
    expect(events.find((e) => e.type === "step.completed" && e.step_id === "paid")!.data).toEqual({ attempt: 1, output });
    expect(await keptSignals(id)).toBe(0);
  });

  it("data that does not match the waiting step's schema is 400 with every problem under /data, and nothing changes", async () => {
    const t = await tenantWithKeys("sig-schema");
    const waiting = await startWaiting(t.operator, t.viewer, awaitsPayment());
    const id = waiting.id;
    const execution = (await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: t.viewer })).body;
    const steps = await stepsOf(t.viewer, id);
    const events = await eventsOf(t.viewer, id);

    const bad = expectProblem(await sendSignal(id, "payment.settled", t.approver, { data: { amount: "12", currency: "GBP" } }), 400, "VALIDATION_FAILED");
    expect(bad.errors!.map((e) => e.path).sort()).toEqual(["/data/amount", "/data/currency"]);
    expect(bad.errors!.every((e) => e.code === "INVALID_SIGNAL" && e.in === "body")).toBe(true);
    // No data at all is null, which is not an object.
    const none = expectProblem(await sendSignal(id, "payment.settled", t.approver, {}), 400, "VALIDATION_FAILED");
    expect(none.errors!.map((e) => e.path)).toEqual(["/data"]);
    const missing = expectProblem(await sendSignal(id, "payment.settled", t.approver, { data: { currency: "USD" } }), 400, "VALIDATION_FAILED");
    expect(missing.errors!.map((e) => e.path)).toEqual(["/data"]);

    expect((await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: t.viewer })).body).toEqual(execution);
    expect(await stepsOf(t.viewer, id)).toEqual(steps);
    expect(await eventsOf(t.viewer, id)).toEqual(events);
    expect(await keptSignals(id)).toBe(0);
    // A matching one still completes it.
    expect((await sendSignal(id, "payment.settled", t.approver, { data: { amount: 3 } })).status).toBe(200);
    expect((await waitForStatus(t.viewer, id, ["completed"])).output).toMatchObject({ data: { amount: 3 }, via: "signal" });
  });

  it("signals sent before any step waits are kept, then taken first in, first out by two event steps of that name, one after the other", async () => {
    const t = await tenantWithKeys("sig-fifo");
    const body = gated(
      "two-ticks",
      [
        { id: "first", type: "event", event: "tick", needs: ["gate"], schema: { type: "integer" } },
        { id: "second", type: "event", event: "tick", needs: ["first"] },
      ],
      "[steps.first.output.data, steps.second.output.data]",
    );
    const waiting = await startWaiting(t.operator, t.viewer, body);
    const id = waiting.id;
    expect(waiting.waiting_for).toMatchObject({ kind: "answers", step_id: "gate" });

    // Checked against the schema of the first event step of that name still to run: refused, not kept.
    const bad = expectProblem(await sendSignal(id, "tick", t.operator, { data: "one" }), 400, "VALIDATION_FAILED");
    expect(bad.errors!.map((e) => e.path)).toEqual(["/data"]);
    expect(await keptSignals(id)).toBe(0);

    const one = await sendSignal(id, "tick", t.operator, { data: 1 });
    expect(one.status, one.text).toBe(200);
    expect(one.body).toMatchObject({ event: "tick", step_id: null, kept: true, execution: { id, status: "waiting" } });
    const two = await sendSignal(id, "tick", t.approver, { data: 2 });
    expect(two.body).toMatchObject({ step_id: null, kept: true });
    expect(await keptSignals(id)).toBe(2);
    const keptEvents = (await eventsOf(t.viewer, id)).filter((e) => e.type === "signal.received");
    expect(keptEvents.map((e) => [e.step_id ?? null, e.data])).toEqual([
      [null, { event: "tick", via: "signal", kept: true }],
      [null, { event: "tick", via: "signal", kept: true }],
    ]);

    await openGate(id, t.approver);
    const done = await waitForStatus(t.viewer, id, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(done.output).toEqual([1, 2]);
    expect(await keptSignals(id)).toBe(0);
    const steps = await stepsOf(t.viewer, id);
    const [first, second] = [steps.find((s) => s.id === "first")!, steps.find((s) => s.id === "second")!];
    expect(first.output).toEqual({ data: 1, received_at: expect.any(String), via: "signal" });
    expect(second.output).toEqual({ data: 2, received_at: expect.any(String), via: "signal" });
    const receivedAt = (s: typeof first) => Date.parse((s.output as { received_at: string }).received_at);
    // received_at is when the signal came in, before either step started.
    expect(receivedAt(first)).toBeLessThanOrEqual(receivedAt(second));
    expect(receivedAt(second)).toBeLessThanOrEqual(Date.parse(first.attempts[0]!.started_at));
    // Each took its signal as it started: neither waited.
    const events = await eventsOf(t.viewer, id);
    expect(events.filter((e) => e.step_id === "first" || e.step_id === "second").map((e) => [e.type, e.step_id])).toEqual([
      ["step.started", "first"],
      ["step.completed", "first"],
      ["step.started", "second"],
      ["step.completed", "second"],
    ]);
  });

  it("404 for a name no event step declares, an unknown execution or another tenant's; 409 once the execution has ended", async () => {
    const t = await tenantWithKeys("sig-refused");
    const other = await tenantWithKeys("sig-other");
    const id = (await startWaiting(t.operator, t.viewer, awaitsPayment())).id;
    expectProblem(await sendSignal(id, "payment.refunded", t.operator, { data: { amount: 1 } }), 404, "EVENT_NOT_FOUND");
    expectProblem(await sendSignal(id, "payment.settled", other.admin, { data: { amount: 1 } }), 404, "EXECUTION_NOT_FOUND");
    expectProblem(await sendSignal(id, "payment.refunded", other.admin), 404, "EXECUTION_NOT_FOUND"); // never reveals the names
    expectProblem(await sendSignal(`ex_${"0".repeat(32)}`, "payment.settled", t.operator), 404, "EXECUTION_NOT_FOUND");
    expectProblem(await sendSignal("not-an-id", "payment.settled", t.operator), 404, "EXECUTION_NOT_FOUND");
    expect(await keptSignals(id)).toBe(0);
    expect((await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: t.viewer })).body.status).toBe("waiting");

    const cancelled = await call<ExecutionBody>("POST", `/v1/executions/${id}/cancel`, { key: t.operator });
    expect(cancelled.status, cancelled.text).toBe(200);
    const ended = expectProblem(await sendSignal(id, "payment.settled", t.operator, { data: { amount: 1 } }), 409, "INVALID_STATE");
    expect(ended).toMatchObject({ current_status: "cancelled" });
    expect(await keptSignals(id)).toBe(0);
    expect((await stepsOf(t.viewer, id))[0]!.status).toBe("cancelled");
  });

  it("a malformed name or body is 400", async () => {
    const t = await tenantWithKeys("sig-malformed");
    const id = (await startWaiting(t.operator, t.viewer, awaitsPayment())).id;
    expectProblem(await sendSignal(id, "-starts-with-a-dash", t.operator, { data: { amount: 1 } }), 400, "VALIDATION_FAILED");
    expectProblem(await sendSignal(id, "x".repeat(65), t.operator, { data: { amount: 1 } }), 400, "VALIDATION_FAILED");
    expectProblem(await sendSignal(id, "payment.settled", t.operator, { data: { amount: 1 }, extra: true }), 400, "VALIDATION_FAILED");
    expect((await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: t.viewer })).body.status).toBe("waiting");
  });

  it("viewers may not signal (403); operators, approvers and admins may; each signal is audited as execution.signal", async () => {
    const t = await tenantWithKeys("sig-roles");
    const alice = await createKey(t.tenant, "approver", "alice");
    const id = (await startWaiting(t.operator, t.viewer, gated("noted", [{ id: "note", type: "event", event: "note", needs: ["gate"] }], "steps.note.output"))).id;
    expectProblem(await sendSignal(id, "note", t.viewer, { data: "viewer" }), 403, "FORBIDDEN");
    expect(await keptSignals(id)).toBe(0);
    for (const [key, data] of [[t.operator, "operator"], [alice.key, "approver"], [t.admin, "admin"]] as const) {
      const res = await sendSignal(id, "note", key, { data });
      expect(res.status, res.text).toBe(200);
      expect(res.body.kept).toBe(true);
    }
    expect(await keptSignals(id)).toBe(3);
    await openGate(id, t.approver);
    expect((await waitForStatus(t.viewer, id, ["completed"])).output).toMatchObject({ data: "operator" }); // the oldest

    interface Entry { actor: string | null; action: string; target: string | null; result: string; status: number; detail: Record<string, unknown> | null }
    const audit = await eventually(async () => {
      const res = await call<{ items: Entry[] }>("GET", "/v1/audit?action=execution.signal", { key: t.admin });
      expect(res.status, res.text).toBe(200);
      expect(res.body.items).toHaveLength(4);
      return res.body.items;
    });
    expect(audit.every((e) => e.action === "execution.signal" && e.target === id)).toBe(true);
    expect(audit.filter((e) => e.result === "denied").map((e) => e.status)).toEqual([403]);
    const granted = audit.filter((e) => e.result === "success");
    expect(granted.map((e) => [e.status, e.detail])).toEqual(Array.from({ length: 3 }, () => [200, { event: "note" }]));
    expect(granted.map((e) => e.actor)).toContain(alice.id);
    expect(new Set(granted.map((e) => e.actor)).size).toBe(3);
  });

  it("keeps at most 100 signals per execution: the 101st is 409 SIGNALS_FULL, whatever its name", async () => {
    const t = await tenantWithKeys("sig-full");
    const body = gated(
      "ticks-and-tock",
      [
        { id: "tick", type: "event", event: "tick", needs: ["gate"] },
        { id: "tock", type: "event", event: "tock", needs: ["tick"] },
      ],
      "{ 'tick': steps.tick.output.data, 'tock': steps.tock.output.data }",
    );
    const id = (await startWaiting(t.operator, t.viewer, body)).id;
    // The first one alone (it is the one taken), then the other 99 a batch at a time.
    expect((await sendSignal(id, "tick", t.operator, { data: 0 })).status).toBe(200);
    for (let batch = 0; batch < 9; batch++) {
      const sent = await Promise.all(Array.from({ length: 11 }, (_, i) => sendSignal(id, "tick", t.operator, { data: 1 + batch * 11 + i })));
      expect(sent.map((r) => [r.status, r.body.kept])).toEqual(Array.from({ length: 11 }, () => [200, true]));
    }
    expect(await keptSignals(id)).toBe(100);
    const events = await eventsOf(t.viewer, id);
    expectProblem(await sendSignal(id, "tick", t.operator, { data: 100 }), 409, "SIGNALS_FULL");
    expectProblem(await sendSignal(id, "tock", t.operator, { data: "late" }), 409, "SIGNALS_FULL");
    expect(await keptSignals(id)).toBe(100);
    expect(await eventsOf(t.viewer, id)).toEqual(events);

    // The first kept one is taken; a signal for the step waiting needs no room.
    await openGate(id, t.approver);
    await eventually(async () => {
      const e = (await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: t.viewer })).body;
      expect(e.status).toBe("waiting");
      expect(e.waiting_for).toMatchObject({ kind: "event", step_id: "tock", event: "tock" });
    });
    expect(await keptSignals(id)).toBe(99);
    const tock = await sendSignal(id, "tock", t.operator, { data: "now" });
    expect(tock.body).toMatchObject({ step_id: "tock", kept: false });
    expect((await waitForStatus(t.viewer, id, ["completed"])).output).toEqual({ tick: 0, tock: "now" });
    expectProblem(await sendSignal(id, "tick", t.operator, { data: 1 }), 409, "INVALID_STATE");
  });
});
