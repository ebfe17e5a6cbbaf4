import { describe, expect, it } from "vitest";
import { StepError } from "../../src/engine/errors";
import type { StepRecord } from "../../src/engine/model";
import {
  decideFailure,
  decideHold,
  decideInterrupted,
  decideNeedsSkipped,
  decideOutcome,
  decideSkip,
  decideStart,
  decideWake,
  eventValue,
  EXTRA_INTERRUPTED_ATTEMPTS,
  MAX_EVENT_VALUE_BYTES,
  outcomeDeciders,
  type Settling,
} from "../../src/engine/outcomes";
import { pendingGate } from "../../src/engine/approvals";
import type { Step } from "../../src/schemas/definition";
import { isoTime } from "../../src/lib/time";

const NOW = Date.parse("2026-03-01T10:00:00.000Z");
const HASH = "a".repeat(64);
const SECRET = "tok-0123456789";

const running = (p: Partial<StepRecord> = {}): StepRecord => ({
  id: "a",
  idx: 0,
  status: "running",
  attempts: 1,
  output: undefined,
  error: null,
  startedAt: NOW - 500,
  endedAt: null,
  nextAttemptAt: null,
  ...p,
});

const http = (p: Record<string, unknown> = {}): Step => ({ id: "a", type: "http", request: { method: "GET", url: "https://example.com/" }, ...p }) as Step;

const settling = (p: Partial<Settling> = {}): Settling => ({
  step: running(),
  def: http(),
  attempt: 1,
  now: NOW,
  workflow: {},
  planHash: HASH,
  secrets: [],
  ...p,
});

const never = (): number => {
  throw new Error("random must not be called");
};

describe("decideOutcome", () => {
  it("has a decider for every outcome kind", () => {
    expect(Object.keys(outcomeDeciders).sort()).toEqual(["approval", "ask", "child", "completed", "event", "sleep"]);
  });

  it("completed: closes the attempt, completes the step, one step.completed event", () => {
    const d = decideOutcome(settling({ attempt: 2, step: running({ attempts: 2 }) }), { kind: "completed", output: { n: 1 } });
    expect(d).toEqual({
      finished: [{ stepId: "a", attempt: 2, status: "completed", endedAt: NOW, output: { n: 1 }, error: null }],
      steps: [{ stepId: "a", command: "complete", patch: { output: { n: 1 }, endedAt: NOW } }],
      events: [{ type: "step.completed", stepId: "a", data: { attempt: 2, output: { n: 1 } } }],
    });
    expect(d.at).toBeUndefined(); // stamped when applied
  });

  it("completed: masks the output everywhere it is recorded; without secrets the value is kept as is (no copy)", () => {
    const output = { token: SECRET, n: 1 };
    const d = decideOutcome(settling({ secrets: [SECRET] }), { kind: "completed", output });
    expect(d.finished![0]!.output).toEqual({ token: "***", n: 1 });
    expect(d.steps![0]!.patch!.output).toEqual({ token: "***", n: 1 });
    expect(d.events[0]!.data).toEqual({ attempt: 1, output: { token: "***", n: 1 } });
    expect(output.token).toBe(SECRET); // the outcome itself is not changed
    const plain = decideOutcome(settling(), { kind: "completed", output });
    expect(plain.finished![0]!.output).toBe(output);
  });

  it("completed: an output too large for an event is a marker in the event, whole in the rows", () => {
    const output = "x".repeat(MAX_EVENT_VALUE_BYTES + 1);
    const d = decideOutcome(settling(), { kind: "completed", output });
    expect(d.events[0]!.data).toEqual({ attempt: 1, output_truncated: true, output_bytes: output.length + 2 });
    expect(d.steps![0]!.patch!.output).toBe(output);
    expect(eventValue(undefined)).toEqual({});
  });

  it("sleep: the step waits with its output, a step_wake timer at `until`, one step.waiting event", () => {
    const until = NOW + 60_000;
    const d = decideOutcome(settling({ secrets: [SECRET] }), { kind: "sleep", until, output: { note: SECRET } });
    expect(d).toEqual({
      steps: [{ stepId: "a", command: "wait", patch: { output: { note: "***" } } }],
      timers: { set: [{ kind: "step_wake", stepId: "a", dueAt: until }] },
      events: [{ type: "step.waiting", stepId: "a", data: { attempt: 1, kind: "sleep", until: isoTime(until) } }],
    });
  });

  it("ask: the step waits holding the questions; timeout_seconds bounds the wait with a step_wake timer", () => {
    const questions = [{ id: "ok", prompt: `Pay with ${SECRET}?`, type: "boolean" as const }];
    const d = decideOutcome(settling({ def: { id: "a", type: "input", questions, timeout_seconds: 30 } as Step, secrets: [SECRET] }), {
      kind: "ask",
      questions,
    });
    const shown = [{ id: "ok", prompt: "Pay with ***?", type: "boolean" }];
    expect(d).toEqual({
      steps: [{ stepId: "a", command: "wait", patch: { output: { questions: shown } } }],
      timers: { set: [{ kind: "step_wake", stepId: "a", dueAt: NOW + 30_000 }] },
      events: [
        { type: "step.waiting", stepId: "a", data: { attempt: 1, kind: "answers" } },
        { type: "answers.requested", stepId: "a", data: { questions: shown, expires_at: isoTime(NOW + 30_000) } },
      ],
    });
  });

  it("ask: without timeout_seconds there is no timer and no expires_at", () => {
    const questions = [{ id: "ok", prompt: "Pay?", type: "boolean" as const }];
    const d = decideOutcome(settling({ def: { id: "a", type: "input", questions } as Step }), { kind: "ask", questions });
    expect(d.timers).toBeUndefined();
    expect(d.events.map((e) => e.type)).toEqual(["step.waiting", "answers.requested"]);
    expect(d.events[1]!.data).toEqual({ questions });
  });

  it("approval: the step waits behind a new gate with its expiry timer; step.waiting then approval.requested", () => {
    const def = { id: "a", type: "approval", level: 2 } as Step;
    const d = decideOutcome(settling({ def, secrets: [SECRET] }), { kind: "approval", level: 2, comment: `key ${SECRET}` });
    const expiresAt = NOW + 900_000; // level 2's default expiry
    const gate = pendingGate({ kind: "approval_step", step_id: "a", level: 2, request_comment: "key ***" }, NOW, expiresAt);
    expect(d).toEqual({
      steps: [{ stepId: "a", command: "wait" }],
      gates: [gate],
      timers: { set: [{ kind: "approval_expiry", stepId: "a", dueAt: expiresAt }] },
      events: [
        { type: "step.waiting", stepId: "a", data: { attempt: 1, kind: "approval" } },
        { type: "approval.requested", stepId: "a", data: { kind: "approval_step", level: 2, expires_at: isoTime(expiresAt), plan_hash: HASH, request_comment: "key ***" } },
      ],
    });
  });

  it("approval: the workflow's expires_in_seconds and the step's timeout_seconds set the expiry; no comment, no request_comment", () => {
    const def = { id: "a", type: "approval" } as Step;
    const fromWorkflow = decideOutcome(settling({ def, workflow: { approval: { level: 1, expires_in_seconds: 60 } } }), { kind: "approval", level: 1 });
    expect(fromWorkflow.timers!.set![0]!.dueAt).toBe(NOW + 60_000);
    expect(fromWorkflow.gates![0]).not.toHaveProperty("request_comment");
    expect(fromWorkflow.events[1]!.data).toEqual({ kind: "approval_step", level: 1, expires_at: isoTime(NOW + 60_000) });
    const fromStep = decideOutcome(settling({ def: { ...def, timeout_seconds: 5 } as Step }), { kind: "approval", level: 1 });
    expect(fromStep.timers!.set![0]!.dueAt).toBe(NOW + 5_000);
  });
});

describe("decideFailure", () => {
  const retryable = new StepError("HTTP_STATUS", `Upstream said 503 to ${SECRET}`, { retryable: true });

  it("retries: closes the attempt failed, schedules the retry, a step_retry timer, stamped when the attempt ended", () => {
    const def = http({ retry: { max_attempts: 3, backoff: "exponential", initial_interval_ms: 1_000, jitter: false } });
    const d = decideFailure(settling({ def, attempt: 2, step: running({ attempts: 2 }), secrets: [SECRET] }), retryable, never);
    const retryAt = NOW + 2_000; // second failure, exponential from 1 s
    const error = { code: "HTTP_STATUS", message: "Upstream said 503 to ***", step_id: "a", attempt: 2 };
    expect(d).toEqual({
      at: NOW,
      finished: [{ stepId: "a", attempt: 2, status: "failed", endedAt: NOW, error }],
      steps: [{ stepId: "a", command: "schedule_retry", patch: { error, nextAttemptAt: retryAt } }],
      timers: { set: [{ kind: "step_retry", stepId: "a", dueAt: retryAt }] },
      events: [{ type: "step.retrying", stepId: "a", data: { attempt: 2, error, retry_at: isoTime(retryAt) } }],
    });
  });

  it("retries: jitter draws from the given random once; Retry-After is a floor", () => {
    const def = http({ retry: { max_attempts: 3, initial_interval_ms: 1_000, jitter: true } });
    let calls = 0;
    const half = (): number => {
      calls += 1;
      return 0.5;
    };
    expect(decideFailure(settling({ def }), retryable, half).timers!.set![0]!.dueAt).toBe(NOW + 500);
    expect(calls).toBe(1);
    const later = new StepError("HTTP_STATUS", "429", { retryable: true, retryAfterMs: 7_000 });
    expect(decideFailure(settling({ def }), later, half).timers!.set![0]!.dueAt).toBe(NOW + 7_000);
  });

  it("fails: attempts used up, or a non-retryable error; `tolerated` follows on_error", () => {
    const def = http({ retry: { max_attempts: 2, jitter: false } });
    const d = decideFailure(settling({ def, attempt: 2, step: running({ attempts: 2 }) }), retryable, never);
    const error = { code: "HTTP_STATUS", message: `Upstream said 503 to ${SECRET}`, step_id: "a", attempt: 2 };
    expect(d).toEqual({
      finished: [{ stepId: "a", attempt: 2, status: "failed", endedAt: NOW, error }],
      steps: [{ stepId: "a", command: "fail", patch: { error, endedAt: NOW } }],
      events: [{ type: "step.failed", stepId: "a", data: { attempt: 2, error, tolerated: false } }],
    });
    const fatal = new StepError("EXPRESSION_ERROR", "bad", { details: { at: "x" } });
    const tolerated = decideFailure(settling({ def: http({ on_error: "continue" }) }), fatal, never);
    expect(tolerated.steps![0]!.command).toBe("fail");
    expect(tolerated.events[0]!.data).toEqual({ attempt: 1, error: { code: "EXPRESSION_ERROR", message: "bad", details: { at: "x" }, step_id: "a", attempt: 1 }, tolerated: true });
    expect(tolerated.timers).toBeUndefined();
  });

  it("fails: a code outside retry_on is not retried", () => {
    const def = http({ retry: { max_attempts: 5, retry_on: ["NETWORK_ERROR"] } });
    expect(decideFailure(settling({ def }), retryable, never).steps![0]!.command).toBe("fail");
  });
});

describe("decideStart, decideSkip, decideHold", () => {
  it("start: pending → running with the next attempt, its row, one step.started event; the first start time is kept", () => {
    expect(decideStart(running({ status: "pending", attempts: 0, startedAt: null }), NOW)).toEqual({
      steps: [{ stepId: "a", command: "start", patch: { attempts: 1, startedAt: NOW, nextAttemptAt: null, error: null } }],
      started: [{ stepId: "a", attempt: 1, startedAt: NOW }],
      events: [{ type: "step.started", stepId: "a", data: { attempt: 1 } }],
    });
    const again = decideStart(running({ status: "pending", attempts: 1, startedAt: NOW - 9_000 }), NOW);
    expect(again.steps![0]!.patch).toEqual({ attempts: 2, startedAt: NOW - 9_000, nextAttemptAt: null, error: null });
    expect(again.started).toEqual([{ stepId: "a", attempt: 2, startedAt: NOW }]);
  });

  it("skip: the step is skipped with one step.skipped event", () => {
    expect(decideSkip(running({ status: "pending", attempts: 0 }), NOW)).toEqual({
      steps: [{ stepId: "a", command: "skip", patch: { endedAt: NOW } }],
      events: [{ type: "step.skipped", stepId: "a", data: { reason: "condition_false" } }],
    });
  });

  it("hold: the step waits for its level-3 gate, with the gate's expiry timer and both events", () => {
    const gate = pendingGate({ kind: "step", step_id: "a", level: 3 }, NOW, NOW + 1_800_000);
    expect(decideHold(running({ status: "pending", attempts: 0 }), gate, HASH)).toEqual({
      steps: [{ stepId: "a", command: "hold" }],
      gates: [gate],
      timers: { set: [{ kind: "approval_expiry", stepId: "a", dueAt: NOW + 1_800_000 }] },
      events: [
        { type: "step.waiting", stepId: "a", data: { attempt: 0, kind: "approval" } },
        { type: "approval.requested", stepId: "a", data: { kind: "step", level: 3, expires_at: isoTime(NOW + 1_800_000) } },
      ],
    });
  });
});

describe("decideInterrupted, decideWake, decideNeedsSkipped", () => {
  const interrupted = (attempt: number) => ({ code: "INTERRUPTED", message: "The attempt was interrupted (the object restarted while it ran).", step_id: "a", attempt });

  it("interrupted: the attempt fails INTERRUPTED and the step is re-attempted at once", () => {
    const def = http({ retry: { max_attempts: 1 } });
    expect(decideInterrupted(running({ attempts: 2 }), def, {}, NOW)).toEqual({
      finished: [{ stepId: "a", attempt: 2, status: "failed", endedAt: NOW, error: interrupted(2) }],
      steps: [{ stepId: "a", command: "interrupt", patch: { nextAttemptAt: null } }],
      events: [{ type: "step.retrying", stepId: "a", data: { attempt: 2, error: interrupted(2), retry_at: isoTime(NOW) } }],
    });
  });

  it("interrupted: past the policy's attempts plus EXTRA_INTERRUPTED_ATTEMPTS the step fails", () => {
    const def = http({ retry: { max_attempts: 1 } });
    const attempts = 1 + EXTRA_INTERRUPTED_ATTEMPTS;
    expect(decideInterrupted(running({ attempts }), def, {}, NOW)).toEqual({
      finished: [{ stepId: "a", attempt: attempts, status: "failed", endedAt: NOW, error: interrupted(attempts) }],
      steps: [{ stepId: "a", command: "fail", patch: { error: interrupted(attempts), endedAt: NOW } }],
      events: [{ type: "step.failed", stepId: "a", data: { attempt: attempts, error: interrupted(attempts) } }],
    });
  });

  it("wake: a sleep ends, the step completes with its output; a waiting execution wakes", () => {
    const sleeping = running({ status: "waiting", output: { slept: true } });
    const def = { id: "a", type: "wait", seconds: 5 } as Step;
    expect(decideWake(sleeping, def, "waiting", NOW)).toEqual({
      finished: [{ stepId: "a", attempt: 1, status: "completed", endedAt: NOW, output: { slept: true }, error: null }],
      steps: [{ stepId: "a", command: "complete", patch: { endedAt: NOW, output: { slept: true } } }],
      execution: [{ command: "wake", patch: { waitingFor: null } }],
      events: [{ type: "step.completed", stepId: "a", data: { attempt: 1, output: { slept: true } } }],
    });
    expect(decideWake(sleeping, def, "running", NOW).execution).toBeUndefined();
  });

  it("wake: overdue answers complete with the defaults (timed_out) or fail ANSWERS_TIMEOUT", () => {
    const questions = [{ id: "ok", prompt: "Pay?", type: "boolean" as const, default: false }];
    const waiting = running({ status: "waiting", output: { questions } });
    const byDefault = decideWake(waiting, { id: "a", type: "input", questions, on_timeout: "default" } as Step, "paused", NOW);
    expect(byDefault.steps).toEqual([{ stepId: "a", command: "complete", patch: { endedAt: NOW, output: { ok: false } } }]);
    expect(byDefault.events).toEqual([{ type: "step.completed", stepId: "a", data: { attempt: 1, output: { ok: false }, timed_out: true } }]);
    const error = { code: "ANSWERS_TIMEOUT", message: "No answers arrived within timeout_seconds.", step_id: "a", attempt: 1 };
    expect(decideWake(waiting, { id: "a", type: "input", questions, on_error: "continue" } as Step, "waiting", NOW)).toEqual({
      finished: [{ stepId: "a", attempt: 1, status: "failed", endedAt: NOW, error }],
      steps: [{ stepId: "a", command: "fail", patch: { error, endedAt: NOW, output: undefined } }],
      execution: [{ command: "wake", patch: { waitingFor: null } }],
      events: [{ type: "step.failed", stepId: "a", data: { attempt: 1, error, tolerated: true } }],
    });
  });

  it("needs skipped: each step is skipped, events in the order given", () => {
    expect(decideNeedsSkipped(["b", "c"], NOW)).toEqual({
      steps: [
        { stepId: "b", command: "skip", patch: { endedAt: NOW } },
        { stepId: "c", command: "skip", patch: { endedAt: NOW } },
      ],
      events: [
        { type: "step.skipped", stepId: "b", data: { reason: "needs_skipped" } },
        { type: "step.skipped", stepId: "c", data: { reason: "needs_skipped" } },
      ],
    });
  });
});
