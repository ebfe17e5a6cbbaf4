/**
 * Signals in pure code (SPEC §9): an event step's output (`signalOutput`), the decision that
 * delivers a signal to the step waiting for it (`decideSignal`), the `event` step kind, what its
 * attempt's outcome decides (`decideOutcome`), and its deadline (`decideWake`).
 */
import { describe, expect, it } from "vitest";
import { auditRow, executionRecord, NOW, stepRecord } from "../helpers/records";
import { context } from "../helpers/step-context";
import { decideSignal, MAX_KEPT_SIGNALS, signalOutput, signalReceived, type Signal } from "../../src/engine/signals";
import { eventKind, TIMED_OUT_SIGNAL } from "../../src/engine/steps/event";
import { kindOf, stepKinds } from "../../src/engine/steps/registry";
import { decideOutcome, decideWake, MAX_EVENT_VALUE_BYTES, type Settling } from "../../src/engine/outcomes";
import type { EventStep, Step } from "../../src/schemas/definition";
import { isoTime } from "../../src/lib/time";

const ISO = "2026-03-01T10:00:00.000Z";
const RECEIVED = NOW - 5_000;

const signal = (p: Partial<Signal> = {}): Signal => ({ event: "payment.settled", data: { amount: 12 }, receivedAt: RECEIVED, via: "signal", ...p });
const eventStep = (p: Partial<EventStep> = {}): EventStep => ({ id: "paid", type: "event", event: "payment.settled", ...p });
const waitingStep = (attempts = 1) => ({ ...stepRecord("paid", "waiting", attempts), output: { event: "payment.settled", callback_url: "/v1/callbacks/t" } });

describe("signalOutput and signal.received", () => {
  it("the output is the signal's data, when it was received (RFC 3339) and how", () => {
    expect(signalOutput(signal())).toEqual({ data: { amount: 12 }, received_at: isoTime(RECEIVED), via: "signal" });
    expect(signalOutput(signal({ data: null, via: "callback", receivedAt: NOW }))).toEqual({ data: null, received_at: ISO, via: "callback" });
    expect(signalOutput(signal({ data: [1, "two"] })).data).toEqual([1, "two"]);
  });

  it("signal.received names the step it completed, or none and kept: true when it is kept", () => {
    expect(signalReceived(signal(), "paid")).toEqual({ type: "signal.received", stepId: "paid", data: { event: "payment.settled", via: "signal", kept: false } });
    expect(signalReceived(signal({ via: "callback" }), null)).toEqual({ type: "signal.received", data: { event: "payment.settled", via: "callback", kept: true } });
  });

  it("an execution keeps at most 100 signals", () => {
    expect(MAX_KEPT_SIGNALS).toBe(100);
  });
});

describe("decideSignal", () => {
  const output = { data: { amount: 12 }, received_at: isoTime(RECEIVED), via: "signal" };

  it("a waiting execution: the step's deadline is cleared, it completes with the signal, the execution wakes; signal.received before step.completed", () => {
    expect(decideSignal(executionRecord({ status: "waiting" }), waitingStep(), signal(), null, NOW)).toEqual({
      timers: { clear: [{ kind: "step_wake", stepId: "paid" }] },
      finished: [{ stepId: "paid", attempt: 1, status: "completed", endedAt: NOW, output, error: null }],
      steps: [{ stepId: "paid", command: "complete", patch: { output, endedAt: NOW } }],
      execution: [{ command: "wake", patch: { waitingFor: null } }],
      events: [
        { type: "signal.received", stepId: "paid", data: { event: "payment.settled", via: "signal", kept: false } },
        { type: "step.completed", stepId: "paid", data: { attempt: 1, output } },
      ],
    });
  });

  it("the attempt is the step's current one, and the request's audit row goes with the change", () => {
    const audit = auditRow("execution.signal");
    const d = decideSignal(executionRecord({ status: "waiting" }), waitingStep(3), signal(), audit, NOW);
    expect(d.finished![0]!.attempt).toBe(3);
    expect(d.events[1]!.data).toMatchObject({ attempt: 3 });
    expect(d.outbox).toEqual([{ audit, at: NOW }]);
  });

  it("a paused or running execution: the step completes (a fact), the execution is not moved", () => {
    for (const status of ["paused", "running"] as const) {
      const d = decideSignal(executionRecord({ status }), waitingStep(), signal(), null, NOW);
      expect(d.execution).toBeUndefined();
      expect(d.steps).toEqual([{ stepId: "paid", command: "complete", patch: { output, endedAt: NOW } }]);
      expect(d.events.map((e) => e.type)).toEqual(["signal.received", "step.completed"]);
    }
  });

  it("data too large for an event is left out of step.completed (the step keeps it)", () => {
    const big = "x".repeat(MAX_EVENT_VALUE_BYTES);
    const d = decideSignal(executionRecord({ status: "waiting" }), waitingStep(), signal({ data: big }), null, NOW);
    expect(d.steps![0]!.patch!.output).toMatchObject({ data: big });
    expect(d.events[1]!.data).toEqual({ attempt: 1, output_truncated: true, output_bytes: expect.any(Number) });
  });
});

describe("the event kind", () => {
  it("is registered for type event; waits for a signal; its attempt has no timeout of its own", () => {
    expect(kindOf("event")).toBe(eventKind);
    expect(stepKinds.event).toBe(eventKind);
    expect(eventKind.waitsFor).toBe("signal");
    expect(eventKind.pure ?? false).toBe(false);
    expect(eventKind.answers).toBeUndefined();
    expect(eventKind.attemptTimeoutMs?.(eventStep({ timeout_seconds: 60 }), { classStepMs: 30_000, approvalExpiryMs: () => 1 })).toBeNull();
  });

  it("run: says which signal it waits for and its callback URL, valid for the step's timeout", async () => {
    const asked: (number | undefined)[] = [];
    const ctx = context({
      callbackUrl: async (timeout) => {
        asked.push(timeout);
        return `/v1/callbacks/tok-${timeout ?? "none"}`;
      },
    });
    expect(await eventKind.run(eventStep({ timeout_seconds: 90 }), ctx)).toEqual({ kind: "event", event: "payment.settled", callbackUrl: "/v1/callbacks/tok-90" });
    expect(await eventKind.run(eventStep({ event: "go" }), ctx)).toEqual({ kind: "event", event: "go", callbackUrl: "/v1/callbacks/tok-none" });
    expect(asked).toEqual([90, undefined]);
  });

  it("at its deadline: on_timeout continue completes with { data: null, received_at: null, via: timeout }; fail or none fails it", () => {
    expect(TIMED_OUT_SIGNAL).toEqual({ data: null, received_at: null, via: "timeout" });
    expect(eventKind.signals!.onTimeout(eventStep({ on_timeout: "continue" }))).toEqual(TIMED_OUT_SIGNAL);
    expect(eventKind.signals!.onTimeout(eventStep({ on_timeout: "fail" }))).toBeNull();
    expect(eventKind.signals!.onTimeout(eventStep())).toBeNull();
  });

  it("simulate: a dry run asks as usual (the dry run delivers its signal or fast-forwards to the timeout)", async () => {
    const ctx = { ...context(), callbackUrl: async () => "" };
    expect(await eventKind.simulate(eventStep({ timeout_seconds: 5 }), ctx)).toEqual({ outcome: { kind: "event", event: "payment.settled", callbackUrl: "" } });
  });
});

describe("decideOutcome for an event", () => {
  const settling = (def: EventStep): Settling => ({
    step: { ...stepRecord("paid", "running"), startedAt: NOW - 10 },
    def,
    attempt: 1,
    now: NOW,
    workflow: {},
    planHash: "p",
    secrets: [],
  });
  const outcome = { kind: "event" as const, event: "payment.settled", callbackUrl: "/v1/callbacks/t" };

  it("without timeout_seconds: the step waits, no timer, step.waiting without until", () => {
    expect(decideOutcome(settling(eventStep()), outcome)).toEqual({
      steps: [{ stepId: "paid", command: "wait", patch: { output: { event: "payment.settled", callback_url: "/v1/callbacks/t" } } }],
      events: [{ type: "step.waiting", stepId: "paid", data: { attempt: 1, kind: "event", event: "payment.settled", callback_url: "/v1/callbacks/t" } }],
    });
  });

  it("with timeout_seconds: a wake timer at its deadline, shown as until", () => {
    const d = decideOutcome(settling(eventStep({ timeout_seconds: 60 })), outcome);
    expect(d.timers).toEqual({ set: [{ kind: "step_wake", stepId: "paid", dueAt: NOW + 60_000 }] });
    expect(d.events).toEqual([
      { type: "step.waiting", stepId: "paid", data: { attempt: 1, kind: "event", event: "payment.settled", callback_url: "/v1/callbacks/t", until: isoTime(NOW + 60_000) } },
    ]);
  });
});

describe("decideWake for an event step", () => {
  const error = { code: "EVENT_TIMEOUT", message: "No signal arrived within timeout_seconds.", step_id: "paid", attempt: 1 };

  it("on_timeout: continue completes it with the timed-out signal, marked timed_out; a waiting execution wakes", () => {
    expect(decideWake(waitingStep(), eventStep({ timeout_seconds: 5, on_timeout: "continue" }) as Step, "waiting", NOW)).toEqual({
      finished: [{ stepId: "paid", attempt: 1, status: "completed", endedAt: NOW, output: TIMED_OUT_SIGNAL, error: null }],
      steps: [{ stepId: "paid", command: "complete", patch: { endedAt: NOW, output: TIMED_OUT_SIGNAL } }],
      execution: [{ command: "wake", patch: { waitingFor: null } }],
      events: [{ type: "step.completed", stepId: "paid", data: { attempt: 1, output: TIMED_OUT_SIGNAL, timed_out: true } }],
    });
  });

  it("on_timeout: fail (or none) fails it EVENT_TIMEOUT, tolerated when on_error is continue; a paused execution is not woken", () => {
    expect(decideWake(waitingStep(), eventStep({ timeout_seconds: 5 }) as Step, "waiting", NOW)).toEqual({
      finished: [{ stepId: "paid", attempt: 1, status: "failed", endedAt: NOW, error }],
      steps: [{ stepId: "paid", command: "fail", patch: { error, endedAt: NOW, output: undefined } }],
      execution: [{ command: "wake", patch: { waitingFor: null } }],
      events: [{ type: "step.failed", stepId: "paid", data: { attempt: 1, error, tolerated: false } }],
    });
    const tolerated = decideWake(waitingStep(), eventStep({ timeout_seconds: 5, on_timeout: "fail", on_error: "continue" }) as Step, "paused", NOW);
    expect(tolerated.execution).toBeUndefined();
    expect(tolerated.events).toEqual([{ type: "step.failed", stepId: "paid", data: { attempt: 1, error, tolerated: true } }]);
  });
});
