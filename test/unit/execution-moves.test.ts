import { describe, expect, it } from "vitest";
import { auditRow, executionRecord, NOW, stepRecord } from "../helpers/records";
import {
  decideAnswer,
  decideCancel,
  decideCancelOpenSteps,
  decideCreate,
  decideEnd,
  decideFailed,
  decidePause,
  decideResume,
  decideRetry,
  decideStepFailedExecution,
  decideTimeout,
  decideWaiting,
} from "../../src/engine/execution-moves";
import { MAX_EVENT_VALUE_BYTES } from "../../src/engine/outcomes";
import type { ExecutionRecord } from "../../src/engine/model";
import type { WaitingFor } from "../../src/schemas/executions";


const execution = executionRecord;
const step = stepRecord;

const audit = auditRow("execution.pause");

describe("create", () => {
  const request = (approval?: Record<string, unknown>) => ({
    id: `ex_${"0".repeat(32)}`,
    tenant: "t",
    workflowId: "wf",
    workflowVersion: 2,
    definitionHash: "h",
    definition: { id: "wf", steps: [], timeout_seconds: 60, ...(approval ? { approval } : {}) } as unknown as ExecutionRecord["definition"],
    input: { n: 1 },
    labels: { team: "a" },
    requestHash: null,
    planHash: "f".repeat(64),
    prices: {},
    budget: null,
    budgetIds: [],
    concurrency: null,
    origin: null,
    parent: null,
    depth: 1,
    childVersions: {},
    audit,
  });

  it("without an approval: runs at once with its deadline; the audit row goes to the outbox", () => {
    const d = decideCreate(request(), NOW);
    expect(d.created).toMatchObject({ status: "running", startedAt: NOW, createdAt: NOW, deadlineAt: NOW + 60_000, attempt: 1, stateVersion: 1, approvals: [], waitingFor: null });
    expect(d).toMatchObject({
      timers: { set: [{ kind: "execution_timeout", stepId: null, dueAt: NOW + 60_000 }] },
      outbox: [{ audit, at: NOW }],
      events: [
        { type: "execution.created", data: { workflow_id: "wf", workflow_version: 2, labels: { team: "a" } } },
        { type: "execution.started", data: { attempt: 1 } },
      ],
    });
  });

  it("with a level-1 workflow approval: waits for its gate, which expires on its own timer; nothing has started", () => {
    const d = decideCreate({ ...request({ level: 1, expires_in_seconds: 300 }), audit: null }, NOW);
    expect(d.created).toMatchObject({ status: "pending_approval", startedAt: null, waitingFor: { kind: "approval" } });
    expect(d.created.approvals).toHaveLength(1);
    expect(d.timers!.set).toEqual([
      { kind: "execution_timeout", stepId: null, dueAt: NOW + 60_000 },
      { kind: "approval_expiry", stepId: null, dueAt: NOW + 300_000 },
    ]);
    expect(d.outbox).toBeUndefined();
    expect(d.events.map((e) => e.type)).toEqual(["execution.created", "approval.requested"]);
  });
});

describe("user commands", () => {
  it("pause: remembers the status it paused from; the audit row goes to the outbox", () => {
    expect(decidePause(execution({ status: "waiting" }), audit, NOW)).toEqual({
      execution: [{ command: "pause", patch: { pausedFrom: "waiting" } }],
      outbox: [{ audit, at: NOW }],
      events: [{ type: "execution.paused", data: {} }],
    });
  });

  it("resume: forgets it; no audit row, no outbox", () => {
    expect(decideResume(null, NOW)).toEqual({
      execution: [{ command: "resume", patch: { pausedFrom: null } }],
      events: [{ type: "execution.resumed", data: {} }],
    });
  });

  it("retry: failed and cancelled steps are redriven in order, the next attempt runs with a new deadline", () => {
    const steps = [step("a", "completed"), step("b", "failed"), step("c", "skipped"), step("d", "cancelled")];
    expect(decideRetry(execution({ status: "failed", attempt: 2 }), steps, audit, NOW)).toEqual({
      steps: [
        { stepId: "b", command: "redrive", patch: { error: null, endedAt: null, nextAttemptAt: null } },
        { stepId: "d", command: "redrive", patch: { error: null, endedAt: null, nextAttemptAt: null } },
      ],
      execution: [{ command: "retry", patch: { attempt: 3, error: null, endedAt: null, output: undefined, deadlineAt: NOW + 60_000 } }, { command: "admit" }],
      timers: { set: [{ kind: "execution_timeout", stepId: null, dueAt: NOW + 60_000 }] },
      outbox: [{ audit, at: NOW }],
      events: [{ type: "execution.started", data: { attempt: 3 } }],
    });
  });
});

describe("answers", () => {
  it("complete the waiting step (its wake timer cleared first) and wake a waiting execution; who answered is in the event", () => {
    const d = decideAnswer(execution({ status: "waiting" }), step("a", "waiting", 1), { ok: true }, audit, NOW);
    expect(d).toEqual({
      timers: { clear: [{ kind: "step_wake", stepId: "a" }] },
      finished: [{ stepId: "a", attempt: 1, status: "completed", endedAt: NOW, output: { ok: true }, error: null }],
      steps: [{ stepId: "a", command: "complete", patch: { output: { ok: true }, endedAt: NOW } }],
      execution: [{ command: "answer", patch: { waitingFor: null } }],
      outbox: [{ audit, at: NOW }],
      events: [
        { type: "answers.received", stepId: "a", data: { answers: { ok: true }, by: "key_1" } },
        { type: "step.completed", stepId: "a", data: { attempt: 1, output: { ok: true } } },
      ],
    });
  });

  it("a paused execution keeps its waiting_for as it is; no audit row, by null", () => {
    const d = decideAnswer(execution({ status: "paused" }), step("a", "waiting", 1), { ok: true }, null, NOW);
    expect(d.execution).toEqual([{ command: "answer", patch: {} }]);
    expect(d.outbox).toBeUndefined();
    expect(d.events[0]!.data).toEqual({ answers: { ok: true }, by: null });
  });
});

describe("the end of a run, and waiting", () => {
  it("end: completed, partial or failed, with the output in the event (a marker when too large)", () => {
    expect(decideEnd("completed", { n: 1 })).toEqual({
      execution: [{ command: "complete", patch: { output: { n: 1 } } }],
      events: [{ type: "execution.completed", data: { output: { n: 1 } } }],
    });
    expect(decideEnd("partial", undefined)).toEqual({
      execution: [{ command: "complete_partial", patch: { output: undefined } }],
      events: [{ type: "execution.partial", data: {} }],
    });
    const big = "x".repeat(MAX_EVENT_VALUE_BYTES);
    expect(decideEnd("failed", big).events).toEqual([{ type: "execution.failed", data: { output_truncated: true, output_bytes: big.length + 2 } }]);
  });

  it("failed: the execution fails with the error", () => {
    const error = { code: "EXPRESSION_ERROR", message: "output: bad" };
    expect(decideFailed(error)).toEqual({ execution: [{ command: "fail", patch: { error } }], events: [{ type: "execution.failed", data: { error } }] });
  });

  it("waiting: a running execution waits for the step; one whose status refuses `wait` changes nothing", () => {
    const waitingFor: WaitingFor = { kind: "sleep", step_id: "a", until: "2026-03-01T10:01:00.000Z" };
    expect(decideWaiting(execution(), waitingFor)).toEqual({
      execution: [{ command: "wait", patch: { waitingFor } }],
      events: [{ type: "execution.waiting", data: { waiting_for: waitingFor } }],
    });
    expect(decideWaiting(execution({ status: "completed" }), waitingFor)).toEqual({ events: [] });
  });
});

describe("ending with open steps", () => {
  const CANCELLED = { code: "CANCELLED", message: "The execution was cancelled." };
  const steps = [step("a", "completed"), step("b", "running", 2), step("c", "pending", 0), step("d", "waiting", 1)];
  const clears = (id: string) => ({
    timers: {
      clear: [
        { kind: "step_retry", stepId: id },
        { kind: "step_wake", stepId: id },
      ],
    },
    events: [],
  });
  const cancelMove = (id: string) => [{ stepId: id, command: "cancel", patch: { endedAt: NOW, nextAttemptAt: null } }];

  it("cancel: each open step in order — its attempt closed (if it had one), then its timers — then the execution", () => {
    expect(decideCancel(steps, audit, NOW)).toEqual([
      {
        finished: [{ stepId: "b", attempt: 2, status: "cancelled", endedAt: NOW, error: { ...CANCELLED, step_id: "b", attempt: 2 } }],
        steps: cancelMove("b"),
        events: [{ type: "step.cancelled", stepId: "b", data: { attempt: 2, error: CANCELLED } }],
      },
      clears("b"),
      { steps: cancelMove("c"), events: [] },
      clears("c"),
      {
        finished: [{ stepId: "d", attempt: 1, status: "cancelled", endedAt: NOW, error: { ...CANCELLED, step_id: "d", attempt: 1 } }],
        steps: cancelMove("d"),
        events: [{ type: "step.cancelled", stepId: "d", data: { attempt: 1, error: CANCELLED } }],
      },
      clears("d"),
      { execution: [{ command: "cancel" }], outbox: [{ audit, at: NOW }], events: [{ type: "execution.cancelled", data: {} }] },
    ]);
  });

  it("timeout and a failed step end the execution the same way, with their own error and event", () => {
    const timeout = { code: "EXECUTION_TIMEOUT", message: "The execution ran past its timeout_seconds." };
    const timedOut = decideTimeout(steps, timeout, NOW);
    expect(timedOut[0]!.events).toEqual([{ type: "step.cancelled", stepId: "b", data: { attempt: 2, error: timeout } }]);
    expect(timedOut.at(-1)).toEqual({ execution: [{ command: "time_out", patch: { error: timeout } }], events: [{ type: "execution.timed_out", data: { error: timeout } }] });

    const failed = { code: "HTTP_STATUS", message: "503", step_id: "x", attempt: 3 };
    const byStep = decideStepFailedExecution(steps, "x", failed, NOW);
    expect(byStep[0]!.events[0]!.data).toEqual({ attempt: 2, error: { code: "CANCELLED", message: "Cancelled because step 'x' failed." } });
    expect(byStep.at(-1)).toEqual(decideFailed(failed));
    expect(decideCancelOpenSteps([step("a", "completed"), step("b", "skipped")], CANCELLED, NOW)).toEqual([]);
  });
});
