/**
 * The budget Durable Object (SPEC §7), through its real RPC surface and, to move its clock, look at
 * its tables or make notices fail, from inside it (runInDurableObject). Reserve and settle carry
 * the caller's `now`, so periods are driven by the arguments; the alarm runs on the object's own
 * clock (`deps.clock`), moved instead of sleeping.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { BudgetObject } from "../../src/durable/budget/budget-object";
import { budgetRpc, type ConfigureBudgetArgs } from "../../src/durable/budget/client";
import { CLOSED_RETENTION_MS } from "../../src/durable/budget/ledger";
import { toHex } from "../../src/lib/digest";
import { OffsetClock } from "../helpers/objects";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
/**
 * A fixed instant for tests that drive periods through `now`: 2036-11-29T12:00Z, in the object's
 * future, so that its alarm (on its own clock) leaves their reservations alone.
 */
const NOON = Date.UTC(2036, 10, 29, 12);

function newBudgetId(): string {
  return `bu_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
}

function stub(id: string) {
  return env.BUDGETS.getByName(id);
}

function inBudget<R>(id: string, fn: (o: BudgetObject, state: DurableObjectState) => R | Promise<R>): Promise<R> {
  return runInDurableObject(stub(id), (instance, state) => fn(instance as unknown as BudgetObject, state));
}

/** The object's clock as an OffsetClock (installed on first use). */
function clockOf(o: BudgetObject): OffsetClock {
  if (o.deps.clock instanceof OffsetClock) return o.deps.clock;
  const clock = new OffsetClock();
  o.deps.clock = clock;
  return clock;
}

async function configured(over: Partial<ConfigureBudgetArgs> = {}): Promise<{ id: string; tenant: string; rpc: ReturnType<typeof budgetRpc> }> {
  const id = over.id ?? newBudgetId();
  const tenant = over.tenant ?? `t-${toHex(crypto.getRandomValues(new Uint8Array(4)))}`;
  const rpc = budgetRpc(env, id);
  await rpc.configure({ id, tenant, scope: "tenant", workflowId: null, period: "day", maxUsd: 1, onExceed: "fail", now: NOON, ...over });
  return { id, tenant, rpc };
}

let seq = 0;
function reservation(amountUsd: number, over: { executionId?: string; now?: number; expiresAt?: number; reservationId?: string } = {}) {
  seq += 1;
  const now = over.now ?? NOON;
  return {
    reservationId: over.reservationId ?? `ex_test:step:1:${seq}`,
    executionId: over.executionId ?? `ex_${seq.toString(16).padStart(32, "0")}`,
    amountUsd,
    expiresAt: over.expiresAt ?? now + HOUR,
    now,
  };
}

describe("configure and state", () => {
  it("creates the budget once; the same call again answers it; another tenant sees nothing", async () => {
    const { id, tenant, rpc } = await configured({ scope: "workflow", workflowId: "invoice-review", period: "month", maxUsd: 25, onExceed: "pause" });
    const state = await rpc.state(tenant, NOON);
    expect(state).toEqual({
      id,
      tenant,
      scope: "workflow",
      workflow_id: "invoice-review",
      period: "month",
      max_usd: 25,
      on_exceed: "pause",
      spent_usd: 0,
      reserved_usd: 0,
      period_start: "2036-11-01T00:00:00.000Z",
      created_at: new Date(NOON).toISOString(),
      updated_at: new Date(NOON).toISOString(),
    });
    const again = await rpc.configure({ id, tenant, scope: "workflow", workflowId: "invoice-review", period: "month", maxUsd: 25, onExceed: "pause", now: NOON + 5 });
    expect(again).toEqual(state);
    // (Refused calls are made on the instance: a rejected RPC is reported by the pool as unhandled.)
    await expect(
      inBudget(id, (o) => o.configure({ id, tenant, scope: "tenant", workflowId: null, period: "month", maxUsd: 25, onExceed: "pause", now: NOON })),
    ).rejects.toThrow(/already configured/);
    expect(await rpc.state("someone-else", NOON)).toBeNull();
  });

  it("an unknown budget limits nothing and writes nothing", async () => {
    const id = newBudgetId();
    const rpc = budgetRpc(env, id);
    expect(await rpc.state("t", NOON)).toBeNull();
    expect(await rpc.reserve(reservation(5))).toEqual({ ok: true, state: null, over: false });
    expect(await rpc.settle({ reservations: [{ reservationId: "r", actualUsd: 1 }], now: NOON })).toEqual({ state: null, warning: false });
    await rpc.release(["r"]);
    expect(await rpc.remove("t")).toBe(false);
    expect(await inBudget(id, (_o, state) => state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray())).toEqual([]);
  });

  it("parses its arguments again: a bad call is refused, nothing reserved", async () => {
    const { id, tenant, rpc } = await configured();
    await expect(inBudget(id, (o) => o.reserve({ ...reservation(0.1), amountUsd: -1 }))).rejects.toThrow();
    await expect(inBudget(id, (o) => o.reserve({ ...reservation(0.1), reservationId: "" }))).rejects.toThrow();
    await expect(inBudget(id, (o) => o.reserve({ ...reservation(0.1), now: "yesterday" }))).rejects.toThrow();
    await expect(inBudget(id, (o) => o.update(tenant, { maxUsd: 0 }, NOON))).rejects.toThrow();
    expect((await rpc.state(tenant, NOON))!.reserved_usd).toBe(0);
  });
});

describe("reserve", () => {
  it("reserves what fits, refuses what does not (nothing reserved), and fits exactly to the limit", async () => {
    const { tenant, rpc } = await configured({ maxUsd: 1 });
    expect(await rpc.reserve(reservation(0.6))).toMatchObject({ ok: true, over: false, state: { reserved_usd: 0.6, spent_usd: 0 } });
    const refused = await rpc.reserve(reservation(0.5));
    expect(refused).toMatchObject({ ok: false, needed_usd: 0.5, state: { max_usd: 1, reserved_usd: 0.6, spent_usd: 0 } });
    expect(await rpc.reserve(reservation(0.4))).toMatchObject({ ok: true, state: { reserved_usd: 1 } });
    expect(await rpc.reserve(reservation(0.0000000001))).toMatchObject({ ok: false });
    expect((await rpc.state(tenant, NOON))!.reserved_usd).toBe(1);
  });

  it("counts spending: what was settled this period and what is reserved", async () => {
    const { rpc } = await configured({ maxUsd: 1 });
    const r = reservation(0.5);
    await rpc.reserve(r);
    await rpc.settle({ reservations: [{ reservationId: r.reservationId, actualUsd: 0.7 }], now: NOON });
    expect(await rpc.reserve(reservation(0.3))).toMatchObject({ ok: true, state: { spent_usd: 0.7, reserved_usd: 0.3 } });
    expect(await rpc.reserve(reservation(0.01))).toMatchObject({ ok: false, state: { spent_usd: 0.7, reserved_usd: 0.3 } });
  });

  it("registers the execution as a waiter on a pause budget only; warn always reserves and says it went over", async () => {
    const pause = await configured({ maxUsd: 1, onExceed: "pause" });
    const fail = await configured({ maxUsd: 1, onExceed: "fail" });
    const warn = await configured({ maxUsd: 1, onExceed: "warn" });
    for (const b of [pause, fail]) expect(await b.rpc.reserve(reservation(2, { executionId: "ex_waiting" }))).toMatchObject({ ok: false, needed_usd: 2 });
    expect(await inBudget(pause.id, (o) => o.ledger.waiters.list())).toEqual([{ executionId: "ex_waiting", notify: false }]);
    expect(await inBudget(fail.id, (o) => o.ledger.waiters.list())).toEqual([]);

    expect(await warn.rpc.reserve(reservation(0.5))).toMatchObject({ ok: true, over: false });
    expect(await warn.rpc.reserve(reservation(2, { executionId: "ex_over" }))).toMatchObject({ ok: true, over: true, state: { reserved_usd: 2.5 } });
    expect(await inBudget(warn.id, (o) => o.ledger.waiters.list())).toEqual([]);
  });

  it("is idempotent per reservation id: a retried reserve holds the capacity once", async () => {
    const { tenant, rpc } = await configured({ maxUsd: 1, onExceed: "warn" });
    const r = reservation(0.75);
    expect(await rpc.reserve(r)).toMatchObject({ ok: true, over: false });
    expect(await rpc.reserve(r)).toMatchObject({ ok: true, over: false, state: { reserved_usd: 0.75 } });
    const over = reservation(0.5);
    expect(await rpc.reserve(over)).toMatchObject({ ok: true, over: true });
    expect(await rpc.reserve(over)).toMatchObject({ ok: true, over: true, state: { reserved_usd: 1.25 } });
    // Settled, then retried late: nothing is reserved again.
    await rpc.settle({ reservations: [{ reservationId: r.reservationId, actualUsd: 0.5 }], now: NOON });
    expect(await rpc.reserve(r)).toMatchObject({ ok: true, state: { reserved_usd: 0.5, spent_usd: 0.5 } });
    expect((await rpc.state(tenant, NOON))!.reserved_usd).toBe(0.5);
  });

  it("concurrency: of 20 concurrent reserves against a budget that fits 7 of them, exactly 7 succeed and it is never over", async () => {
    const amount = 0.1; // 7 × 0.1 is 0.7000000000000001 in floating point: the rounding must hold
    const { id, tenant, rpc } = await configured({ maxUsd: 0.7, onExceed: "pause" });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => rpc.reserve(reservation(amount, { executionId: `ex_concurrent_${i}` }))));
    expect(results.filter((r) => r.ok)).toHaveLength(7);
    expect(results.filter((r) => !r.ok)).toHaveLength(13);
    for (const r of results) if (r.state) expect(r.state.spent_usd + r.state.reserved_usd).toBeLessThanOrEqual(0.7);
    const state = (await rpc.state(tenant, NOON))!;
    expect(state.reserved_usd).toBe(0.7);
    expect(await inBudget(id, (o) => o.ledger.waiters.list().length)).toBe(13);
  });
});

describe("settle and release", () => {
  it("replaces each reservation by its actual cost, once however often it is settled", async () => {
    const { tenant, rpc } = await configured({ maxUsd: 10 });
    const a = reservation(1);
    const b = reservation(2);
    await rpc.reserve(a);
    await rpc.reserve(b);
    const settle = { reservations: [{ reservationId: a.reservationId, actualUsd: 0.25 }, { reservationId: b.reservationId, actualUsd: 1.5 }], now: NOON };
    expect(await rpc.settle(settle)).toMatchObject({ warning: false, state: { spent_usd: 1.75, reserved_usd: 0 } });
    expect(await rpc.settle(settle)).toMatchObject({ warning: false, state: { spent_usd: 1.75, reserved_usd: 0 } });
    // Unknown to the budget (its reserve was never seen): the actual cost is spent anyway, once.
    const unknown = { reservations: [{ reservationId: "never-reserved", actualUsd: 0.5 }], now: NOON };
    await rpc.settle(unknown);
    await rpc.settle(unknown);
    expect((await rpc.state(tenant, NOON))!.spent_usd).toBe(2.25);
  });

  it("sums without drift", async () => {
    const { tenant, rpc } = await configured({ maxUsd: 100 });
    for (let i = 0; i < 30; i++) await rpc.settle({ reservations: [{ reservationId: `drift-${i}`, actualUsd: 0.1 }], now: NOON });
    expect((await rpc.state(tenant, NOON))!.spent_usd).toBe(3);
  });

  it("release drops reservations whose call was never made (a retried release counts once; a late reserve does not come back)", async () => {
    const { tenant, rpc } = await configured({ maxUsd: 1 });
    const r = reservation(0.8);
    await rpc.reserve(r);
    await rpc.release([r.reservationId]);
    await rpc.release([r.reservationId]);
    expect(await rpc.state(tenant, NOON)).toMatchObject({ reserved_usd: 0, spent_usd: 0 });
    expect(await rpc.reserve(r)).toMatchObject({ ok: true, state: { reserved_usd: 0 } });
    expect(await rpc.reserve(reservation(1))).toMatchObject({ ok: true, state: { reserved_usd: 1 } });
  });

  it("warns exactly once per period, on the settle that first brings spending to 80 %", async () => {
    const { rpc } = await configured({ maxUsd: 10, period: "day", onExceed: "warn" });
    const settle = (usd: number, now = NOON) => rpc.settle({ reservations: [{ reservationId: `w-${++seq}`, actualUsd: usd }], now });
    expect((await settle(5)).warning).toBe(false);
    expect((await settle(2.99)).warning).toBe(false);
    expect((await settle(0.01)).warning).toBe(true); // 8.00
    expect((await settle(1)).warning).toBe(false);
    expect((await settle(5)).warning).toBe(false); // over the limit (warn): still once
    // The next day is a new period: nothing spent, one warning again.
    expect(await settle(7.9, NOON + DAY)).toMatchObject({ warning: false, state: { spent_usd: 7.9, period_start: "2036-11-30T00:00:00.000Z" } });
    expect((await settle(0.2, NOON + DAY)).warning).toBe(true);
    expect((await settle(0.2, NOON + DAY)).warning).toBe(false);
  });
});

describe("periods", () => {
  it("a new UTC day starts with nothing spent; reservations in flight carry over", async () => {
    const { tenant, rpc } = await configured({ maxUsd: 1, period: "day" });
    const spent = reservation(0.6);
    await rpc.reserve(spent);
    await rpc.settle({ reservations: [{ reservationId: spent.reservationId, actualUsd: 0.6 }], now: NOON });
    await rpc.reserve(reservation(0.3, { expiresAt: NOON + 2 * DAY }));
    expect(await rpc.reserve(reservation(0.2))).toMatchObject({ ok: false });
    const lastMs = Date.UTC(2036, 10, 29, 23, 59, 59, 999);
    expect(await rpc.state(tenant, lastMs)).toMatchObject({ spent_usd: 0.6, reserved_usd: 0.3, period_start: "2036-11-29T00:00:00.000Z" });
    const nextDay = lastMs + 1;
    expect(await rpc.state(tenant, nextDay)).toMatchObject({ spent_usd: 0, reserved_usd: 0.3, period_start: "2036-11-30T00:00:00.000Z" });
    expect(await rpc.reserve(reservation(0.7, { now: nextDay }))).toMatchObject({ ok: true, state: { reserved_usd: 1 } });
    expect(await rpc.reserve(reservation(0.01, { now: nextDay }))).toMatchObject({ ok: false });
  });

  it("a month budget rolls over on the first of the month (UTC), not before", async () => {
    const { tenant, rpc } = await configured({ maxUsd: 5, period: "month" });
    await rpc.settle({ reservations: [{ reservationId: "m-1", actualUsd: 4 }], now: NOON });
    expect(await rpc.state(tenant, NOON + DAY)).toMatchObject({ spent_usd: 4, period_start: "2036-11-01T00:00:00.000Z" });
    expect(await rpc.state(tenant, Date.UTC(2036, 11, 1))).toMatchObject({ spent_usd: 0, period_start: "2036-12-01T00:00:00.000Z" });
  });
});

describe("expired reservations (the alarm)", () => {
  it("are spent at their reserved amount; a late settle replaces that by the actual cost, once; a late release gives it back", async () => {
    const now = Date.now();
    const { tenant, rpc, id } = await configured({ maxUsd: 10, now });
    const lost = reservation(2, { now, expiresAt: now + 60_000 });
    const released = reservation(1, { now, expiresAt: now + 60_000 });
    await rpc.reserve(lost);
    await rpc.reserve(released);
    expect(await rpc.state(tenant, now)).toMatchObject({ reserved_usd: 3, spent_usd: 0 });

    await inBudget(id, (o) => {
      clockOf(o).offsetMs = 61_000;
    });
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    const later = now + 61_000;
    expect(await rpc.state(tenant, later)).toMatchObject({ reserved_usd: 0, spent_usd: 3 });

    await rpc.settle({ reservations: [{ reservationId: lost.reservationId, actualUsd: 0.5 }], now: later });
    await rpc.settle({ reservations: [{ reservationId: lost.reservationId, actualUsd: 0.5 }], now: later });
    expect(await rpc.state(tenant, later)).toMatchObject({ spent_usd: 1.5 });
    await rpc.release([released.reservationId]);
    await rpc.release([released.reservationId]);
    expect(await rpc.state(tenant, later)).toMatchObject({ spent_usd: 0.5, reserved_usd: 0 });
  });

  it("a reserve or settle past the expiry spends it at once, without waiting for the alarm", async () => {
    const { tenant, rpc } = await configured({ maxUsd: 1 });
    await rpc.reserve(reservation(0.9, { expiresAt: NOON + 1_000 }));
    expect(await rpc.reserve(reservation(0.2, { now: NOON + 2_000 }))).toMatchObject({ ok: false, state: { spent_usd: 0.9, reserved_usd: 0 } });
    expect(await rpc.state(tenant, NOON + 2_000)).toMatchObject({ spent_usd: 0.9, reserved_usd: 0 });
  });

  it("the ids of closed reservations are forgotten after the retention, and the alarm is then deleted", async () => {
    const { rpc, id } = await configured({ maxUsd: 1, now: Date.now() });
    await rpc.settle({ reservations: [{ reservationId: "old", actualUsd: 0.1 }], now: Date.now() });
    expect(await inBudget(id, (_o, state) => state.storage.getAlarm())).not.toBeNull();
    await inBudget(id, (o) => {
      clockOf(o).offsetMs = CLOSED_RETENTION_MS + 1_000;
    });
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    expect(await inBudget(id, (_o, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM closed").one().n)).toBe(0);
    expect(await inBudget(id, (_o, state) => state.storage.getAlarm())).toBeNull();
  });
});

describe("update and remove wake the waiters", () => {
  it("update changes the limit and tells every waiter once, through its execution's budgetChanged", async () => {
    const { id, tenant, rpc } = await configured({ maxUsd: 1, onExceed: "pause" });
    for (const ex of ["ex_a", "ex_b", "ex_a"]) expect(await rpc.reserve(reservation(2, { executionId: ex }))).toMatchObject({ ok: false });
    const told: string[] = [];
    await inBudget(id, (o) => {
      o.deps.execution = (executionId) => ({
        budgetChanged: async (budgetId: string) => {
          expect(budgetId).toBe(id);
          told.push(executionId);
        },
      });
    });
    const result = await rpc.update(tenant, { maxUsd: 3 }, NOON + 10);
    expect(result).toMatchObject({ previous_max_usd: 1, state: { max_usd: 3, updated_at: new Date(NOON + 10).toISOString() } });
    expect(told.sort()).toEqual(["ex_a", "ex_b"]);
    expect(await inBudget(id, (o) => o.ledger.waiters.list())).toEqual([]);
    expect(await rpc.reserve(reservation(2, { executionId: "ex_a" }))).toMatchObject({ ok: true });
    expect(await rpc.update("someone-else", { maxUsd: 5 }, NOON)).toBeNull();
  });

  it("a notice that fails is kept and retried by the alarm, even by a new instance after an eviction", async () => {
    const { id, tenant, rpc } = await configured({ maxUsd: 1, onExceed: "pause" });
    await rpc.reserve(reservation(2, { executionId: "ex_unlucky" }));
    await inBudget(id, (o) => {
      o.deps.execution = () => ({
        budgetChanged: async () => {
          throw new Error("injected: the execution did not answer");
        },
      });
    });
    await rpc.update(tenant, { maxUsd: 2 }, NOON);
    expect(await inBudget(id, (o) => o.ledger.waiters.list())).toEqual([{ executionId: "ex_unlucky", notify: true }]);
    expect(await inBudget(id, (_o, state) => state.storage.getAlarm())).not.toBeNull();

    // The object dies; its successor has the real dependencies and the durable flag.
    await evictDurableObject(stub(id));
    const told: string[] = [];
    await inBudget(id, (o) => {
      clockOf(o).offsetMs = 10 * 60 * 1000; // past the retry's backoff
      o.deps.execution = (executionId) => ({ budgetChanged: async () => void told.push(executionId) });
    });
    expect(await runDurableObjectAlarm(stub(id))).toBe(true);
    expect(told).toEqual(["ex_unlucky"]);
    expect(await inBudget(id, (o) => o.ledger.waiters.list())).toEqual([]);
  });

  it("a waiter that registers again while its notice is in flight stays a waiter for the next change", async () => {
    const { id, tenant, rpc } = await configured({ maxUsd: 1, onExceed: "pause" });
    await rpc.reserve(reservation(2, { executionId: "ex_again" }));
    await inBudget(id, (o) => {
      // The execution tries again (and is refused again) before it answers the notice.
      o.deps.execution = () => ({ budgetChanged: async () => void (await o.reserve(reservation(5, { executionId: "ex_again" }))) });
    });
    await rpc.update(tenant, { maxUsd: 2 }, NOON);
    expect(await inBudget(id, (o) => o.ledger.waiters.list())).toEqual([{ executionId: "ex_again", notify: false }]);
  });

  it("remove deletes the budget (it limits nothing any more) and tells the waiters; only its tenant may", async () => {
    const { id, tenant, rpc } = await configured({ maxUsd: 1, onExceed: "pause" });
    await rpc.reserve(reservation(0.5));
    await rpc.reserve(reservation(2, { executionId: "ex_waits" }));
    const told: string[] = [];
    await inBudget(id, (o) => {
      o.deps.execution = (executionId) => ({ budgetChanged: async () => void told.push(executionId) });
    });
    expect(await rpc.remove("someone-else")).toBe(false);
    expect(await rpc.remove(tenant)).toBe(true);
    expect(told).toEqual(["ex_waits"]);
    expect(await rpc.state(tenant, NOON)).toBeNull();
    expect(await rpc.reserve(reservation(100))).toEqual({ ok: true, state: null, over: false });
    expect(await rpc.settle({ reservations: [{ reservationId: "x", actualUsd: 1 }], now: NOON })).toEqual({ state: null, warning: false });
    expect(await rpc.update(tenant, { maxUsd: 5 }, NOON)).toBeNull();
    expect(await rpc.remove(tenant)).toBe(true); // a retried delete
  });
});
