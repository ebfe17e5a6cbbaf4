/**
 * The execution Durable Object survives what the platform does to it: evictions at step
 * boundaries and mid-step, alarms that throw, and D1 outages — with no lost or repeated
 * transition and a contiguous event log.
 */
import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/lib/digest";
import { UPSTREAM, hits, marker } from "../helpers/upstream";
import { call, tenantWithKeys } from "../helpers/api";
import { advanceAndRunAlarm, d1FailingBatches, inObject, offsetClockOf, stubOf } from "../helpers/objects";
import { eventsOf, expectContiguous, start, stepsOf, waitForStatus, type EventBody } from "../helpers/executions";

function countBy(events: EventBody[], type: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) if (e.type === type) out[e.step_id ?? "-"] = (out[e.step_id ?? "-"] ?? 0) + 1;
  return out;
}

describe("eviction", () => {
  it("at every step boundary: resumes with no lost or repeated transition", async () => {
    const t = await tenantWithKeys("evict-boundary");
    const definition = {
      id: "sleepy-chain",
      steps: [
        { id: "a", type: "transform", expression: "1" },
        { id: "nap1", type: "wait", seconds: 60, needs: ["a"] },
        { id: "b", type: "transform", needs: ["nap1"], expression: "steps.a.output + 1" },
        { id: "nap2", type: "wait", seconds: 60, needs: ["b"] },
        { id: "c", type: "transform", needs: ["nap2"], expression: "steps.b.output + 1" },
      ],
      output: "steps.c.output",
    };
    const res = await start(t.operator, { definition });
    const id = res.body.id;
    await waitForStatus(t.viewer, id, ["waiting"]);
    for (let boundary = 0; boundary < 2; boundary++) {
      await evictDurableObject(stubOf(id));
      // A fresh instance rebuilds everything from SQLite; the wake timer is still there.
      expect(await advanceAndRunAlarm(id, 61_000 * (boundary + 1))).toBe(true);
    }
    const done = await waitForStatus(t.viewer, id, ["completed"]);
    expect(done.output).toBe(3);
    const events = await eventsOf(t.viewer, id);
    expectContiguous(events);
    expect(countBy(events, "step.started")).toEqual({ a: 1, nap1: 1, b: 1, nap2: 1, c: 1 });
    expect(countBy(events, "step.completed")).toEqual({ a: 1, nap1: 1, b: 1, nap2: 1, c: 1 });
    expect(events.filter((e) => e.type === "execution.completed")).toHaveLength(1);
    expect(events.filter((e) => e.type === "execution.waiting")).toHaveLength(2);
  });

  it("mid-step (a crash): the cut-off attempt is re-attempted and counted; completed steps never run again", async () => {
    const t = await tenantWithKeys("evict-mid");
    const definition = {
      id: "slow-middle",
      steps: [
        { id: "before", type: "transform", expression: "'ok'" },
        { id: "slow", type: "http", needs: ["before"], request: { method: "GET", url: "http://127.0.0.1:9999/slow?ms=300" } },
        { id: "after", type: "transform", needs: ["slow"], expression: "steps.slow.output.status" },
      ],
      output: "steps.after.output",
    };
    const res = await start(t.operator, { definition });
    const id = res.body.id;
    // Wait until the slow request is in flight.
    const deadline = Date.now() + 5_000;
    while ((await stepsOf(t.viewer, id))[1]!.status !== "running") {
      if (Date.now() > deadline) throw new Error("slow step never started");
      await new Promise((r) => setTimeout(r, 20));
    }
    // Reset every object at once, mid-request, as a crash or deploy would: nothing drains.
    await abortAllDurableObjects();
    const done = await waitForStatus(t.viewer, id, ["completed"], 15_000);
    expect(done.output).toBe(200);
    const steps = await stepsOf(t.viewer, id);
    expect(steps[0]!.attempts).toHaveLength(1);
    const slow = steps[1]!;
    expect(slow.attempts.length).toBeGreaterThanOrEqual(2);
    expect(slow.attempts[0]!.error?.code).toBe("INTERRUPTED");
    expect(slow.attempts.at(-1)!.status).toBe("completed");
    const events = await eventsOf(t.viewer, id);
    expectContiguous(events);
    expect(countBy(events, "step.completed")).toEqual({ before: 1, slow: 1, after: 1 });
    expect(events.filter((e) => e.type === "execution.completed")).toHaveLength(1);
  });
});

/**
 * Makes the object's next `n` alarm invocations throw after they started their work, as a handler
 * that crashes midway would. The instance's `alarm` is wrapped here, by the test: the production
 * class has no hook for it. Returns how many injected failures have happened so far.
 */
async function failNextAlarms(id: string, n: number): Promise<() => number> {
  let left = n;
  let happened = 0;
  await inObject(id, (o) => {
    const alarm = o.alarm.bind(o);
    o.alarm = async () => {
      if (left === 0) return alarm();
      left -= 1;
      happened += 1;
      void o.drive.run(); // the work starts ...
      throw new Error("injected alarm failure"); // ... and the invocation fails with it in flight
    };
  });
  return () => happened;
}

describe("alarms that throw", () => {
  it("are retried and converge to one outcome: no lost or repeated transition", async () => {
    const t = await tenantWithKeys("alarm-throws");
    const m = marker("alarm");
    const definition = {
      id: "crashy",
      steps: [
        { id: "a", type: "transform", expression: "1" },
        { id: "nap", type: "wait", seconds: 60, needs: ["a"] },
        // In flight while the alarms fail.
        { id: "b", type: "http", needs: ["nap"], request: { method: "GET", url: `${UPSTREAM}/slow?ms=1000&m=${m}` } },
        { id: "c", type: "transform", needs: ["b"], expression: "steps.a.output + steps.b.output.status" },
      ],
      output: "steps.c.output",
    };
    const res = await start(t.operator, { definition });
    const id = res.body.id;
    // The sleep is an alarm deadline: from here on, only the alarm moves the execution.
    await waitForStatus(t.viewer, id, ["waiting"]);
    const failures = await failNextAlarms(id, 2);
    await inObject(id, (o) => {
      offsetClockOf(o).offsetMs += 61_000;
    });

    // The wake-up alarm fires and throws after it woke the step and started the request.
    await expect(runDurableObjectAlarm(stubOf(id))).rejects.toThrow("injected alarm failure");
    expect(failures()).toBe(1);
    // The platform retries a failed alarm (here at once, not after its backoff): it throws again.
    await expect(inObject(id, (o) => o.alarm())).rejects.toThrow("injected alarm failure");
    expect(failures()).toBe(2);
    const meanwhile = await stepsOf(t.viewer, id);
    expect(meanwhile.map((s) => [s.id, s.status])).toEqual([
      ["a", "completed"],
      ["nap", "completed"],
      ["b", "running"],
      ["c", "pending"],
    ]);
    expect((await call<{ status: string }>("GET", `/v1/executions/${id}`, { key: t.viewer })).body.status).toBe("running");

    // The next retry succeeds.
    await inObject(id, (o) => o.alarm());
    expect(failures()).toBe(2);
    const done = await waitForStatus(t.viewer, id, ["completed"]);
    expect(done.output).toBe(201);
    const steps = await stepsOf(t.viewer, id);
    expect(steps.map((s) => [s.id, s.status, s.attempts.length])).toEqual([
      ["a", "completed", 1],
      ["nap", "completed", 1],
      ["b", "completed", 1],
      ["c", "completed", 1],
    ]);
    expect(await hits(m)).toBe(1); // the request went out once
    const events = await eventsOf(t.viewer, id);
    expectContiguous(events);
    expect(countBy(events, "step.started")).toEqual({ a: 1, nap: 1, b: 1, c: 1 });
    expect(countBy(events, "step.completed")).toEqual({ a: 1, nap: 1, b: 1, c: 1 });
    expect(countBy(events, "step.retrying")).toEqual({});
    expect(events.filter((e) => e.type === "execution.waiting")).toHaveLength(1);
    expect(events.filter((e) => e.type === "execution.completed")).toHaveLength(1);
  });
});

describe("the D1 index", () => {
  it("a flush that fails is retried until the index matches the object", async () => {
    const t = await tenantWithKeys("flush-fails");
    const key = `flush-${Math.random()}`;
    const id = `ex_${(await sha256Hex(`idempotency\n${t.tenant}\n${key}`)).slice(0, 32)}`;
    await inObject(id, (o) => {
      o.deps.d1 = d1FailingBatches(env.DB, 1_000);
    });
    const res = await start(t.operator, { definition: { id: "indexed", steps: [{ id: "a", type: "transform", expression: "7" }], output: "steps.a.output" } }, { idempotencyKey: key, wait: 10 });
    expect(res.body.status).toBe("completed");
    const indexed = () => env.DB.prepare("SELECT status, state_version FROM executions WHERE tenant = ?1 AND id = ?2").bind(t.tenant, id).first<{ status: string; state_version: number }>();
    expect(await indexed()).toBeNull(); // D1 "down": nothing indexed yet
    const pending = await inObject(id, (o) => {
      o.deps.d1 = d1FailingBatches(env.DB, 2); // two more failures, then D1 is back
      return o.runtime.outbox.pending();
    });
    expect(pending).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await advanceAndRunAlarm(id, 120_000);
    expect(await indexed()).toEqual({ status: "completed", state_version: expect.any(Number) });
    const listed = await call<{ items: { id: string; status: string }[] }>("GET", "/v1/executions", { key: t.viewer });
    expect(listed.body.items).toEqual([expect.objectContaining({ id, status: "completed" })]);
    expect(await inObject(id, (o) => o.runtime.outbox.pending())).toBe(0);
  });

  it("upserts only move a row forward: a stale version never overwrites a newer one", async () => {
    const { upsertExecutionIndex } = await import("../../src/store/executions");
    const base = {
      tenant: "guard-tenant",
      id: `ex_${"a".repeat(31)}${Math.floor(Math.random() * 10)}`,
      workflowId: "w",
      workflowVersion: 1,
      labels: {},
      errorCode: null,
      costUsd: 0,
      inputTokens: 0,
      outputTokens: 0,
      createdAt: 1,
      startedAt: 1,
      endedAt: null,
    };
    await upsertExecutionIndex(env.DB, [{ ...base, status: "completed", endedAt: 5, stateVersion: 5 }], 10);
    await upsertExecutionIndex(env.DB, [{ ...base, status: "running", stateVersion: 2 }], 11);
    const row = await env.DB.prepare("SELECT status, state_version FROM executions WHERE id = ?1").bind(base.id).first();
    expect(row).toEqual({ status: "completed", state_version: 5 });
  });
});
