import { describe, expect, it } from "vitest";
import { auditRow, executionRecord, NOW, stepRecord } from "../helpers/records";
import { decideApproval, decideGateExpiry } from "../../src/engine/human-moves";
import type { ExecutionRecord, StepRecord } from "../../src/engine/model";
import type { ApprovalGate } from "../../src/schemas/executions";
import type { InputStep } from "../../src/schemas/definition";
import { inputKind } from "../../src/engine/steps/input";
import { decideWake } from "../../src/engine/outcomes";

const ISO = "2026-03-01T10:00:00.000Z";

const gate = (p: Partial<ApprovalGate>): ApprovalGate => ({
  kind: "execution",
  level: 1,
  status: "pending",
  requested_at: "2026-03-01T09:00:00.000Z",
  expires_at: "2026-03-01T09:30:00.000Z",
  ...p,
}) as ApprovalGate;

const execution = executionRecord;
const step = stepRecord;

const steps = (...list: StepRecord[]) => new Map(list.map((s) => [s.id, s]));

const audit = auditRow("execution.approve");

describe("decideApproval", () => {
  it("approve, execution gate: the gate is decided in place, its timer cleared, the execution admitted at once", () => {
    const ex = execution({ status: "pending_approval", startedAt: null, approvals: [gate({})] });
    expect(decideApproval(ex, steps(), 0, "approve", "key_1", "ok", audit, NOW)).toEqual([
      {
        decidedGates: [{ index: 0, patch: { status: "approved", decided_at: ISO, by: "key_1", comment: "ok" } }],
        timers: { clear: [{ kind: "approval_expiry", stepId: null }] },
        events: [{ type: "approval.granted", stepId: undefined, data: { kind: "execution", level: 1, by: "key_1", comment: "ok" } }],
      },
      {
        execution: [{ command: "approve" }, { command: "admit", patch: { startedAt: NOW } }],
        outbox: [{ audit, at: NOW }],
        events: [{ type: "execution.started", data: { attempt: 1 } }],
      },
    ]);
  });

  it("approve, level-3 step gate: the held step is released", () => {
    const ex = execution({ status: "waiting", approvals: [gate({ kind: "step", level: 3, step_id: "a" })] });
    const [, open] = decideApproval(ex, steps(step("a", "pending", 0)), 0, "approve", null, undefined, null, NOW);
    expect(open).toEqual({ steps: [{ stepId: "a", command: "release" }], execution: [{ command: "approve" }], events: [] });
  });

  it("approve, approval step: its attempt and the step complete with the decision as output", () => {
    const ex = execution({ status: "waiting", approvals: [gate({ kind: "approval_step", step_id: "ok" })] });
    const [first, open] = decideApproval(ex, steps(step("ok", "waiting", 1)), 0, "approve", "key_1", "fine", null, NOW);
    expect(first!.decidedGates).toEqual([{ index: 0, patch: { status: "approved", decided_at: ISO, by: "key_1", comment: "fine" } }]);
    expect(first!.timers).toEqual({ clear: [{ kind: "approval_expiry", stepId: "ok" }] });
    const output = { approved: true, by: "key_1", comment: "fine" };
    expect(open).toEqual({
      finished: [{ stepId: "ok", attempt: 1, status: "completed", endedAt: NOW, output, error: null }],
      steps: [{ stepId: "ok", command: "complete", patch: { output, endedAt: NOW } }],
      execution: [{ command: "approve" }],
      events: [{ type: "step.completed", stepId: "ok", data: { attempt: 1, output } }],
    });
  });

  it("reject: open steps cancelled, then the execution ends rejected; the audit row follows its move", () => {
    const ex = execution({ status: "waiting", approvals: [gate({ kind: "approval_step", step_id: "ok" })] });
    const d = decideApproval(ex, steps(step("ok", "waiting", 1), step("later", "pending", 0)), 0, "reject", "key_1", undefined, audit, NOW);
    expect(d[0]!.decidedGates).toEqual([{ index: 0, patch: { status: "rejected", decided_at: ISO, by: "key_1" } }]);
    expect(d[0]!.events).toEqual([{ type: "approval.rejected", stepId: "ok", data: { kind: "approval_step", level: 1, by: "key_1" } }]);
    const cancelled = { code: "CANCELLED", message: "Cancelled because the execution was rejected." };
    expect(d[1]!.events).toEqual([{ type: "step.cancelled", stepId: "ok", data: { attempt: 1, error: cancelled } }]);
    expect(d[3]!.steps).toEqual([{ stepId: "later", command: "cancel", patch: { endedAt: NOW, nextAttemptAt: null } }]);
    const error = { code: "APPROVAL_REJECTED", message: "The approval of step 'ok' was rejected.", step_id: "ok", details: { reason: "rejected" } };
    expect(d.at(-1)).toEqual({
      execution: [{ command: "reject", patch: { error } }],
      outbox: [{ audit, at: NOW }],
      events: [{ type: "execution.rejected", data: { reason: "rejected", error } }],
    });
    expect(d).toHaveLength(6);
  });
});

describe("decideGateExpiry", () => {
  it("no pending gate, or an ended execution: only the timer is cleared", () => {
    expect(decideGateExpiry(execution(), steps(), "a", false, NOW)).toEqual([{ timers: { clear: [{ kind: "approval_expiry", stepId: "a" }] }, events: [] }]);
    const ex = execution({ status: "cancelled", approvals: [gate({})] });
    expect(decideGateExpiry(ex, steps(), null, true, NOW)).toEqual([{ timers: { clear: [{ kind: "approval_expiry", stepId: null }] }, events: [] }]);
  });

  it("on_expiry approve: the gate is approved by nobody and the execution starts", () => {
    const definition = { id: "wf", steps: [], approval: { level: 1, on_expiry: "approve" } } as unknown as ExecutionRecord["definition"];
    const ex = execution({ status: "pending_approval", definition, approvals: [gate({})] });
    expect(decideGateExpiry(ex, steps(), null, false, NOW)).toEqual([
      {
        timers: { clear: [{ kind: "approval_expiry", stepId: null }] },
        decidedGates: [{ index: 0, patch: { status: "approved", decided_at: ISO, by: null } }],
        events: [{ type: "approval.expired", stepId: undefined, data: { kind: "execution", level: 1, action: "approve" } }],
      },
      { execution: [{ command: "approve" }, { command: "admit", patch: { startedAt: NOW } }], events: [{ type: "execution.started", data: { attempt: 1 } }] },
    ]);
  });

  it("an approval step's expiry rejects: the gate expires and the execution ends rejected", () => {
    const ex = execution({ status: "waiting", approvals: [gate({ kind: "approval_step", step_id: "ok" })] });
    const d = decideGateExpiry(ex, steps(step("ok", "waiting", 1)), "ok", false, NOW);
    expect(d[0]!.decidedGates).toEqual([{ index: 0, patch: { status: "expired", decided_at: ISO, by: null } }]);
    expect(d[0]!.events).toEqual([{ type: "approval.expired", stepId: "ok", data: { kind: "approval_step", level: 1, action: "reject" } }]);
    const error = { code: "APPROVAL_EXPIRED", message: "Nobody decided on step 'ok' before 2026-03-01T09:30:00.000Z.", step_id: "ok", details: { reason: "approval_expired" } };
    expect(d.at(-1)).toEqual({
      execution: [{ command: "expire_approval", patch: { error } }],
      events: [{ type: "execution.rejected", data: { reason: "approval_expired", error } }],
    });
  });
});

describe("the input kind takes answers", () => {
  const questions = [
    { id: "ok", type: "boolean", prompt: "OK?", default: true },
    { id: "why", type: "string", prompt: "Why?", required: false },
  ] as InputStep["questions"];
  const input = { id: "a", type: "input", questions } as InputStep;

  it("checks answers against its questions", () => {
    expect(inputKind.answers!.check(input, { ok: false })).toEqual({ ok: true, answers: { ok: false } });
    expect(inputKind.answers!.check(input, { ok: "yes" }).ok).toBe(false);
  });

  it("at its deadline: fails, or with on_timeout default completes with the defaults", () => {
    expect(inputKind.answers!.onTimeout(input)).toBeNull();
    expect(inputKind.answers!.onTimeout({ ...input, on_timeout: "default" })).toEqual({ ok: true });
  });

  it("decideWake asks the kind: without an answers kind, a wake is the end of a sleep", () => {
    const waiting = { ...step("a", "waiting", 1), output: { slept: true } };
    expect(decideWake(waiting, input, "running", NOW, {}).steps).toEqual([{ stepId: "a", command: "complete", patch: { endedAt: NOW, output: { slept: true } } }]);
    expect(decideWake(waiting, input, "running", NOW).steps![0]!.command).toBe("fail");
  });
});
