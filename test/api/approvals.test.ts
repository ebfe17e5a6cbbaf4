/**
 * Approvals (SPEC §3): workflow levels 1-3, approval steps, plan hashes, expiry with both actions,
 * who may decide, and one decision per gate — through the real API, its Durable Object and D1.
 */
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createKey, eventually, expectProblem, tenantWithKeys, type RoleName } from "../helpers/api";
import { chain, eventsOf, expectContiguous, start, stepsOf, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { advanceAndRunAlarm, stubOf } from "../helpers/objects";


function gated(approval: Record<string, unknown>, steps = 2) {
  return { definition: chain("gated", steps, { approval }), input: { n: 10 } };
}

/** A tenant with the usual keys plus an approver whose key id is known (for `by`). */
async function people(prefix: string) {
  const t = await tenantWithKeys(prefix);
  const approver = await createKey(t.tenant, "approver", "alice");
  return { ...t, alice: approver };
}

const decide = (id: string, key: string, body: Record<string, unknown>) => call<ExecutionBody>("POST", `/v1/executions/${id}/approval`, { key, body });
const read = async (id: string, key: string) => (await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key })).body;
const typesOf = async (id: string, key: string) => (await eventsOf(key, id)).map((e) => [e.type, e.step_id ?? null]);

describe("approval level 1: confirm before start", { timeout: 20_000 }, () => {
  it("starts pending_approval, runs nothing, and runs once approved; the decision is on the execution, its events and the audit log", async () => {
    const t = await people("appr-l1");
    const res = await start(t.operator, gated({ level: 1 }));
    expect(res.status, res.text).toBe(202);
    expect(res.body.status).toBe("pending_approval");
    const pending = await read(res.body.id, t.viewer);
    expect(pending.status).toBe("pending_approval");
    expect(pending.waiting_for).toMatchObject({ kind: "approval", level: 1, gate: "execution" });
    expect(pending.waiting_for).not.toHaveProperty("plan_hash"); // level 1 asks for no hash
    expect(pending.approvals).toEqual([
      { kind: "execution", level: 1, status: "pending", requested_at: pending.created_at, expires_at: expect.any(String) },
    ]);
    // The default expiry of level 1 is 5 minutes.
    expect(Date.parse(pending.approvals![0]!.expires_at) - Date.parse(pending.created_at)).toBe(300_000);
    expect(pending.started_at).toBeUndefined();
    expect((await stepsOf(t.viewer, res.body.id)).map((s) => s.status)).toEqual(["pending", "pending"]);

    const ok = await decide(res.body.id, t.alice.key, { decision: "approve", comment: "looks right" });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.approvals![0]).toMatchObject({ status: "approved", by: t.alice.id, comment: "looks right", decided_at: expect.any(String) });
    const done = await waitForStatus(t.viewer, res.body.id, ["completed"]);
    expect(done.output).toBe(11);
    expect(await typesOf(res.body.id, t.viewer)).toEqual([
      ["execution.created", null],
      ["approval.requested", null],
      ["approval.granted", null],
      ["execution.started", null],
      ["step.started", "s0"],
      ["step.completed", "s0"],
      ["step.started", "s1"],
      ["step.completed", "s1"],
      ["execution.completed", null],
    ]);
    const granted = (await eventsOf(t.viewer, res.body.id)).find((e) => e.type === "approval.granted")!;
    expect(granted.data).toEqual({ kind: "execution", level: 1, by: t.alice.id, comment: "looks right" });
    const audit = await eventually(async () => {
      const a = await call<{ items: { action: string; actor: string; target: string; result: string; detail: Record<string, unknown> }[] }>(
        "GET",
        `/v1/audit?action=execution.approval`,
        { key: t.admin },
      );
      expect(a.body.items).toHaveLength(1);
      return a.body.items[0]!;
    });
    expect(audit).toMatchObject({ actor: t.alice.id, target: res.body.id, result: "success", detail: { decision: "approve", comment: "looks right" } });
  });

  it("reject ends it rejected; a second decision on the same gate is 409 and changes nothing", async () => {
    const t = await people("appr-l1-no");
    const res = await start(t.operator, gated({ level: 1 }));
    const no = await decide(res.body.id, t.alice.key, { decision: "reject", comment: "not today" });
    expect(no.status, no.text).toBe(200);
    expect(no.body.status).toBe("rejected");
    expect(no.body.error).toMatchObject({ code: "APPROVAL_REJECTED", details: { reason: "rejected" } });
    expect(no.body.approvals![0]).toMatchObject({ status: "rejected", by: t.alice.id, comment: "not today" });
    const before = await eventsOf(t.viewer, res.body.id);
    for (const decision of ["approve", "reject"]) {
      expectProblem(await decide(res.body.id, t.admin, { decision }), 409, "APPROVAL_ALREADY_DECIDED");
    }
    expect(await eventsOf(t.viewer, res.body.id)).toEqual(before);
    expect(before.map((e) => e.type)).toEqual(["execution.created", "approval.requested", "approval.rejected", "execution.rejected"]);
    expect(before.at(-1)!.data).toMatchObject({ reason: "rejected" });
    expect((await stepsOf(t.viewer, res.body.id)).map((s) => s.status)).toEqual(["cancelled", "cancelled"]);
  });

  it("a second approve is 409 too, and the execution runs once", async () => {
    const t = await people("appr-l1-twice");
    const res = await start(t.operator, gated({ level: 1 }));
    expect((await decide(res.body.id, t.approver, { decision: "approve" })).status).toBe(200);
    expectProblem(await decide(res.body.id, t.approver, { decision: "approve" }), 409, "APPROVAL_ALREADY_DECIDED");
    await waitForStatus(t.viewer, res.body.id, ["completed"]);
    const types = await typesOf(res.body.id, t.viewer);
    expect(types.filter(([type]) => type === "execution.started")).toHaveLength(1);
  });

  it("survives an eviction while it waits for approval", async () => {
    const t = await people("appr-l1-evict");
    const res = await start(t.operator, gated({ level: 1 }));
    await evictDurableObject(stubOf(res.body.id));
    expect((await read(res.body.id, t.viewer)).status).toBe("pending_approval");
    expect((await decide(res.body.id, t.approver, { decision: "approve" })).status).toBe(200);
    expect((await waitForStatus(t.viewer, res.body.id, ["completed"])).output).toBe(11);
  });
});

describe("approval level 2: plan review", { timeout: 20_000 }, () => {
  it("shows the plan hash; only that hash approves — a missing or different one is 409 and changes nothing", async () => {
    const t = await people("appr-l2");
    const res = await start(t.operator, gated({ level: 2 }));
    const pending = await read(res.body.id, t.viewer);
    expect(pending.plan_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(pending.waiting_for).toMatchObject({ kind: "approval", level: 2, plan_hash: pending.plan_hash });
    // The default expiry of level 2 is 15 minutes.
    expect(Date.parse(pending.approvals![0]!.expires_at) - Date.parse(pending.created_at)).toBe(900_000);
    const before = await eventsOf(t.viewer, res.body.id);

    const wrong = expectProblem(await decide(res.body.id, t.alice.key, { decision: "approve", plan_hash: "0".repeat(64) }), 409, "PLAN_HASH_MISMATCH");
    expect(wrong.detail).toMatch(/plan/);
    expectProblem(await decide(res.body.id, t.alice.key, { decision: "approve" }), 409, "PLAN_HASH_MISMATCH");
    expectProblem(await decide(res.body.id, t.alice.key, { decision: "reject", plan_hash: "f".repeat(64) }), 409, "PLAN_HASH_MISMATCH");
    const unchanged = await read(res.body.id, t.viewer);
    expect(unchanged.status).toBe("pending_approval");
    expect(unchanged.approvals).toEqual(pending.approvals);
    expect(await eventsOf(t.viewer, res.body.id)).toEqual(before);

    const ok = await decide(res.body.id, t.alice.key, { decision: "approve", plan_hash: pending.plan_hash });
    expect(ok.status, ok.text).toBe(200);
    expect((await waitForStatus(t.viewer, res.body.id, ["completed"])).output).toBe(11);
    const requested = (await eventsOf(t.viewer, res.body.id)).find((e) => e.type === "approval.requested")!;
    expect(requested.data).toMatchObject({ level: 2, plan_hash: pending.plan_hash });
  });

  it("the plan hash covers the definition and the input", async () => {
    const t = await people("appr-l2-hash");
    const a = await start(t.operator, gated({ level: 2 }));
    const same = await start(t.operator, gated({ level: 2 }));
    const otherInput = await start(t.operator, { ...gated({ level: 2 }), input: { n: 11 } });
    const otherPlan = await start(t.operator, gated({ level: 2 }, 3));
    const hash = async (id: string) => (await read(id, t.viewer)).plan_hash;
    expect(await hash(same.body.id)).toBe(await hash(a.body.id));
    expect(await hash(otherInput.body.id)).not.toBe(await hash(a.body.id));
    expect(await hash(otherPlan.body.id)).not.toBe(await hash(a.body.id));
    // Another execution's hash does not approve this one.
    expectProblem(await decide(a.body.id, t.approver, { decision: "approve", plan_hash: await hash(otherInput.body.id) }), 409, "PLAN_HASH_MISMATCH");
  });
});

describe("approval level 3: each step before it runs", { timeout: 20_000 }, () => {
  it("waits for each step's approval before its first attempt; decisions name the step", async () => {
    const t = await people("appr-l3");
    const res = await start(t.operator, gated({ level: 3 }));
    const first = await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    expect(first.waiting_for).toMatchObject({ kind: "approval", step_id: "s0", level: 3, gate: "step" });
    // The default expiry of level 3 is 30 minutes.
    expect(Date.parse(first.approvals![0]!.expires_at) - Date.parse(first.approvals![0]!.requested_at)).toBe(1_800_000);
    expect((await stepsOf(t.viewer, res.body.id)).map((s) => [s.status, s.attempts.length])).toEqual([
      ["waiting", 0],
      ["pending", 0],
    ]);

    const p = expectProblem(await decide(res.body.id, t.alice.key, { decision: "approve" }), 400, "VALIDATION_FAILED");
    expect(p.errors).toEqual([expect.objectContaining({ path: "/step_id", message: expect.stringContaining("s0") })]);
    expectProblem(await decide(res.body.id, t.alice.key, { decision: "approve", step_id: "s1" }), 409, "INVALID_STATE"); // not asked yet
    expectProblem(await decide(res.body.id, t.alice.key, { decision: "approve", step_id: "nope" }), 404, "STEP_NOT_FOUND");

    expect((await decide(res.body.id, t.alice.key, { decision: "approve", step_id: "s0" })).status).toBe(200);
    await eventually(async () => expect((await read(res.body.id, t.viewer)).waiting_for).toMatchObject({ kind: "approval", step_id: "s1" }));
    expectProblem(await decide(res.body.id, t.alice.key, { decision: "approve", step_id: "s0" }), 409, "APPROVAL_ALREADY_DECIDED");
    expect((await decide(res.body.id, t.approver, { decision: "approve", step_id: "s1", comment: "go" })).status).toBe(200);
    const done = await waitForStatus(t.viewer, res.body.id, ["completed"]);
    expect(done.output).toBe(11);
    expect(done.approvals!.map((g) => [g.kind, g.step_id, g.status])).toEqual([
      ["step", "s0", "approved"],
      ["step", "s1", "approved"],
    ]);
    const steps = await stepsOf(t.viewer, res.body.id);
    expect(steps.map((s) => s.attempts.length)).toEqual([1, 1]); // held steps ran exactly once
    const events = await eventsOf(t.viewer, res.body.id);
    expectContiguous(events);
    expect(events.map((e) => [e.type, e.step_id ?? null])).toEqual([
      ["execution.created", null],
      ["execution.started", null],
      ["step.waiting", "s0"],
      ["approval.requested", "s0"],
      ["execution.waiting", null],
      ["approval.granted", "s0"],
      ["step.started", "s0"],
      ["step.completed", "s0"],
      ["step.waiting", "s1"],
      ["approval.requested", "s1"],
      ["execution.waiting", null],
      ["approval.granted", "s1"],
      ["step.started", "s1"],
      ["step.completed", "s1"],
      ["execution.completed", null],
    ]);
  });

  it("rejecting a step ends the execution rejected; the step never runs", async () => {
    const t = await people("appr-l3-no");
    const res = await start(t.operator, gated({ level: 3 }));
    await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    expect((await decide(res.body.id, t.alice.key, { decision: "approve", step_id: "s0" })).status).toBe(200);
    await eventually(async () => expect((await read(res.body.id, t.viewer)).waiting_for).toMatchObject({ step_id: "s1" }));
    const no = await decide(res.body.id, t.alice.key, { decision: "reject", step_id: "s1", comment: "stop here" });
    expect(no.status, no.text).toBe(200);
    expect(no.body.status).toBe("rejected");
    expect(no.body.error).toMatchObject({ code: "APPROVAL_REJECTED", step_id: "s1", details: { reason: "rejected" } });
    const steps = await stepsOf(t.viewer, res.body.id);
    expect(steps.map((s) => [s.id, s.status, s.attempts.length])).toEqual([
      ["s0", "completed", 1],
      ["s1", "cancelled", 0],
    ]);
    expect((await typesOf(res.body.id, t.viewer)).slice(-3)).toEqual([
      ["approval.rejected", "s1"],
      ["step.cancelled", "s1"],
      ["execution.rejected", null],
    ]);
  });

  it("a step whose `if` is false is skipped without asking", async () => {
    const t = await people("appr-l3-skip");
    const def = gated({ level: 3 });
    (def.definition.steps[1] as Record<string, unknown>).if = "false";
    const res = await start(t.operator, def);
    await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    expect((await decide(res.body.id, t.approver, { decision: "approve", step_id: "s0" })).status).toBe(200);
    const done = await waitForStatus(t.viewer, res.body.id, ["completed"]);
    expect(done.approvals!.map((g) => g.step_id)).toEqual(["s0"]);
  });
});

describe("approval expiry (a timer in the Durable Object)", { timeout: 20_000 }, () => {
  it("on_expiry reject (the default): the execution ends rejected with reason approval_expired", async () => {
    const t = await people("appr-exp-rej");
    const res = await start(t.operator, gated({ level: 1, expires_in_seconds: 60 }));
    // Not yet: a minute has not passed.
    await advanceAndRunAlarm(res.body.id, 30_000);
    expect((await read(res.body.id, t.viewer)).status).toBe("pending_approval");
    await advanceAndRunAlarm(res.body.id, 31_000);
    const after = await read(res.body.id, t.viewer);
    expect(after.status).toBe("rejected");
    expect(after.error).toMatchObject({ code: "APPROVAL_EXPIRED", details: { reason: "approval_expired" } });
    expect(after.approvals![0]).toMatchObject({ status: "expired", by: null });
    const events = await eventsOf(t.viewer, res.body.id);
    expect(events.map((e) => e.type)).toEqual(["execution.created", "approval.requested", "approval.expired", "execution.rejected"]);
    expect(events[2]!.data).toMatchObject({ action: "reject" });
    expect(events[3]!.data).toMatchObject({ reason: "approval_expired" });
    expectProblem(await decide(res.body.id, t.approver, { decision: "approve" }), 409, "APPROVAL_ALREADY_DECIDED");
    // The index follows.
    await eventually(async () => {
      const list = await call<{ items: { id: string; status: string }[] }>("GET", "/v1/executions?status=rejected", { key: t.viewer });
      expect(list.body.items.map((i) => i.id)).toEqual([res.body.id]);
    });
  });

  it("on_expiry approve: the execution proceeds, recorded as approved by nobody", async () => {
    const t = await people("appr-exp-ok");
    const res = await start(t.operator, gated({ level: 1, expires_in_seconds: 60, on_expiry: "approve" }));
    await advanceAndRunAlarm(res.body.id, 61_000);
    const done = await waitForStatus(t.viewer, res.body.id, ["completed"]);
    expect(done.output).toBe(11);
    expect(done.approvals![0]).toMatchObject({ status: "approved", by: null });
    const types = (await eventsOf(t.viewer, res.body.id)).map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(["execution.created", "approval.requested", "approval.expired", "execution.started"]);
  });

  it("a level-3 step gate expires after 30 minutes by default", async () => {
    const t = await people("appr-exp-l3");
    const res = await start(t.operator, gated({ level: 3 }));
    await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    await advanceAndRunAlarm(res.body.id, 1_799_000);
    expect((await read(res.body.id, t.viewer)).status).toBe("waiting");
    await advanceAndRunAlarm(res.body.id, 2_000);
    const after = await read(res.body.id, t.viewer);
    expect(after.status).toBe("rejected");
    expect(after.error).toMatchObject({ code: "APPROVAL_EXPIRED", step_id: "s0", details: { reason: "approval_expired" } });
  });
});

describe("approval steps", { timeout: 20_000 }, () => {
  function deploy(level?: 1 | 2) {
    return {
      definition: {
        id: "deploy",
        steps: [
          { id: "build", type: "transform", expression: "'v' & input.version" },
          {
            id: "ship_it",
            type: "approval",
            needs: ["build"],
            comment: "Deploy {{ steps.build.output }}?",
            ...(level ? { level } : {}),
          },
          { id: "deploy", type: "transform", needs: ["ship_it"], expression: "steps.ship_it.output" },
        ],
        output: "steps.deploy.output",
      },
      input: { version: "2" },
    };
  }

  it("waits with the rendered comment; approve completes the step with the decision as its output", async () => {
    const t = await people("appr-step");
    const res = await start(t.operator, deploy());
    expect(res.status, res.text).toBe(202);
    const waiting = await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    expect(waiting.waiting_for).toMatchObject({ kind: "approval", step_id: "ship_it", gate: "approval_step", level: 1, request_comment: "Deploy v2?" });
    expect((await decide(res.body.id, t.alice.key, { decision: "approve", step_id: "ship_it", comment: "ship" })).status).toBe(200);
    const done = await waitForStatus(t.viewer, res.body.id, ["completed"]);
    expect(done.output).toEqual({ approved: true, by: t.alice.id, comment: "ship" });
    expect(done.approvals).toEqual([
      expect.objectContaining({ kind: "approval_step", step_id: "ship_it", status: "approved", by: t.alice.id, request_comment: "Deploy v2?" }),
    ]);
  });

  it("an approval step of level 2 takes only the plan hash", async () => {
    const t = await people("appr-step-l2");
    const res = await start(t.operator, deploy(2));
    const waiting = await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    expectProblem(await decide(res.body.id, t.approver, { decision: "approve", step_id: "ship_it" }), 409, "PLAN_HASH_MISMATCH");
    const ok = await decide(res.body.id, t.approver, { decision: "approve", step_id: "ship_it", plan_hash: waiting.plan_hash });
    expect(ok.status, ok.text).toBe(200);
    await waitForStatus(t.viewer, res.body.id, ["completed"]);
  });

  it("expires after the step's timeout_seconds: rejected", async () => {
    const t = await people("appr-step-exp");
    const def = deploy();
    (def.definition.steps[1] as Record<string, unknown>).timeout_seconds = 120;
    const res = await start(t.operator, def);
    await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    await advanceAndRunAlarm(res.body.id, 121_000);
    const after = await read(res.body.id, t.viewer);
    expect(after.status).toBe("rejected");
    expect(after.error).toMatchObject({ code: "APPROVAL_EXPIRED", step_id: "ship_it" });
    expect((await stepsOf(t.viewer, res.body.id)).map((s) => s.status)).toEqual(["completed", "cancelled", "cancelled"]);
  });
});

describe("who may decide", { timeout: 20_000 }, () => {
  it("approver and admin may; operator and viewer get 403 and change nothing; another tenant gets 404", async () => {
    const t = await people("appr-roles");
    const outsider = await tenantWithKeys("appr-roles-other");
    const cases: [RoleName, number][] = [
      ["operator", 403],
      ["viewer", 403],
      ["approver", 200],
      ["admin", 200],
    ];
    for (const [role, status] of cases) {
      const res = await start(t.operator, gated({ level: 1 }));
      const out = await decide(res.body.id, t[role], { decision: "approve" });
      if (status === 200) expect(out.status, out.text).toBe(200);
      else expectProblem(out, 403, "FORBIDDEN");
      expect((await read(res.body.id, t.viewer)).status).not.toBe(status === 200 ? "pending_approval" : "running");
      if (status !== 200) expect((await read(res.body.id, t.viewer)).approvals![0]!.status).toBe("pending");
    }
    const res = await start(t.operator, gated({ level: 1 }));
    expectProblem(await decide(res.body.id, outsider.approver, { decision: "approve" }), 404, "EXECUTION_NOT_FOUND");
    expectProblem(await decide(res.body.id, "sk_not_a_key", { decision: "approve" }), 401, "UNAUTHORIZED");
    expect((await read(res.body.id, t.viewer)).status).toBe("pending_approval");
  });

  it("a gate nobody decided is closed when the execution is cancelled; deciding it then is 409", async () => {
    const t = await people("appr-cancel");
    const res = await start(t.operator, gated({ level: 1 }));
    expect((await call("POST", `/v1/executions/${res.body.id}/cancel`, { key: t.operator })).status).toBe(200);
    const after = await read(res.body.id, t.viewer);
    expect(after.status).toBe("cancelled");
    expect(after.approvals![0]).toMatchObject({ status: "cancelled", decided_at: expect.any(String) });
    expectProblem(await decide(res.body.id, t.approver, { decision: "approve" }), 409, "APPROVAL_ALREADY_DECIDED");
  });

  it("bad bodies are 400 and an execution that waits for no approval is 409", async () => {
    const t = await people("appr-bad");
    const res = await start(t.operator, gated({ level: 1 }));
    const bad = expectProblem(await decide(res.body.id, t.approver, { decision: "maybe", extra: 1 }), 400, "VALIDATION_FAILED");
    expect(bad.errors!.map((e) => e.path).sort()).toEqual(["/decision", "/extra"]);
    const plain = await start(t.operator, gated({ level: 0 }), { wait: 10 });
    expect(plain.body.status).toBe("completed");
    expectProblem(await decide(plain.body.id, t.approver, { decision: "approve" }), 409, "INVALID_STATE");
  });
});
