/**
 * Concurrency keys (SPEC §8) through the real wrangler dev, with the `deploy-service` example that
 * npm start registers (limit 1 per service and environment, approval level 2, a release-gate
 * approval step, a 5 s settle) against the demo upstream: a second deploy waits `queued` behind the
 * first, five run one at a time in start order, and `GET /v1/concurrency/{key}` shows who holds the
 * slot and who waits, until the key is idle again.
 */
import { describe, expect, it } from "vitest";
import { adminKey, call, type Execution, uniqueId, until } from "../helpers/client";
import { readSocket, readSse, type StreamEvent } from "../helpers/streams";

interface Deploy extends Execution {
  started_at?: string;
  ended_at?: string;
  waiting_for?: { kind: string; step_id?: string; key?: string; position?: number };
}

interface KeyState {
  key: string;
  limit: number | null;
  running: { execution_id: string; since: string }[];
  queued: { execution_id: string; priority: number; since: string; position: number }[];
}

const keyPath = (key: string) => `/v1/concurrency/${encodeURIComponent(key)}`;

/** Starts deploy-service; level 2 holds it `pending_approval` with the plan's hash. */
async function startDeploy(service: string, version: string, environment: string): Promise<Deploy> {
  const res = await call<Deploy>("POST", "/v1/executions", { body: { workflow_id: "deploy-service", input: { service, version, environment } } });
  expect(res.status, res.text).toBe(202);
  expect(res.body.status).toBe("pending_approval");
  expect(res.body.plan_hash).toMatch(/^[0-9a-f]{64}$/);
  return res.body;
}

/** Approves the plan that was reviewed (its hash): the execution may start, or queues for the key's slot. */
async function approvePlan(e: Deploy): Promise<Deploy> {
  const res = await call<Deploy>("POST", `/v1/executions/${e.id}/approval`, { body: { decision: "approve", plan_hash: e.plan_hash } });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

const atReleaseGate = (e: Deploy) => e.status === "waiting" && e.waiting_for?.kind === "approval" && e.waiting_for.step_id === "release_gate";

/** Waits for the release-gate approval step and decides it. */
async function decideGate(id: string, decision: "approve" | "reject"): Promise<void> {
  await until<Deploy>(id, atReleaseGate, 30_000);
  const res = await call("POST", `/v1/executions/${id}/approval`, { body: { decision, step_id: "release_gate", comment: `${decision} (e2e)` } });
  expect(res.status, res.text).toBe(200);
}

async function keyState(key: string): Promise<KeyState> {
  const res = await call<KeyState>("GET", keyPath(key));
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** Polls the key until `done` holds (releases reach the key's object through the executions' outboxes). */
async function untilKey(key: string, done: (s: KeyState) => boolean, ms = 10_000): Promise<KeyState> {
  const deadline = Date.now() + ms;
  for (;;) {
    const state = await keyState(key);
    if (done(state)) return state;
    if (Date.now() > deadline) throw new Error(`the key ${key} did not reach the expected state: ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const idle = (key: string): KeyState => ({ key, limit: null, running: [], queued: [] });

/** The execution.* events' types in order, and the first `execution.queued` event. */
function lifecycle(events: StreamEvent[]): { types: string[]; queued: StreamEvent | undefined } {
  return { types: events.map((e) => e.type).filter((t) => t.startsWith("execution.")), queued: events.find((e) => e.type === "execution.queued") };
}

function expectQueuedThenStarted(events: StreamEvent[], key: string): void {
  const { types, queued } = lifecycle(events);
  expect(types.filter((t) => t === "execution.queued" || t === "execution.started")).toEqual(["execution.queued", "execution.started"]);
  expect(types.indexOf("execution.created")).toBeLessThan(types.indexOf("execution.queued"));
  expect(types.at(-1)).toBe("execution.completed");
  expect(queued?.data).toMatchObject({ waiting_for: { kind: "slot", key }, priority: 5 });
}

describe("concurrency keys", () => {
  it("deploy-service: a second deploy of the same service and environment waits queued behind the first", async () => {
    const key = "deploy:api:production";
    const first = await startDeploy("api", "1.5.0", "production");
    await approvePlan(first);
    // Admitted, it holds the key's one slot while it waits for its release gate.
    const holding = await until<Deploy>(first.id, atReleaseGate, 20_000);
    expect(holding.started_at).toBeDefined();

    const second = await startDeploy("api", "1.4.0", "production");
    expect((await approvePlan(second)).status).toBe("queued");
    const queued = await until<Deploy>(second.id, (e) => e.waiting_for?.position !== undefined);
    expect(queued.status).toBe("queued");
    expect(queued.waiting_for).toEqual({ kind: "slot", key, position: 1 });
    expect(queued.started_at).toBeUndefined();

    // Another environment is another key: that deploy is not held back (its gate is then rejected).
    const staging = await startDeploy("web", "2.0.1", "staging");
    await approvePlan(staging);
    await decideGate(staging.id, "reject");
    expect((await until<Deploy>(staging.id, (e) => e.status === "rejected")).status).toBe("rejected");

    // A third one queues behind the second; cancelled, it leaves the queue.
    const third = await startDeploy("api", "1.5.0", "production");
    await approvePlan(third);
    expect((await until<Deploy>(third.id, (e) => e.waiting_for?.position !== undefined)).waiting_for).toEqual({ kind: "slot", key, position: 2 });
    const cancelled = await call<Deploy>("POST", `/v1/executions/${third.id}/cancel`);
    expect(cancelled.status, cancelled.text).toBe(200);
    const state = await untilKey(key, (s) => s.queued.length === 1);
    expect(state).toEqual({
      key,
      limit: 1,
      running: [{ execution_id: first.id, since: expect.any(String) }],
      queued: [{ execution_id: second.id, priority: 5, since: expect.any(String), position: 1 }],
    });
    expect(Date.parse(state.running[0]!.since)).toBeLessThanOrEqual(Date.parse(state.queued[0]!.since));

    // Operators and admins read a key; a viewer may not, and nobody without a key.
    const viewer = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: uniqueId("conc-viewer"), role: "viewer" } });
    const operator = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: uniqueId("conc-operator"), role: "operator" } });
    expect([viewer.status, operator.status]).toEqual([201, 201]);
    const denied = await call<{ code: string }>("GET", keyPath(key), { key: viewer.body.key });
    expect(denied.status, denied.text).toBe(403);
    expect((await call("GET", keyPath(key), { key: null })).status).toBe(401);
    const asOperator = await call<KeyState>("GET", keyPath(key), { key: operator.body.key });
    expect(asOperator.status, asOperator.text).toBe(200);
    expect(asOperator.body.running.map((r) => r.execution_id)).toEqual([first.id]);

    // Live, while the second waits: a WebSocket (stream token) and SSE to its terminal event.
    const token = await call<{ token: string }>("POST", `/v1/executions/${second.id}/stream-token`);
    expect(token.status).toBe(201);
    const socket = readSocket(`/v1/executions/${second.id}/ws?token=${encodeURIComponent(token.body.token)}`, 90_000);
    const sse = readSse(`/v1/executions/${second.id}/events`, { authorization: `Bearer ${adminKey}` }, 90_000);

    await decideGate(first.id, "approve");
    const firstDone = await until<Deploy>(first.id, (e) => e.status === "completed", 30_000);
    await decideGate(second.id, "approve");
    const secondDone = await until<Deploy>(second.id, (e) => e.status === "completed", 30_000);
    expect(Date.parse(secondDone.started_at!)).toBeGreaterThanOrEqual(Date.parse(firstDone.ended_at!));
    expect(firstDone.output).toMatchObject({ image: "registry.local/api:1.5.0", healthy: true, deployment_id: expect.stringMatching(/^dep_/) });
    expect(secondDone.output).toMatchObject({ image: "registry.local/api:1.4.0", healthy: true });
    expect((secondDone.output as { deployment_id: string }).deployment_id).not.toBe((firstDone.output as { deployment_id: string }).deployment_id);

    const ws = await socket;
    expect(ws.code).toBe(1000);
    expect(ws.messages[0]).toMatchObject({ type: "snapshot", execution: { id: second.id, status: "queued", waiting_for: { kind: "slot", key } } });
    expectQueuedThenStarted(ws.messages.slice(1) as unknown as StreamEvent[], key);
    const sseRead = await sse;
    expect(sseRead.status).toBe(200);
    expectQueuedThenStarted(sseRead.events, key);

    expect(await untilKey(key, (s) => s.limit === null)).toEqual(idle(key));
  }, 150_000);

  it("limit 1 over five deploys: one at a time in start order, queue positions 1..n, the key idle at the end", async () => {
    const key = "deploy:api:staging";
    expect(await keyState(key)).toEqual(idle(key));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const e = await startDeploy("api", "1.5.0", "staging");
      await approvePlan(e);
      // Each joins the queue before the next is approved, so the queue's order is the start order.
      const placed = await until<Deploy>(e.id, (x) => (i === 0 ? atReleaseGate(x) : x.waiting_for?.position === i), 20_000);
      expect(placed.status).toBe(i === 0 ? "waiting" : "queued");
      ids.push(e.id);
    }

    const positionsSeen: number[][] = [];
    for (let i = 0; i < ids.length; i++) {
      // The holder waits at its release gate, holding the slot: the key shows it and the rest in line.
      await until<Deploy>(ids[i]!, atReleaseGate, 30_000);
      const state = await keyState(key);
      positionsSeen.push(state.queued.map((q) => q.position));
      expect(state).toEqual({
        key,
        limit: 1,
        running: [{ execution_id: ids[i], since: expect.any(String) }],
        queued: ids.slice(i + 1).map((id, j) => ({ execution_id: id, priority: 5, since: expect.any(String), position: j + 1 })),
      });
      for (const [j, id] of ids.slice(i + 1).entries()) {
        const waiting = await call<Deploy>("GET", `/v1/executions/${id}`);
        expect(waiting.body.waiting_for).toEqual({ kind: "slot", key, position: j + 1 });
      }
      await decideGate(ids[i]!, "approve");
    }
    expect(positionsSeen).toEqual([[1, 2, 3, 4], [1, 2, 3], [1, 2], [1], []]);

    const done: Deploy[] = [];
    for (const id of ids) done.push(await until<Deploy>(id, (e) => e.status === "completed", 30_000));
    const spans = done.map((e) => ({ start: Date.parse(e.started_at!), end: Date.parse(e.ended_at!) }));
    for (const [i, a] of spans.entries()) {
      expect(a.end).toBeGreaterThan(a.start);
      // No two overlap, and they ran in start order.
      for (const b of spans.slice(i + 1)) expect(b.start).toBeGreaterThanOrEqual(a.end);
    }
    expect(new Set(done.map((e) => (e.output as { deployment_id: string }).deployment_id)).size).toBe(5);

    expect(await untilKey(key, (s) => s.limit === null)).toEqual(idle(key));
  }, 180_000);
});
