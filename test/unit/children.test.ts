/** Child executions decided in pure code (engine/children.ts, the `child` outcome): ids, waits, ends. */
import { describe, expect, it } from "vitest";
import { awaitedChild, childExecutionId, decideChildEnded } from "../../src/engine/children";
import type { StepRecord } from "../../src/engine/model";
import { decideOutcome, type Settling } from "../../src/engine/outcomes";
import type { Step } from "../../src/schemas/definition";
import type { ChildEndedArgs, CreateExecutionArgs } from "../../src/schemas/execution-rpc";

const NOW = Date.parse("2026-03-01T10:00:00.000Z");
const CHILD = "ex_" + "c".repeat(32);

const waiting = (p: Partial<StepRecord> = {}): StepRecord => ({
  id: "ship",
  idx: 0,
  status: "waiting",
  attempts: 1,
  output: { execution_id: CHILD, workflow_id: "book", workflow_version: 2 },
  error: null,
  startedAt: NOW - 500,
  endedAt: null,
  nextAttemptAt: null,
  ...p,
});

const def = (p: Record<string, unknown> = {}): Step => ({ id: "ship", type: "workflow", workflow_id: "book", ...p }) as Step;

const settling = (p: Partial<Settling> = {}): Settling => ({ step: waiting(), def: def(), attempt: 1, now: NOW, workflow: {}, planHash: "h", secrets: [], ...p });

const ended = (p: Partial<ChildEndedArgs> = {}): ChildEndedArgs => ({ tenant: "t", stepId: "ship", attempt: 1, childId: CHILD, status: "completed", output: { tracking: "T-1" }, error: null, ...p });

describe("childExecutionId", () => {
  it("is derived from (parent, step, attempt): the same for a repeat, different for another attempt, step or parent", async () => {
    const a = await childExecutionId("ex_p", "ship", 1);
    expect(a).toMatch(/^ex_[0-9a-f]{32}$/);
    expect(await childExecutionId("ex_p", "ship", 1)).toBe(a);
    const others = await Promise.all([childExecutionId("ex_p", "ship", 2), childExecutionId("ex_p", "other", 1), childExecutionId("ex_q", "ship", 1)]);
    expect(new Set([a, ...others]).size).toBe(4);
  });
});

describe("the child outcome", () => {
  it("makes the step wait with the child named in its output and puts the start in the decision", () => {
    const start = { id: CHILD, workflowId: "book", workflowVersion: 2 } as CreateExecutionArgs;
    const d = decideOutcome(settling({ step: waiting({ status: "running", output: undefined }) }), { kind: "child", start });
    expect(d).toEqual({
      steps: [{ stepId: "ship", command: "wait", patch: { output: { execution_id: CHILD, workflow_id: "book", workflow_version: 2 } } }],
      children: { start: [start] },
      events: [{ type: "step.waiting", stepId: "ship", data: { attempt: 1, kind: "child", execution_id: CHILD, workflow_id: "book", workflow_version: 2 } }],
    });
    expect(awaitedChild(d.steps![0]!.patch!.output)).toBe(CHILD);
    expect(awaitedChild(null)).toBeNull();
    expect(awaitedChild({ questions: [] })).toBeNull();
  });
});

describe("decideChildEnded", () => {
  const never = (): number => {
    throw new Error("random must not be called");
  };

  it("completed or partial: the step completes with the child's output; a waiting execution wakes", () => {
    for (const status of ["completed", "partial"] as const) {
      const d = decideChildEnded(settling(), ended({ status }), "waiting", never);
      expect(d.steps).toEqual([{ stepId: "ship", command: "complete", patch: { output: { tracking: "T-1" }, endedAt: NOW } }]);
      expect(d.finished).toEqual([{ stepId: "ship", attempt: 1, status: "completed", endedAt: NOW, output: { tracking: "T-1" }, error: null }]);
      expect(d.execution).toEqual([{ command: "wake", patch: { waitingFor: null } }]);
    }
    // A running execution (another branch runs) has nothing to wake; no output is null, not undefined.
    const d = decideChildEnded(settling(), ended({ output: undefined }), "running", never);
    expect(d.execution).toBeUndefined();
    expect(d.steps![0]!.patch!.output).toBeNull();
  });

  it("failed, timed out, cancelled, rejected: CHILD_FAILED with the child in details; without retry the step fails", () => {
    for (const status of ["failed", "timed_out", "cancelled", "rejected"] as const) {
      const error = { code: "EXECUTION_TIMEOUT", message: "late" };
      const d = decideChildEnded(settling(), ended({ status, error, output: null }), "waiting", never);
      const expected = { code: "CHILD_FAILED", message: `The child execution ${CHILD} ended ${status}.`, details: { child: { execution_id: CHILD, status, error } }, step_id: "ship", attempt: 1 };
      expect(d.steps).toEqual([{ stepId: "ship", command: "fail", patch: { error: expected, endedAt: NOW } }]);
      expect(d.events).toEqual([{ type: "step.failed", stepId: "ship", data: { attempt: 1, error: expected, tolerated: false } }]);
      expect(d.execution).toEqual([{ command: "wake", patch: { waitingFor: null } }]);
    }
  });

  it("with a retry policy left, a failed child schedules a retry (which starts a new child)", () => {
    const d = decideChildEnded(settling({ def: def({ retry: { max_attempts: 2, initial_interval_ms: 100, jitter: false } }) }), ended({ status: "failed", error: { code: "X", message: "m" } }), "waiting", never);
    expect(d.steps![0]).toMatchObject({ stepId: "ship", command: "schedule_retry", patch: { nextAttemptAt: NOW + 100 } });
    expect(d.timers).toEqual({ set: [{ kind: "step_retry", stepId: "ship", dueAt: NOW + 100 }] });
  });
});
