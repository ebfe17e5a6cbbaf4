/**
 * Child workflows (`workflow` steps, SPEC §9) through the real app and real objects: the child's
 * output passes through, a failed child fails the step (CHILD_FAILED, the child's error in details)
 * and a retry starts a new child, the child shows its parent and listings filter by parent_id,
 * parent_close (cancel, abandon), the depth limit, pinned versions, and a parent evicted while its
 * child finishes still learns of the end once.
 */
import { describe, expect, it } from "vitest";
import { call, eventually, expectProblem, tenantWithKeys } from "../helpers/api";
import { eventsOf, register, start, stepsOf, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { inObject } from "../helpers/objects";
import { evictDurableObject } from "cloudflare:test";
import { stubOf } from "../helpers/objects";

type ChildExecution = ExecutionBody & { parent?: { execution_id: string; step_id: string }; waiting_for?: { kind: string; step_id?: string; execution_id?: string } };

/** A child that doubles `input.n`. */
const DOUBLER = { id: "doubler", input_schema: { type: "object", required: ["n"], properties: { n: { type: "number" } } }, steps: [{ id: "x2", type: "transform", expression: "input.n * 2" }], output: "steps.x2.output" };

/** A child that waits for the signal `go` (so a test decides when it ends), then outputs its data. */
const WAITER = { id: "waiter", steps: [{ id: "go", type: "event", event: "go" }], output: "steps.go.output.data" };

/** A child that fails: its transform throws. */
const FAILER = { id: "failer", steps: [{ id: "boom", type: "transform", expression: "$error('child broke')" }] };

const parentOf = (childWorkflow: string, extra: Record<string, unknown> = {}, input: unknown = { n: "{{ input.n }}" }) => ({
  id: `parent-of-${childWorkflow}`,
  steps: [
    { id: "child", type: "workflow", workflow_id: childWorkflow, input, ...extra },
    { id: "after", type: "transform", needs: ["child"], expression: "steps.child.output" },
  ],
  output: "steps.after.output",
});

const getExecution = async (key: string, id: string) => (await call<ChildExecution>("GET", `/v1/executions/${id}`, { key })).body;

/** The child the parent's step waits for (or waited for last). */
async function childOf(key: string, parentId: string, stepId = "child"): Promise<string> {
  return eventually(async () => {
    const step = (await stepsOf(key, parentId)).find((s) => s.id === stepId)!;
    const id = (step.output as { execution_id?: string } | undefined)?.execution_id ?? (step.attempts.at(-1)?.output as { execution_id?: string } | undefined)?.execution_id;
    if (!id) throw new Error("no child yet");
    return id;
  });
}

describe("workflow steps", { timeout: 30_000 }, () => {
  it("the child's output is the step's output; the child shows its parent; listings filter by parent_id", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, DOUBLER);
    await register(t.operator, parentOf("doubler"));
    const started = await start(t.operator, { workflow_id: "parent-of-doubler", input: { n: 21 } });
    expect(started.status, started.text).toBe(202);
    const parent = await waitForStatus(t.viewer, started.body.id, ["completed", "failed"]);
    expect(parent.status).toBe("completed");
    expect(parent.output).toBe(42);

    const steps = await stepsOf(t.viewer, parent.id);
    const child = steps.find((s) => s.id === "child")!;
    expect(child).toMatchObject({ type: "workflow", status: "completed", output: 42 });
    const events = await eventsOf(t.viewer, parent.id);
    const waiting = events.find((e) => e.type === "step.waiting" && e.step_id === "child")!;
    expect(waiting.data).toMatchObject({ kind: "child", workflow_id: "doubler", workflow_version: 1 });
    const childId = waiting.data.execution_id as string;
    expect(childId).toMatch(/^ex_[0-9a-f]{32}$/);

    const childExecution = await getExecution(t.viewer, childId);
    expect(childExecution).toMatchObject({ status: "completed", workflow_id: "doubler", input: { n: 21 }, output: 42, parent: { execution_id: parent.id, step_id: "child" } });
    expect((await getExecution(t.viewer, parent.id)).parent).toBeUndefined();

    const listed = await eventually(async () => {
      const res = await call<{ items: ChildExecution[] }>("GET", `/v1/executions?parent_id=${parent.id}`, { key: t.viewer });
      expect(res.status, res.text).toBe(200);
      if (res.body.items.length === 0) throw new Error("not indexed yet");
      return res.body.items;
    });
    expect(listed.map((e) => [e.id, e.parent])).toEqual([[childId, { execution_id: parent.id, step_id: "child" }]]);
    const none = await call<{ items: unknown[] }>("GET", `/v1/executions?parent_id=${childId}`, { key: t.viewer });
    expect(none.body.items).toEqual([]);
  });

  it("while the child runs the parent waits for it: waiting_for { kind: child, step_id, execution_id }", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, WAITER);
    await register(t.operator, parentOf("waiter", {}, {}));
    const started = await start(t.operator, { workflow_id: "parent-of-waiter" });
    const parent = await waitForStatus(t.viewer, started.body.id, ["waiting"]);
    const childId = await childOf(t.viewer, parent.id);
    expect((await getExecution(t.viewer, parent.id)).waiting_for).toEqual({ kind: "child", step_id: "child", execution_id: childId });
    await waitForStatus(t.viewer, childId, ["waiting"]);
    const sent = await call("POST", `/v1/executions/${childId}/signals/go`, { key: t.operator, body: { data: { ok: 1 } } });
    expect(sent.status, sent.text).toBe(200);
    const done = await waitForStatus(t.viewer, parent.id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", output: { ok: 1 } });
  });

  it("a failed child fails the step CHILD_FAILED with the child's error in details; without a retry the parent fails", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, FAILER);
    await register(t.operator, parentOf("failer", {}, {}));
    const started = await start(t.operator, { workflow_id: "parent-of-failer" });
    const parent = await waitForStatus(t.viewer, started.body.id, ["completed", "failed"]);
    expect(parent.status).toBe("failed");
    expect(parent.error).toMatchObject({ code: "CHILD_FAILED", step_id: "child", attempt: 1 });
    const child = parent.error!.details!.child as { execution_id: string; status: string; error: { code: string; message: string } };
    expect(child).toMatchObject({ status: "failed", error: { code: "EXPRESSION_ERROR" } });
    expect(child.error.message).toContain("child broke");
    expect((await getExecution(t.viewer, child.execution_id)).status).toBe("failed");
  });

  it("a retry starts a new child (its id derived from the attempt); a child that then succeeds completes the step", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, WAITER);
    await register(t.operator, parentOf("waiter", { retry: { max_attempts: 2, initial_interval_ms: 1, jitter: false } }, {}));
    const started = await start(t.operator, { workflow_id: "parent-of-waiter" });
    await waitForStatus(t.viewer, started.body.id, ["waiting"]);
    const first = await childOf(t.viewer, started.body.id);
    await waitForStatus(t.viewer, first, ["waiting"]);
    const cancelled = await call("POST", `/v1/executions/${first}/cancel`, { key: t.operator });
    expect(cancelled.status, cancelled.text).toBe(200);

    const second = await eventually(async () => {
      const id = await childOf(t.viewer, started.body.id);
      if (id === first) throw new Error("no second child yet");
      return id;
    });
    await waitForStatus(t.viewer, second, ["waiting"]);
    await call("POST", `/v1/executions/${second}/signals/go`, { key: t.operator, body: { data: "second" } });
    const done = await waitForStatus(t.viewer, started.body.id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", output: "second" });
    const step = (await stepsOf(t.viewer, started.body.id)).find((s) => s.id === "child")!;
    expect(step.attempts.map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
      [1, "failed", "CHILD_FAILED"],
      [2, "completed", undefined],
    ]);
  });

  it("cancelling the parent cancels its child (parent_close: cancel, the default)", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, WAITER);
    await register(t.operator, parentOf("waiter", {}, {}));
    const started = await start(t.operator, { workflow_id: "parent-of-waiter" });
    await waitForStatus(t.viewer, started.body.id, ["waiting"]);
    const childId = await childOf(t.viewer, started.body.id);
    await waitForStatus(t.viewer, childId, ["waiting"]);
    const res = await call("POST", `/v1/executions/${started.body.id}/cancel`, { key: t.operator });
    expect(res.status, res.text).toBe(200);
    expect((await waitForStatus(t.viewer, childId, ["cancelled", "completed", "failed"])).status).toBe("cancelled");
  });

  it("parent_close: abandon leaves the child running when the parent is cancelled; its later end changes nothing on the parent", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, WAITER);
    await register(t.operator, parentOf("waiter", { parent_close: "abandon" }, {}));
    const started = await start(t.operator, { workflow_id: "parent-of-waiter" });
    await waitForStatus(t.viewer, started.body.id, ["waiting"]);
    const childId = await childOf(t.viewer, started.body.id);
    await waitForStatus(t.viewer, childId, ["waiting"]);
    await call("POST", `/v1/executions/${started.body.id}/cancel`, { key: t.operator });
    const parentEvents = (await eventsOf(t.viewer, started.body.id)).length;
    // Still waiting after the parent's cancel has been carried out…
    expect((await getExecution(t.viewer, childId)).status).toBe("waiting");
    // …and it finishes on its own; the ended parent takes note of nothing.
    await call("POST", `/v1/executions/${childId}/signals/go`, { key: t.operator, body: { data: 1 } });
    expect((await waitForStatus(t.viewer, childId, ["completed"])).status).toBe("completed");
    await eventually(async () => expect(await inObject(childId, (o) => o.runtime.outbox.pending())).toBe(0));
    expect((await eventsOf(t.viewer, started.body.id)).length).toBe(parentEvents);
    expect((await getExecution(t.viewer, started.body.id)).status).toBe("cancelled");
  });

  it("depth is at most 5: the workflow step that would start depth 6 fails MAX_DEPTH", async () => {
    const t = await tenantWithKeys();
    // nest calls itself while input.n > 0, passing n - 1 down; its output counts the levels below it and itself.
    await register(t.operator, {
      id: "nest",
      steps: [{ id: "deeper", type: "workflow", workflow_id: "nest", if: "input.n > 0", input: { n: "{{ input.n - 1 }}" } }],
      output: "steps.deeper.status = 'completed' ? steps.deeper.output + 1 : 1",
    });
    const four = await start(t.operator, { workflow_id: "nest", input: { n: 4 } });
    const fourDone = await waitForStatus(t.viewer, four.body.id, ["completed", "failed"], 20_000);
    expect(fourDone, JSON.stringify(fourDone.error)).toMatchObject({ status: "completed", output: 5 });

    const five = await start(t.operator, { workflow_id: "nest", input: { n: 5 } });
    const failed = await waitForStatus(t.viewer, five.body.id, ["completed", "failed"], 20_000);
    expect(failed.status).toBe("failed");
    // The root fails because its child failed because … the depth-5 execution's step refused to start depth 6.
    let error = failed.error as { code: string; details?: { child?: { error?: unknown } } } | undefined;
    const codes: string[] = [];
    while (error) {
      codes.push(error.code);
      error = error.details?.child?.error as typeof error;
    }
    expect(codes).toEqual(["CHILD_FAILED", "CHILD_FAILED", "CHILD_FAILED", "CHILD_FAILED", "MAX_DEPTH"]);
  });

  it("the child's version is pinned when the parent starts: a version registered later does not change it", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, DOUBLER);
    // The parent's definition, registered again with an input step first, so the test can register a new doubler meanwhile.
    await register(t.operator, {
      ...parentOf("doubler"),
      steps: [{ id: "hold", type: "input", questions: [{ id: "go", prompt: "Go?", type: "boolean" }] }, { ...parentOf("doubler").steps[0], needs: ["hold"] }, parentOf("doubler").steps[1]],
    });
    const started = await start(t.operator, { workflow_id: "parent-of-doubler", input: { n: 5 } });
    await waitForStatus(t.viewer, started.body.id, ["waiting"]);
    await register(t.operator, { ...DOUBLER, steps: [{ id: "x2", type: "transform", expression: "input.n * 100" }] }); // version 2
    await call("POST", `/v1/executions/${started.body.id}/steps/hold/answers`, { key: t.approver, body: { answers: { go: true } } });
    expect(await waitForStatus(t.viewer, started.body.id, ["completed", "failed"])).toMatchObject({ status: "completed", output: 10 });
    // A new start pins version 2.
    const later = await start(t.operator, { workflow_id: "parent-of-doubler", input: { n: 5 } });
    await waitForStatus(t.viewer, later.body.id, ["waiting"]);
    await call("POST", `/v1/executions/${later.body.id}/steps/hold/answers`, { key: t.approver, body: { answers: { go: true } } });
    expect(await waitForStatus(t.viewer, later.body.id, ["completed", "failed"])).toMatchObject({ status: "completed", output: 500 });
  });

  it("refused at start, nothing created: a child workflow the tenant does not have (422 CHILD_WORKFLOW_NOT_FOUND)", async () => {
    const t = await tenantWithKeys();
    const res = await start(t.operator, { definition: parentOf("no-such-workflow") });
    const problem = expectProblem(res, 422, "CHILD_WORKFLOW_NOT_FOUND");
    expect(problem.errors?.map((e) => e.path)).toEqual(["/steps/0/workflow_id"]);
    const listed = await call<{ items: unknown[] }>("GET", "/v1/executions", { key: t.viewer });
    expect(listed.body.items).toEqual([]);
  });

  it("a child input that does not match its input_schema fails the step CHILD_INPUT_INVALID (not retried), no child started", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, DOUBLER);
    const started = await start(t.operator, { definition: parentOf("doubler", { retry: { max_attempts: 3 } }, { n: "not a number" }) });
    const parent = await waitForStatus(t.viewer, started.body.id, ["completed", "failed"]);
    expect(parent.error).toMatchObject({ code: "CHILD_INPUT_INVALID", step_id: "child", attempt: 1 });
    const listed = await call<{ items: unknown[] }>("GET", `/v1/executions?parent_id=${parent.id}`, { key: t.viewer });
    expect(listed.body.items).toEqual([]);
  });

  it("the parent evicted while its child finishes still learns of the end, once", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, WAITER);
    await register(t.operator, parentOf("waiter", {}, {}));
    const started = await start(t.operator, { workflow_id: "parent-of-waiter" });
    const parentId = started.body.id;
    await waitForStatus(t.viewer, parentId, ["waiting"]);
    const childId = await childOf(t.viewer, parentId);
    await waitForStatus(t.viewer, childId, ["waiting"]);

    // The parent cannot be reached when the child ends: its end stays in the child's outbox.
    let refused = 0;
    await inObject(childId, (o) => {
      o.deps.executions = () => ({ childEnded: () => ((refused += 1), Promise.reject(new Error("parent unreachable"))) }) as never;
    });
    await call("POST", `/v1/executions/${childId}/signals/go`, { key: t.operator, body: { data: "done" } });
    await waitForStatus(t.viewer, childId, ["completed"]);
    await eventually(async () => expect(refused).toBeGreaterThan(0));
    expect(await inObject(childId, (o) => o.runtime.outbox.childMessages().map((m) => m.kind))).toEqual(["child_ended"]);
    expect((await getExecution(t.viewer, parentId)).status).toBe("waiting");

    // The parent is evicted meanwhile; the child's object is too (its dependencies are the platform's again).
    await evictDurableObject(stubOf(parentId));
    await evictDurableObject(stubOf(childId));
    // The outbox retry (its alarm) delivers the end; delivering it again changes nothing.
    await inObject(childId, (o) => o.drive.flushOutbox());
    const done = await waitForStatus(t.viewer, parentId, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", output: "done" });
    const before = await eventsOf(t.viewer, parentId);
    await stubOf(parentId).childEnded({ tenant: t.tenant, stepId: "child", attempt: 1, childId, status: "completed", output: "again", error: null });
    expect(await eventsOf(t.viewer, parentId)).toEqual(before);
    const completions = before.filter((e) => e.type === "step.completed" && e.step_id === "child");
    expect(completions).toHaveLength(1);
    expect(await inObject(childId, (o) => o.runtime.outbox.pending())).toBe(0);
  });
});
