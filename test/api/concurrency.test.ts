/**
 * Concurrency keys (SPEC §8) through the real app and real objects: each key's Durable Object holds
 * its slots and queue; executions queue, run in order, and give their slots back when they end.
 * What the queue does to one execution (TTL, cancel, pause, retry, approval) is in
 * concurrency-queue.test.ts; the key's object under faults in test/durable/concurrency-object.test.ts.
 */
import { describe, expect, it } from "vitest";
import { call, eventually, expectProblem, tenantWithKeys } from "../helpers/api";
import { eventsOf, start, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { inObject } from "../helpers/objects";
import { UPSTREAM } from "../helpers/upstream";
import { idle, keyState } from "../helpers/concurrency";
import { executionIdFor } from "../../src/services/start-execution";

/** A workflow whose one step takes `ms` at the upstream. */
const slow = (id: string, key: string, limit: number, ms = 150) => ({
  id,
  concurrency: { key, limit },
  steps: [{ id: "work", type: "http", request: { method: "GET", url: `${UPSTREAM}/slow?ms=${ms}` } }],
});

/** A workflow that holds its slot for as long as the test wants: it sleeps 10 minutes (`waiting`). */
const nap = (id: string, key: string, limit: number) => ({ id, concurrency: { key, limit }, steps: [{ id: "nap", type: "wait", seconds: 600 }] });

/** A workflow that ends as soon as it is admitted. */
const quick = (id: string, key: string, limit: number) => ({ id, concurrency: { key, limit }, steps: [{ id: "go", type: "transform", expression: "'ok'" }] });

type Queued = ExecutionBody & { waiting_for: { kind: string; key: string; position?: number } };

async function started(apiKey: string, body: Record<string, unknown>): Promise<ExecutionBody> {
  const res = await start(apiKey, body);
  expect(res.status, res.text).toBe(202);
  return res.body;
}

/** [started_at, ended_at] of ended executions, in ms. */
const spans = (list: ExecutionBody[]) => list.map((e) => [Date.parse(e.started_at!), Date.parse(e.ended_at!)] as const);

/** The most intervals open at one instant (one that ends as another starts does not overlap it). */
function mostAtOnce(intervals: (readonly [number, number])[]): number {
  const edges = intervals.flatMap(([s, e]) => [[s, 1] as const, [e, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d));
  return most;
}

const admissions = (list: ExecutionBody[]) => [...list].sort((a, b) => Date.parse(a.started_at!) - Date.parse(b.started_at!)).map((e) => e.id);

describe("a concurrency key: limits and order", () => {
  it("limit 1, five executions started one after another: they run one at a time, in start order", async () => {
    const t = await tenantWithKeys("conc-1");
    // A holder keeps the slot while the five are started, so all five are in the queue before any runs.
    const holder = await started(t.operator, { definition: nap("holder", "k:{{ input.k }}", 1), input: { k: "a" } });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await started(t.operator, { definition: slow("one-at-a-time", "k:{{ input.k }}", 1), input: { k: "a" } })).id);
    const before = await keyState(t.operator, "k:a");
    expect(before).toMatchObject({ key: "k:a", limit: 1, running: [{ execution_id: holder.id }] });
    expect(before.queued.map((q) => [q.execution_id, q.position, q.priority])).toEqual(ids.map((id, i) => [id, i + 1, 5]));

    expect((await call("POST", `/v1/executions/${holder.id}/cancel`, { key: t.operator })).status).toBe(200);
    const ended = await Promise.all(ids.map((id) => waitForStatus(t.viewer, id, ["completed", "failed"], 20_000)));
    expect(ended.map((e) => e.status)).toEqual(Array(5).fill("completed"));
    const s = spans(ended);
    for (let i = 1; i < s.length; i++) expect(s[i]![0]).toBeGreaterThanOrEqual(s[i - 1]![1]);
    expect(admissions(ended)).toEqual(ids);
    await idle(t.operator, "k:a");
    const events = await eventsOf(t.viewer, ids[1]!);
    expect(events.map((e) => e.type).slice(0, 3)).toEqual(["execution.created", "execution.queued", "execution.started"]);
    expect(events[1]!.data).toEqual({ waiting_for: { kind: "slot", key: "k:a" }, priority: 5 });
  }, 30_000);

  it("limit 1, five executions started at the same instant (Promise.all): no two overlap", async () => {
    const t = await tenantWithKeys("conc-all");
    const all = await Promise.all(Array.from({ length: 5 }, () => started(t.operator, { definition: slow("all-at-once", "same", 1) })));
    // Each answer already says whether it got the slot: exactly one did.
    expect(all.map((e) => e.status).filter((s) => s !== "queued")).toHaveLength(1);
    const ended = await Promise.all(all.map((e) => waitForStatus(t.viewer, e.id, ["completed", "failed"], 20_000)));
    expect(ended.map((e) => e.status)).toEqual(Array(5).fill("completed"));
    expect(mostAtOnce(spans(ended))).toBe(1);
    for (const e of ended) expect((await eventsOf(t.viewer, e.id)).filter((ev) => ev.type === "execution.started")).toHaveLength(1);
    await idle(t.operator, "same");
  }, 30_000);

  it("limit 3, twenty executions: never more than 3 run at once, and the queue's positions are 1..n", async () => {
    const t = await tenantWithKeys("conc-3");
    const all = await Promise.all(Array.from({ length: 20 }, () => started(t.operator, { definition: slow("three-at-a-time", "three", 3, 200) })));
    const ids = new Set(all.map((e) => e.id));
    let samples = 0;
    let mostRunning = 0;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await keyState(t.operator, "three");
      if (s.running.length === 0 && s.queued.length === 0) break;
      samples += 1;
      expect(s.limit).toBe(3);
      expect(s.running.length).toBeLessThanOrEqual(3);
      if (s.queued.length > 0) expect(s.running.length).toBe(3); // no slot stays free while someone waits
      mostRunning = Math.max(mostRunning, s.running.length);
      expect(s.queued.map((q) => q.position)).toEqual(s.queued.map((_, i) => i + 1));
      for (const x of [...s.running, ...s.queued]) expect(ids.has(x.execution_id)).toBe(true);
      // An execution is either running or queued, never both.
      expect(new Set([...s.running, ...s.queued].map((x) => x.execution_id)).size).toBe(s.running.length + s.queued.length);
      if (Date.now() > deadline) throw new Error("the key never went idle");
      await new Promise((r) => setTimeout(r, 25)); // a sampling interval, not an assertion on speed
    }
    expect(samples).toBeGreaterThan(0);
    expect(mostRunning).toBeGreaterThan(0);
    const ended = await Promise.all(all.map((e) => waitForStatus(t.viewer, e.id, ["completed", "failed"], 30_000)));
    expect(ended.map((e) => e.status)).toEqual(Array(20).fill("completed"));
    expect(mostAtOnce(spans(ended))).toBeLessThanOrEqual(3);
    const starts = await Promise.all(ended.map(async (e) => (await eventsOf(t.viewer, e.id)).filter((ev) => ev.type === "execution.started").length));
    expect(starts).toEqual(Array(20).fill(1));
  }, 60_000);

  it("a higher priority overtakes the queue; equal priorities stay first in, first out", async () => {
    const t = await tenantWithKeys("conc-prio");
    const holder = await started(t.operator, { definition: nap("holder", "prio", 1) });
    const byName: Record<string, string> = {};
    for (const [name, priority] of [["a5", 5], ["b5", undefined], ["c9", 9], ["d1", 1], ["e9", 9], ["f10", 10]] as const) {
      const e = await started(t.operator, { definition: quick("prioritised", "prio", 1), ...(priority !== undefined ? { priority } : {}) });
      expect(e.status).toBe("queued");
      byName[name] = e.id;
    }
    for (const priority of [0, 11, 2.5]) {
      expectProblem(await start(t.operator, { definition: quick("prioritised", "prio", 1), priority }), 400, "VALIDATION_FAILED");
    }
    const order = ["f10", "c9", "e9", "a5", "b5", "d1"];
    const state = await keyState(t.operator, "prio");
    expect(state.queued.map((q) => [q.execution_id, q.priority, q.position])).toEqual(order.map((n, i) => [byName[n], Number(n.slice(1)), i + 1]));
    expect((await call("POST", `/v1/executions/${holder.id}/cancel`, { key: t.operator })).status).toBe(200);
    const ended = await Promise.all(order.map((n) => waitForStatus(t.viewer, byName[n]!, ["completed"], 25_000)));
    expect(admissions(ended)).toEqual(order.map((n) => byName[n]));
    expect(mostAtOnce(spans(ended))).toBe(1);
    await idle(t.operator, "prio");
  }, 30_000);

  it("a queued execution waits for {kind: slot, key, position}, and its position is current as the queue moves", async () => {
    const t = await tenantWithKeys("conc-pos");
    const holder = await started(t.operator, { definition: nap("holder", "pos", 1) });
    const q: ExecutionBody[] = [];
    for (let i = 0; i < 3; i++) q.push(await started(t.operator, { definition: nap("waiter", "pos", 1) }));
    expect(q.map((e) => [e.status, e.waiting_for])).toEqual([1, 2, 3].map((position) => ["queued", { kind: "slot", key: "pos", position }]));
    expect(q[2]!.started_at).toBeUndefined();
    const read = async (id: string) => (await call<Queued>("GET", `/v1/executions/${id}`, { key: t.viewer })).body;
    expect((await read(q[2]!.id)).waiting_for).toEqual({ kind: "slot", key: "pos", position: 3 });

    // The cancel's release reaches the key's object just after the cancel's answer.
    expect((await call("POST", `/v1/executions/${q[0]!.id}/cancel`, { key: t.operator })).status).toBe(200);
    await eventually(async () => expect((await read(q[2]!.id)).waiting_for).toEqual({ kind: "slot", key: "pos", position: 2 }));
    expect((await read(q[1]!.id)).waiting_for).toEqual({ kind: "slot", key: "pos", position: 1 });

    expect((await call("POST", `/v1/executions/${holder.id}/cancel`, { key: t.operator })).status).toBe(200);
    const admitted = await waitForStatus(t.viewer, q[1]!.id, ["waiting"]);
    expect(admitted.waiting_for).toMatchObject({ kind: "sleep", step_id: "nap" });
    expect((await read(q[2]!.id)).waiting_for).toEqual({ kind: "slot", key: "pos", position: 1 });
    expect((await read(q[2]!.id)).status).toBe("queued");
    for (const e of [q[1]!, q[2]!]) await call("POST", `/v1/executions/${e.id}/cancel`, { key: t.operator });
    await idle(t.operator, "pos");
  }, 20_000);
});

describe("a concurrency key: who shares it", () => {
  it("two workflows with the same key share its limit", async () => {
    const t = await tenantWithKeys("conc-wf");
    const a = await started(t.operator, { definition: nap("deploy-api", "deploy:{{ input.env }}", 1), input: { env: "prod" } });
    const b = await started(t.operator, { definition: quick("migrate-db", "deploy:{{ input.env }}", 1), input: { env: "prod" } });
    const other = await started(t.operator, { definition: quick("migrate-db", "deploy:{{ input.env }}", 1), input: { env: "staging" } });
    expect(b.status).toBe("queued");
    expect(await keyState(t.operator, "deploy:prod")).toMatchObject({ running: [{ execution_id: a.id }], queued: [{ execution_id: b.id, position: 1 }] });
    expect((await waitForStatus(t.viewer, other.id, ["completed"])).status).toBe("completed");
    expect((await call("POST", `/v1/executions/${a.id}/cancel`, { key: t.operator })).status).toBe(200);
    const done = await waitForStatus(t.viewer, b.id, ["completed"]);
    expect(Date.parse(done.started_at!)).toBeGreaterThanOrEqual(Date.parse((await waitForStatus(t.viewer, a.id, ["cancelled"])).ended_at!));
    await idle(t.operator, "deploy:prod");
  }, 20_000);

  it("two tenants with the same key text do not: each has its own slots, and sees only its own", async () => {
    const [t1, t2] = await Promise.all([tenantWithKeys("conc-t1"), tenantWithKeys("conc-t2")]);
    const h1 = await started(t1.operator, { definition: nap("holder", "shared-text", 1) });
    const h2 = await started(t2.operator, { definition: nap("holder", "shared-text", 1) });
    expect(h2.status).not.toBe("queued");
    await waitForStatus(t2.viewer, h2.id, ["waiting"]);
    expect(await keyState(t1.operator, "shared-text")).toMatchObject({ limit: 1, running: [{ execution_id: h1.id }], queued: [] });
    expect(await keyState(t2.operator, "shared-text")).toMatchObject({ limit: 1, running: [{ execution_id: h2.id }], queued: [] });
    const q1 = await started(t1.operator, { definition: quick("waiter", "shared-text", 1) });
    expect(q1.status).toBe("queued");
    expect((await keyState(t2.operator, "shared-text")).queued).toEqual([]);
    for (const [t, h] of [[t1, h1], [t2, h2]] as const) await call("POST", `/v1/executions/${h.id}/cancel`, { key: t.operator });
    await waitForStatus(t1.viewer, q1.id, ["completed"]);
    await Promise.all([idle(t1.operator, "shared-text"), idle(t2.operator, "shared-text")]);
  }, 20_000);
});

describe("GET /v1/concurrency/{key}", () => {
  it("a key with '/', spaces and unicode, URL-encoded, names the same key the executions use", async () => {
    const t = await tenantWithKeys("conc-enc");
    const key = "deploy/api prod/ünïcødé ✓ 東京";
    const h = await started(t.operator, { definition: nap("holder", "{{ input.target }}", 2), input: { target: key } });
    const state = await keyState(t.operator, key);
    expect(state).toEqual({ key, limit: 2, running: [{ execution_id: h.id, since: expect.any(String) }], queued: [] });
    expect(Date.parse(state.running[0]!.since)).toBeGreaterThanOrEqual(Date.parse(h.created_at));
    expect((await call<Queued>("GET", `/v1/executions/${h.id}`, { key: t.viewer })).body.status).toBe("waiting");
    // The admin sees it too; a prefix of the key is another key.
    expect((await keyState(t.admin, key)).running).toHaveLength(1);
    expect((await keyState(t.operator, "deploy")).limit).toBeNull();
    await call("POST", `/v1/executions/${h.id}/cancel`, { key: t.operator });
    await idle(t.operator, key);
  }, 20_000);

  it("operators and admins only: a viewer or an approver key is 403", async () => {
    const t = await tenantWithKeys("conc-403");
    for (const k of [t.viewer, t.approver]) expectProblem(await call("GET", "/v1/concurrency/anything", { key: k }), 403, "FORBIDDEN");
    expectProblem(await call("GET", "/v1/concurrency/anything", { key: null }), 401, "UNAUTHORIZED");
  });

  it("a key nobody holds answers limit null and empty lists; a key longer than keys can be is 400", async () => {
    const t = await tenantWithKeys("conc-idle");
    expect(await keyState(t.operator, "never used")).toEqual({ key: "never used", limit: null, running: [], queued: [] });
    expectProblem(await call("GET", `/v1/concurrency/${"k".repeat(1_025)}`, { key: t.operator }), 400, "VALIDATION_FAILED");
  });
});

describe("a key template", () => {
  it("that renders empty (a missing input field) refuses the start: 400, and nothing is created", async () => {
    const t = await tenantWithKeys("conc-empty");
    const definition = quick("keyless", "{{ input.target }}", 1);
    // Under an idempotency key the execution's id is known beforehand, so its object can be looked at.
    const idempotencyKey = `empty-${crypto.randomUUID()}`;
    const id = await executionIdFor(t.tenant, idempotencyKey);
    const res = await start(t.operator, { definition, input: { other: 1 } }, { idempotencyKey });
    const problem = expectProblem(res, 400, "VALIDATION_FAILED");
    expect(problem.errors).toEqual([expect.objectContaining({ path: "/input", code: "CONCURRENCY_KEY" })]);
    expect(await inObject(id, (o) => o.runtime.exists())).toBe(false);
    const listed = await call<{ items: unknown[] }>("GET", "/v1/executions", { key: t.viewer });
    expect(listed.body.items).toEqual([]);
    // The same request with the field present starts, under the same idempotency key.
    const ok = await start(t.operator, { definition, input: { target: "db" } }, { idempotencyKey });
    expect(ok.status, ok.text).toBe(202);
    expect(ok.body.id).toBe(id);
    await waitForStatus(t.viewer, id, ["completed"]);
    await idle(t.operator, "db");
  });
});
