/**
 * One execution in a concurrency key's queue (SPEC §8), through the real app and real objects: its
 * queue TTL, a cancel while queued, a pause of the holder, a retry and an approval gate — each of
 * which must leave the slots and the queue right. Orders and limits: concurrency.test.ts.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ConcurrencyObject } from "../../src/durable/concurrency/concurrency-object";
import { concurrencyObjectName } from "../../src/durable/concurrency/client";
import { SWEEP_MS } from "../../src/durable/concurrency/slot-book";
import { call, eventually, tenantWithKeys } from "../helpers/api";
import { eventsOf, start, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { advanceAndRunAlarm, OffsetClock } from "../helpers/objects";
import { UPSTREAM } from "../helpers/upstream";
import { idle, keyState } from "../helpers/concurrency";

/** A workflow that holds its slot for as long as the test wants: it sleeps 10 minutes (`waiting`). */
const nap = (id: string, key: string, limit = 1) => ({ id, concurrency: { key, limit }, steps: [{ id: "nap", type: "wait", seconds: 600 }] });

/** A workflow that ends as soon as it is admitted. */
const quick = (id: string, key: string, extra: Record<string, unknown> = {}) => ({
  id,
  concurrency: { key, limit: 1 },
  steps: [{ id: "go", type: "transform", expression: "'ok'" }],
  output: "steps.go.output",
  ...extra,
});

/** The key's holders and queue, as execution ids. */
async function slots(apiKey: string, key: string): Promise<{ running: string[]; queued: string[] }> {
  const s = await keyState(apiKey, key);
  return { running: s.running.map((r) => r.execution_id), queued: s.queued.map((q) => q.execution_id) };
}

async function started(apiKey: string, body: Record<string, unknown>): Promise<ExecutionBody> {
  const res = await start(apiKey, body);
  expect(res.status, res.text).toBe(202);
  return res.body;
}

async function command(apiKey: string, id: string, name: "cancel" | "pause" | "resume" | "retry"): Promise<ExecutionBody> {
  const res = await call<ExecutionBody>("POST", `/v1/executions/${id}/${name}`, { key: apiKey });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

async function read(apiKey: string, id: string): Promise<ExecutionBody> {
  return (await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key: apiKey })).body;
}

const types = async (apiKey: string, id: string) => (await eventsOf(apiKey, id)).map((e) => e.type);

/**
 * Runs the key object's sweep now: its clock is moved past SWEEP_MS and its alarm run, so it asks
 * every holder whether it still holds its slot (instead of waiting a minute).
 */
async function sweep(tenant: string, key: string): Promise<void> {
  const stub = env.CONCURRENCY.getByName(concurrencyObjectName(tenant, key));
  await runInDurableObject(stub, (instance) => {
    const o = instance as unknown as ConcurrencyObject;
    const clock = o.deps.clock instanceof OffsetClock ? o.deps.clock : (o.deps.clock = new OffsetClock());
    clock.offsetMs += SWEEP_MS + 1_000;
  });
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

describe("queue_ttl_seconds", () => {
  it("a queued execution that waits longer ends timed_out QUEUE_TIMEOUT, and leaves the key's queue", async () => {
    const t = await tenantWithKeys("conc-ttl");
    const holder = await started(t.operator, { definition: nap("holder", "ttl") });
    const waiter = await started(t.operator, { definition: quick("impatient", "ttl", { concurrency: { key: "ttl", limit: 1, queue_ttl_seconds: 60 } }) });
    expect(waiter).toMatchObject({ status: "queued", waiting_for: { kind: "slot", key: "ttl", position: 1 } });

    // Half the TTL on the execution's own clock: still queued.
    await advanceAndRunAlarm(waiter.id, 30_000);
    expect((await read(t.viewer, waiter.id)).status).toBe("queued");
    await advanceAndRunAlarm(waiter.id, 31_000);
    const ended = await read(t.viewer, waiter.id);
    expect(ended).toMatchObject({ status: "timed_out", error: { code: "QUEUE_TIMEOUT" } });
    expect(ended.started_at).toBeUndefined();
    expect(ended.waiting_for).toBeUndefined();
    expect(await types(t.viewer, waiter.id)).toEqual(["execution.created", "execution.queued", "execution.timed_out"]);
    expect(await slots(t.operator, "ttl")).toEqual({ running: [holder.id], queued: [] });

    await command(t.operator, holder.id, "cancel");
    await idle(t.operator, "ttl");
  });

  it("an execution admitted before its TTL is not timed out by it", async () => {
    const t = await tenantWithKeys("conc-ttl-ok");
    const e = await started(t.operator, { definition: quick("in-time", "ttl", { concurrency: { key: "ttl", limit: 1, queue_ttl_seconds: 60 } }) });
    expect((await waitForStatus(t.viewer, e.id, ["completed"])).status).toBe("completed");
    await advanceAndRunAlarm(e.id, 120_000);
    expect((await read(t.viewer, e.id)).status).toBe("completed");
    await idle(t.operator, "ttl");
  });
});

describe("the execution's own timeout", () => {
  it("counts the wait in the queue: timed_out EXECUTION_TIMEOUT, and out of the queue", async () => {
    const t = await tenantWithKeys("conc-deadline");
    const holder = await started(t.operator, { definition: nap("holder", "dl") });
    const waiter = await started(t.operator, { definition: quick("short-lived", "dl", { timeout_seconds: 60 }) });
    expect(waiter.status).toBe("queued");
    await advanceAndRunAlarm(waiter.id, 61_000);
    expect(await read(t.viewer, waiter.id)).toMatchObject({ status: "timed_out", error: { code: "EXECUTION_TIMEOUT" } });
    expect(await slots(t.operator, "dl")).toEqual({ running: [holder.id], queued: [] });
    await command(t.operator, holder.id, "cancel");
    await idle(t.operator, "dl");
  });
});

describe("cancel", () => {
  it("a queued execution leaves the queue; the next in line is admitted when the holder ends", async () => {
    const t = await tenantWithKeys("conc-cancel");
    const holder = await started(t.operator, { definition: nap("holder", "cx") });
    const first = await started(t.operator, { definition: quick("waiter", "cx") });
    const second = await started(t.operator, { definition: quick("waiter", "cx") });
    expect(await slots(t.operator, "cx")).toEqual({ running: [holder.id], queued: [first.id, second.id] });

    expect((await command(t.operator, first.id, "cancel")).status).toBe("cancelled");
    await eventually(async () => expect(await slots(t.operator, "cx")).toEqual({ running: [holder.id], queued: [second.id] }));
    expect((await read(t.viewer, second.id)).waiting_for).toEqual({ kind: "slot", key: "cx", position: 1 });

    await command(t.operator, holder.id, "cancel");
    const done = await waitForStatus(t.viewer, second.id, ["completed"]);
    expect(done.output).toBe("ok");
    const cancelled = await read(t.viewer, first.id);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.started_at).toBeUndefined();
    expect(await types(t.viewer, first.id)).toEqual(["execution.created", "execution.queued", "execution.cancelled"]);
    await idle(t.operator, "cx");
  }, 20_000);
});

/**
 * A holder that stays `running` with nothing in flight: its step failed once and waits 10 minutes
 * for its retry (a step in backoff keeps the execution running).
 */
const backoff = (id: string, key: string) => ({
  id,
  concurrency: { key, limit: 1 },
  steps: [
    {
      id: "flaky",
      type: "http",
      request: { method: "GET", url: `${UPSTREAM}/status/503` },
      retry: { max_attempts: 3, backoff: "constant", initial_interval_ms: 600_000, jitter: false },
    },
  ],
});

describe("pause and resume", () => {
  it.each([
    ["waiting", nap("holder", "px")],
    ["running", backoff("holder", "px")],
  ] as const)("a paused holder (%s) keeps its slot, the key's sweep included: the others stay queued until it ends", async (live, definition) => {
    const t = await tenantWithKeys(`conc-pause-${live}`);
    const holder = await started(t.operator, { definition });
    await waitForStatus(t.viewer, holder.id, [live]);
    const waiter = await started(t.operator, { definition: quick("waiter", "px") });
    expect(waiter.status).toBe("queued");
    expect((await call("POST", `/v1/executions/${waiter.id}/pause`, { key: t.operator })).status).toBe(409); // a queued execution is not paused

    expect((await command(t.operator, holder.id, "pause")).status).toBe("paused");
    await sweep(t.tenant, "px"); // the key's object asks the paused holder: it still holds the slot
    expect(await slots(t.operator, "px")).toEqual({ running: [holder.id], queued: [waiter.id] });
    expect((await read(t.viewer, waiter.id)).status).toBe("queued");

    expect((await command(t.operator, holder.id, "resume")).status).not.toBe("queued");
    await waitForStatus(t.viewer, holder.id, [live]);
    await sweep(t.tenant, "px");
    expect(await slots(t.operator, "px")).toEqual({ running: [holder.id], queued: [waiter.id] });
    expect((await read(t.viewer, waiter.id)).status).toBe("queued");
    // Queued once, at its start: neither the pause nor the resume gave the slot up and asked again.
    const lifecycle = (await types(t.viewer, holder.id)).filter((type) => type.startsWith("execution."));
    expect(lifecycle.filter((type) => type === "execution.queued" || type === "execution.started")).toEqual(["execution.queued", "execution.started"]);
    expect(lifecycle).toEqual(expect.arrayContaining(["execution.paused", "execution.resumed"]));

    await command(t.operator, holder.id, "cancel");
    const done = await waitForStatus(t.viewer, waiter.id, ["completed"]);
    const cancelled = await read(t.viewer, holder.id);
    expect(Date.parse(done.started_at!)).toBeGreaterThanOrEqual(Date.parse(cancelled.ended_at!));
    await idle(t.operator, "px");
  }, 20_000);
});

describe("retry", () => {
  it("a failed keyed execution retried queues again for the slot and is admitted again", async () => {
    const t = await tenantWithKeys("conc-retry");
    const flaky = quick("flaky", "rx", {
      steps: [{ id: "go", type: "transform", expression: "execution.attempt = 1 ? $error('the first attempt fails') : 'ok'", retry: { max_attempts: 1 } }],
    });
    const e = await started(t.operator, { definition: flaky });
    expect((await waitForStatus(t.viewer, e.id, ["failed"])).status).toBe("failed");
    const holder = await started(t.operator, { definition: nap("holder", "rx") });
    await waitForStatus(t.viewer, holder.id, ["waiting"]); // the failed run's slot came back to the key

    const retried = await command(t.operator, e.id, "retry");
    expect(retried).toMatchObject({ status: "queued", attempt: 2, waiting_for: { kind: "slot", key: "rx" } });
    await eventually(async () => expect((await read(t.viewer, e.id)).waiting_for).toEqual({ kind: "slot", key: "rx", position: 1 }));
    expect(await slots(t.operator, "rx")).toEqual({ running: [holder.id], queued: [e.id] });

    await command(t.operator, holder.id, "cancel");
    const done = await waitForStatus(t.viewer, e.id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", attempt: 2, output: "ok" });
    const events = await eventsOf(t.viewer, e.id);
    const lifecycle = events.filter((ev) => ev.type.startsWith("execution.")).map((ev) => ev.type);
    expect(lifecycle).toEqual([
      "execution.created",
      "execution.queued",
      "execution.started",
      "execution.failed",
      "execution.queued",
      "execution.started",
      "execution.completed",
    ]);
    expect(events.filter((ev) => ev.type === "execution.started").map((ev) => ev.data.attempt)).toEqual([1, 2]);
    await idle(t.operator, "rx");
  }, 20_000);
});

describe("an approval gate (level 1)", () => {
  it("holds no place in the queue while pending; approved, the execution queues for the slot rather than running without one", async () => {
    const t = await tenantWithKeys("conc-gate");
    const holder = await started(t.operator, { definition: nap("holder", "gx") });
    const gated = await started(t.operator, { definition: quick("gated", "gx", { approval: { level: 1 } }) });
    expect(gated.status).toBe("pending_approval");
    expect(await slots(t.operator, "gx")).toEqual({ running: [holder.id], queued: [] });

    const approved = await call<ExecutionBody>("POST", `/v1/executions/${gated.id}/approval`, { key: t.approver, body: { decision: "approve" } });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({ status: "queued", waiting_for: { kind: "slot", key: "gx" } });
    expect(approved.body.started_at).toBeUndefined();
    await eventually(async () => expect(await slots(t.operator, "gx")).toEqual({ running: [holder.id], queued: [gated.id] }));
    expect((await read(t.viewer, gated.id)).waiting_for).toEqual({ kind: "slot", key: "gx", position: 1 });

    await command(t.operator, holder.id, "cancel");
    const done = await waitForStatus(t.viewer, gated.id, ["completed"]);
    expect(Date.parse(done.started_at!)).toBeGreaterThanOrEqual(Date.parse((await read(t.viewer, holder.id)).ended_at!));
    expect(await types(t.viewer, gated.id)).toEqual([
      "execution.created",
      "approval.requested",
      "approval.granted",
      "execution.queued",
      "execution.started",
      "step.started",
      "step.completed",
      "execution.completed",
    ]);
    await idle(t.operator, "gx");
  }, 20_000);

  it("approved with the key free: admitted through the key's object (it holds a slot while it runs)", async () => {
    const t = await tenantWithKeys("conc-gate-free");
    const gated = await started(t.operator, { definition: { ...nap("gated-nap", "gf"), approval: { level: 1 } } });
    const approved = await call<ExecutionBody>("POST", `/v1/executions/${gated.id}/approval`, { key: t.approver, body: { decision: "approve" } });
    expect(approved.status, approved.text).toBe(200);
    await waitForStatus(t.viewer, gated.id, ["waiting"]);
    expect(await slots(t.operator, "gf")).toEqual({ running: [gated.id], queued: [] });
    expect(await types(t.viewer, gated.id)).toEqual(expect.arrayContaining(["approval.granted", "execution.queued", "execution.started"]));
    await command(t.operator, gated.id, "cancel");
    await idle(t.operator, "gf");
  });
});
