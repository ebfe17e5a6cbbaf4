/**
 * A concurrency key's Durable Object (SPEC §8) and the execution objects around it, under faults:
 * releases that are lost for a while or for good, asks that fail, evictions, and requests sent
 * twice. No slot is ever leaked and no execution admitted twice. Faults are injected by replacing
 * the dependencies of live objects (`ExecutionObject.deps.concurrency`, `ConcurrencyObject.deps`),
 * and every test that injects one also checks that it happened.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ConcurrencyObject } from "../../src/durable/concurrency/concurrency-object";
import { concurrencyObjectName, concurrencyRpc } from "../../src/durable/concurrency/client";
import { SWEEP_MS } from "../../src/durable/concurrency/slot-book";
import { call, eventually, tenantWithKeys } from "../helpers/api";
import { eventsOf, start, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { advanceAndRunAlarm, inObject, OffsetClock, stubOf } from "../helpers/objects";
import { UPSTREAM } from "../helpers/upstream";
import { executionIdFor } from "../../src/services/start-execution";

const nap = (id: string, key: string, limit = 1) => ({ id, concurrency: { key, limit }, steps: [{ id: "nap", type: "wait", seconds: 600 }] });
const quick = (id: string, key: string, limit = 1) => ({ id, concurrency: { key, limit }, steps: [{ id: "go", type: "transform", expression: "'ok'" }] });
const slow = (id: string, key: string, limit: number) => ({
  id,
  concurrency: { key, limit },
  steps: [{ id: "work", type: "http", request: { method: "GET", url: `${UPSTREAM}/slow?ms=100` } }],
});

type Tenant = Awaited<ReturnType<typeof tenantWithKeys>>;

async function started(t: Tenant, definition: Record<string, unknown>): Promise<ExecutionBody> {
  const res = await start(t.operator, { definition });
  expect(res.status, res.text).toBe(202);
  return res.body;
}

async function cancel(t: Tenant, id: string): Promise<void> {
  const res = await call("POST", `/v1/executions/${id}/cancel`, { key: t.operator });
  expect(res.status, res.text).toBe(200);
}

function keyStub(tenant: string, key: string) {
  return env.CONCURRENCY.getByName(concurrencyObjectName(tenant, key));
}

function inKey<R>(tenant: string, key: string, fn: (o: ConcurrencyObject, state: DurableObjectState) => R | Promise<R>): Promise<R> {
  return runInDurableObject(keyStub(tenant, key), (instance, state) => fn(instance as unknown as ConcurrencyObject, state));
}

/** The key as its tenant sees it, as execution ids. */
async function slots(tenant: string, key: string): Promise<{ running: string[]; queued: string[] }> {
  const s = await concurrencyRpc(env, tenant, key).state(tenant, key);
  return { running: s.running.map((r) => r.execution_id), queued: s.queued.map((q) => q.execution_id) };
}

/** Rows in the key object's tables. */
function rows(tenant: string, key: string): Promise<{ holders: number; queue: number }> {
  return inKey(tenant, key, (_o, state) => {
    const count = (table: string) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n;
    return { holders: count("holders"), queue: count("queue") };
  });
}

/** Runs the key object's alarm with its clock moved `ms` on: past SWEEP_MS, the sweep asks every holder. */
async function runKeyAlarm(tenant: string, key: string, ms = SWEEP_MS + 1_000): Promise<boolean> {
  await inKey(tenant, key, (o) => {
    const clock = o.deps.clock instanceof OffsetClock ? o.deps.clock : (o.deps.clock = new OffsetClock());
    clock.offsetMs += ms;
  });
  return runDurableObjectAlarm(keyStub(tenant, key));
}

/** Slot messages the execution still owes its key's object. */
const owedSlotMessages = (id: string) => inObject(id, (o) => o.runtime.outbox.slotMessages().map((m) => m.kind));

/**
 * Wraps the execution object's way to its key's object so that its next `times` releases fail, as if
 * the call were lost (Infinity: all of them). `left` can be changed later; `count` is how many failed.
 */
async function failingReleases(id: string, times: number): Promise<{ left: number; count: number }> {
  const injected = { left: times, count: 0 };
  await inObject(id, (o) => {
    const real = o.deps.concurrency;
    o.deps.concurrency = (tenant, key) => {
      const rpc = real(tenant, key);
      return {
        acquire: (a) => rpc.acquire(a),
        state: (t, k) => rpc.state(t, k),
        position: (e) => rpc.position(e),
        release: async (a) => {
          if (injected.left <= 0) return rpc.release(a);
          injected.left -= 1;
          injected.count += 1;
          throw new Error("injected: the release was lost");
        },
      };
    };
  });
  return injected;
}

/** Runs the execution's alarm, its clock moved past any outbox backoff, until it owes its key nothing. */
async function retryUntilDelivered(id: string): Promise<void> {
  for (let i = 0; (await owedSlotMessages(id)).length > 0; i++) {
    if (i === 20) throw new Error(`execution ${id} still owes its key ${JSON.stringify(await owedSlotMessages(id))}`);
    await advanceAndRunAlarm(id, 61_000);
  }
}

/** Waits until nobody holds or waits for the key, so no call between objects is left in flight. */
async function idle(tenant: string, key: string): Promise<void> {
  await eventually(async () => expect(await slots(tenant, key)).toEqual({ running: [], queued: [] }));
}

const startedEvents = async (t: Tenant, id: string) => (await eventsOf(t.viewer, id)).filter((e) => e.type === "execution.started").length;

/** The most intervals open at one instant (one that ends as another starts does not overlap it). */
function mostAtOnce(list: ExecutionBody[]): number {
  const edges = list
    .flatMap((e) => [[Date.parse(e.started_at!), 1] as const, [Date.parse(e.ended_at!), -1] as const])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d));
  return most;
}

describe("a lost release", () => {
  it("that fails for a while is retried from the execution's outbox until it lands; then the next in line runs", async () => {
    const t = await tenantWithKeys("slot-retry");
    const holder = await started(t, nap("holder", "lr"));
    await waitForStatus(t.viewer, holder.id, ["waiting"]);
    const next = await started(t, quick("next", "lr"));
    expect(next.status).toBe("queued");
    const injected = await failingReleases(holder.id, 4);

    await cancel(t, holder.id);
    await eventually(async () => expect(injected.count).toBeGreaterThan(0));
    // The key's object has not heard of the end: the slot stays the holder's, nobody is admitted.
    expect(await slots(t.tenant, "lr")).toEqual({ running: [holder.id], queued: [next.id] });
    expect(await owedSlotMessages(holder.id)).toEqual(["slot_release"]);
    expect((await call<ExecutionBody>("GET", `/v1/executions/${next.id}`, { key: t.viewer })).body.status).toBe("queued");

    await retryUntilDelivered(holder.id);
    expect(injected.count).toBe(4);
    const done = await waitForStatus(t.viewer, next.id, ["completed"]);
    expect(Date.parse(done.started_at!)).toBeGreaterThanOrEqual(Date.parse((await waitForStatus(t.viewer, holder.id, ["cancelled"])).ended_at!));
    expect(await startedEvents(t, next.id)).toBe(1);
    await idle(t.tenant, "lr");
  }, 30_000);

  it("that never lands: the key's sweep asks the holder, which has ended, and gives the slot to the next in line", async () => {
    const t = await tenantWithKeys("slot-sweep");
    const holder = await started(t, nap("holder", "sw"));
    await waitForStatus(t.viewer, holder.id, ["waiting"]);
    const next = await started(t, nap("next", "sw"));
    const third = await started(t, quick("third", "sw"));
    const injected = await failingReleases(holder.id, Infinity);

    await cancel(t, holder.id);
    await eventually(async () => expect(injected.count).toBeGreaterThan(0));
    expect(await slots(t.tenant, "sw")).toEqual({ running: [holder.id], queued: [next.id, third.id] });
    // Asked, the ended holder says it holds nothing; the next in line says it does (and is admitted).
    expect(await stubOf(holder.id).slotGranted("sw")).toBe(false);

    expect(await runKeyAlarm(t.tenant, "sw")).toBe(true);
    expect(await slots(t.tenant, "sw")).toEqual({ running: [next.id], queued: [third.id] });
    await waitForStatus(t.viewer, next.id, ["waiting"]);
    expect(await stubOf(next.id).slotGranted("sw")).toBe(true);
    expect(await owedSlotMessages(holder.id)).toEqual(["slot_release"]); // still lost

    // The lost release lands at last: it frees nothing (the slot is the next one's now).
    const failed = injected.count;
    injected.left = 0;
    await retryUntilDelivered(holder.id);
    expect(failed).toBeGreaterThan(0);
    expect(await slots(t.tenant, "sw")).toEqual({ running: [next.id], queued: [third.id] });
    expect(await rows(t.tenant, "sw")).toEqual({ holders: 1, queue: 1 });

    await cancel(t, next.id);
    await waitForStatus(t.viewer, third.id, ["completed"]);
    for (const e of [next, third]) expect(await startedEvents(t, e.id)).toBe(1);
    await idle(t.tenant, "sw");
  }, 30_000);
});

describe("a retry while the earlier run's release is lost", () => {
  it("the sweep does not give the new run the old run's slot: it queues again once the release has landed", async () => {
    const t = await tenantWithKeys("slot-retry-lost");
    const flaky = {
      id: "flaky",
      concurrency: { key: "rl", limit: 1 },
      steps: [{ id: "go", type: "transform", expression: "execution.attempt = 1 ? $error('the first attempt fails') : 'ok'", retry: { max_attempts: 1 } }],
    };
    // The fault is in place before the execution exists: its id follows from its idempotency key.
    const idempotencyKey = `retry-lost-${crypto.randomUUID()}`;
    const injected = await failingReleases(await executionIdFor(t.tenant, idempotencyKey), Infinity);
    const res = await start(t.operator, { definition: flaky }, { idempotencyKey });
    expect(res.status, res.text).toBe(202);
    const e = res.body;
    expect((await waitForStatus(t.viewer, e.id, ["failed"])).status).toBe("failed");
    await eventually(async () => expect(injected.count).toBeGreaterThan(0));
    const next = await started(t, quick("next", "rl"));
    expect(await slots(t.tenant, "rl")).toEqual({ running: [e.id], queued: [next.id] });

    const retried = await call<ExecutionBody>("POST", `/v1/executions/${e.id}/retry`, { key: t.operator });
    expect(retried.body.status, retried.text).toBe("queued");
    expect(await owedSlotMessages(e.id)).toEqual(["slot_release", "slot_acquire"]);
    // Asked, the retried run says no (its release is on its way): the slot goes to the next in line.
    expect(await runKeyAlarm(t.tenant, "rl")).toBe(true);
    await waitForStatus(t.viewer, next.id, ["completed"]);
    expect((await call<ExecutionBody>("GET", `/v1/executions/${e.id}`, { key: t.viewer })).body.status).toBe("queued");

    injected.left = 0;
    await retryUntilDelivered(e.id);
    const done = await waitForStatus(t.viewer, e.id, ["completed", "failed"]);
    expect(done).toMatchObject({ status: "completed", attempt: 2 });
    expect(await startedEvents(t, e.id)).toBe(2);
    expect(await startedEvents(t, next.id)).toBe(1);
    const n = await waitForStatus(t.viewer, next.id, ["completed"]);
    expect(Date.parse(done.ended_at!)).toBeGreaterThanOrEqual(Date.parse(n.ended_at!));
    await idle(t.tenant, "rl");
  }, 30_000);
});

describe("an ask the key's object cannot make", () => {
  it("keeps the slot for the execution it was granted to, and is retried until the execution hears of it", async () => {
    const t = await tenantWithKeys("slot-ask");
    const holder = await started(t, nap("holder", "ask"));
    const next = await started(t, quick("next", "ask"));
    const asks = { left: 2, failed: 0 };
    await inKey(t.tenant, "ask", (o) => {
      const real = o.deps.execution;
      o.deps.execution = (id) => ({
        slotGranted: async (key) => {
          if (id === next.id && asks.left > 0) {
            asks.left -= 1;
            asks.failed += 1;
            throw new Error("injected: the execution cannot be reached");
          }
          return real(id).slotGranted(key);
        },
      });
    });

    await cancel(t, holder.id);
    await eventually(async () => expect(asks.failed).toBeGreaterThan(0));
    expect(await slots(t.tenant, "ask")).toEqual({ running: [next.id], queued: [] });
    for (let i = 0; i < 10 && asks.left > 0; i++) await runKeyAlarm(t.tenant, "ask", 5 * 60_000);
    expect(asks.failed).toBe(2);
    expect((await waitForStatus(t.viewer, next.id, ["completed"])).status).toBe("completed");
    expect(await startedEvents(t, next.id)).toBe(1);
    await idle(t.tenant, "ask");
  }, 30_000);
});

describe("eviction", () => {
  it("of the key's object and of the executions while some are queued: none is lost, none admitted twice", async () => {
    const t = await tenantWithKeys("slot-evict");
    const holders = [await started(t, nap("holder", "ev", 2)), await started(t, nap("holder", "ev", 2))];
    const queued: ExecutionBody[] = [];
    for (let i = 0; i < 4; i++) queued.push(await started(t, slow("worker", "ev", 2)));
    const before = await slots(t.tenant, "ev");
    expect(before).toEqual({ running: holders.map((h) => h.id), queued: queued.map((q) => q.id) });

    await evictDurableObject(keyStub(t.tenant, "ev"));
    for (const e of [...holders, ...queued]) {
      await call("GET", `/v1/executions/${e.id}`, { key: t.viewer }); // running, so it can be evicted
      await evictDurableObject(stubOf(e.id));
    }
    expect(await slots(t.tenant, "ev")).toEqual(before);

    for (const h of holders) await cancel(t, h.id);
    await evictDurableObject(keyStub(t.tenant, "ev")).catch(() => undefined); // mid-flow, if it runs now
    const ended = await Promise.all(queued.map((q) => waitForStatus(t.viewer, q.id, ["completed", "failed"], 20_000)));
    expect(ended.map((e) => e.status)).toEqual(Array(4).fill("completed"));
    expect(mostAtOnce(ended)).toBeLessThanOrEqual(2);
    for (const e of [...holders, ...queued]) expect(await startedEvents(t, e.id)).toBe(1);
    await idle(t.tenant, "ev");
  }, 40_000);
});

describe("a request sent twice", () => {
  it("acquire again: a holder is told granted, a queued execution its same place; no row is added", async () => {
    const t = await tenantWithKeys("slot-twice");
    const holder = await started(t, nap("holder", "tw"));
    const first = await started(t, quick("waiter", "tw"));
    const second = await started(t, quick("waiter", "tw"));
    const rpc = concurrencyRpc(env, t.tenant, "tw");
    expect(await rows(t.tenant, "tw")).toEqual({ holders: 1, queue: 2 });

    const again = (executionId: string, priority = 5) => rpc.acquire({ tenant: t.tenant, key: "tw", executionId, limit: 1, priority });
    expect(await again(holder.id)).toEqual({ granted: true });
    expect(await again(first.id)).toEqual({ granted: false, position: 1 });
    expect(await again(second.id)).toEqual({ granted: false, position: 2 });
    // Asking again at another priority does not move it: its place was taken at its first request.
    expect(await again(second.id, 10)).toEqual({ granted: false, position: 2 });
    expect(await rows(t.tenant, "tw")).toEqual({ holders: 1, queue: 2 });
    expect(await slots(t.tenant, "tw")).toEqual({ running: [holder.id], queued: [first.id, second.id] });

    await cancel(t, holder.id);
    await Promise.all([first, second].map((e) => waitForStatus(t.viewer, e.id, ["completed"])));
    for (const e of [holder, first, second]) expect(await startedEvents(t, e.id)).toBe(1);
    await idle(t.tenant, "tw");
  }, 20_000);

  it("release again: changes nothing", async () => {
    const t = await tenantWithKeys("slot-release-twice");
    const holder = await started(t, nap("holder", "rt"));
    const next = await started(t, nap("next", "rt"));
    const third = await started(t, nap("third", "rt"));
    await cancel(t, holder.id);
    await eventually(async () => expect(await slots(t.tenant, "rt")).toEqual({ running: [next.id], queued: [third.id] }));
    await concurrencyRpc(env, t.tenant, "rt").release({ tenant: t.tenant, key: "rt", executionId: holder.id });
    expect(await slots(t.tenant, "rt")).toEqual({ running: [next.id], queued: [third.id] });
    for (const e of [next, third]) await cancel(t, e.id);
    await idle(t.tenant, "rt");
  }, 20_000);
});

describe("an idle key", () => {
  it("read, asked for a position or released: writes nothing (no table, no alarm)", async () => {
    const t = await tenantWithKeys("slot-idle");
    const res = await call("GET", `/v1/concurrency/${encodeURIComponent("idle key")}`, { key: t.operator });
    expect(res.status, res.text).toBe(200);
    const rpc = concurrencyRpc(env, t.tenant, "idle key");
    expect(await rpc.position("ex_unknown")).toBeNull();
    await rpc.release({ tenant: t.tenant, key: "idle key", executionId: "ex_unknown" });
    const stored = await inKey(t.tenant, "idle key", async (_o, state) => ({
      tables: state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().map((r) => r.name),
      alarm: await state.storage.getAlarm(),
    }));
    expect(stored).toEqual({ tables: [], alarm: null });
  });
});
