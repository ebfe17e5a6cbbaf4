/**
 * Child workflows (`workflow` steps, SPEC §9) through the real wrangler dev, where the parent and the
 * child are separate Durable Objects in separate isolates: the `ship-order` example starts its
 * `book-shipment` child, which books the demo carrier and waits for the delivery callback; the parent
 * waits for the child (GET and over SSE), the child shows its parent and the listing filters by
 * `parent_id`; the callback (no key, once) ends the child and the parent completes with its output.
 * Cancelling a parent cancels its waiting child; a child workflow the tenant lacks is 422 at start.
 */
import { describe, expect, it } from "vitest";
import { adminKey, baseUrl, call, type Execution, uniqueId, until } from "../helpers/client";
import { readSse } from "../helpers/streams";

interface Parented {
  execution_id: string;
  step_id: string;
}
interface Family extends Execution {
  workflow_id?: string;
  parent?: Parented;
  waiting_for?: { kind: string; step_id?: string; execution_id?: string; event?: string; callback_url?: string };
}
interface Problem {
  code: string;
  errors?: { path: string; code?: string }[];
}

const SHIPMENT = { order_id: "ORD-7", address: "1 Loop St" };
const ENDED = new Set(["completed", "partial", "failed", "cancelled", "timed_out", "rejected"]);
const ended = (e: Execution) => ENDED.has(e.status);

/** The child execution a parent waits for at `stepId`, once the parent says so. */
async function waitingChild(parentId: string, stepId: string): Promise<string> {
  const parent = await until<Family>(parentId, (e) => e.status === "waiting" && e.waiting_for?.kind === "child");
  expect(parent.waiting_for).toMatchObject({ kind: "child", step_id: stepId, execution_id: expect.any(String) });
  return parent.waiting_for!.execution_id!;
}

/** The path of a callback URL, whether it is absolute (this server's origin) or relative. */
function callbackPath(url: string): string {
  if (url.startsWith("/")) return url;
  const parsed = new URL(url);
  expect(parsed.origin).toBe(new URL(baseUrl).origin);
  return `${parsed.pathname}${parsed.search}`;
}

/** The children listed for `parentId` (the listing is an index, filled shortly after the start). */
async function listedChildren(parentId: string, ms = 20_000): Promise<Family[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await call<{ items: Family[] }>("GET", `/v1/executions?parent_id=${encodeURIComponent(parentId)}`);
    expect(res.status, res.text).toBe(200);
    if (res.body.items.length > 0 || Date.now() > deadline) return res.body.items;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("child workflows", () => {
  it("ship-order: the parent waits for its book-shipment child, the carrier's callback ends the child, the parent completes (watched over SSE)", async () => {
    const started = await call<Family>("POST", "/v1/executions", { body: { workflow_id: "ship-order", input: SHIPMENT } });
    expect(started.status, started.text).toBe(202);
    const parentId = started.body.id;
    const sse = readSse(`/v1/executions/${parentId}/events`, { authorization: `Bearer ${adminKey}` }, 60_000);

    const childId = await waitingChild(parentId, "ship");
    expect(childId).not.toBe(parentId);
    const child = await call<Family>("GET", `/v1/executions/${childId}`);
    expect(child.status, child.text).toBe(200);
    expect(child.body).toMatchObject({ id: childId, workflow_id: "book-shipment", parent: { execution_id: parentId, step_id: "ship" } });
    expect((await call<Family>("GET", `/v1/executions/${parentId}`)).body.parent).toBeUndefined();

    // The child booked the carrier and waits for the delivery event.
    const waiting = await until<Family>(childId, (e) => e.status === "waiting" && e.waiting_for?.kind === "event");
    expect(waiting.waiting_for).toMatchObject({ kind: "event", step_id: "delivered", event: "carrier.delivered", callback_url: expect.any(String) });
    const path = callbackPath(waiting.waiting_for!.callback_url!);
    expect(path).toMatch(/^\/v1\/callbacks\/[^/]+$/);

    const listed = await listedChildren(parentId);
    expect(listed.map((e) => [e.id, e.parent])).toEqual([[childId, { execution_id: parentId, step_id: "ship" }]]);

    const delivered = { delivered_at: "2026-12-01T10:00:00Z" };
    const first = await call<{ event: string; step_id: string }>("POST", path, { key: null, body: { data: delivered } });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ event: "carrier.delivered", step_id: "delivered" });
    const again = await call<Problem>("POST", path, { key: null, body: { data: delivered } });
    expect(again.status, again.text).toBe(409);
    expect(again.body.code).toBe("CALLBACK_USED");

    const done = await until<Family>(parentId, ended, 30_000);
    expect(done.status, JSON.stringify(done.error)).toBe("completed");
    expect(done.output).toEqual({ order_id: "ORD-7", tracking_id: "TRK-ORD-7", delivered_at: "2026-12-01T10:00:00Z" });
    const childDone = await until<Family>(childId, ended);
    expect(childDone.status).toBe("completed");
    expect(childDone.output).toEqual({ tracking_id: "TRK-ORD-7", delivered_at: "2026-12-01T10:00:00Z" });
    expect((await listedChildren(parentId)).map((e) => [e.id, e.parent])).toEqual([[childId, { execution_id: parentId, step_id: "ship" }]]);

    // The parent's events, in order, over SSE: the step waited for the child, then completed; the run ended last.
    const stream = await sse;
    expect(stream.status).toBe(200);
    const events = stream.events;
    const waitingAt = events.findIndex((e) => e.type === "step.waiting" && e.step_id === "ship");
    const completedAt = events.findIndex((e) => e.type === "step.completed" && e.step_id === "ship");
    expect(waitingAt, events.map((e) => e.type).join(", ")).toBeGreaterThanOrEqual(0);
    expect(events[waitingAt]!.data).toMatchObject({ kind: "child", execution_id: childId, workflow_id: "book-shipment", workflow_version: expect.any(Number) });
    expect(completedAt).toBeGreaterThan(waitingAt);
    expect(events.at(-1)?.type).toBe("execution.completed");
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
  }, 90_000);

  it("cancelling a parent cancels its waiting child", async () => {
    const definition = {
      id: uniqueId("ship-cancel"),
      steps: [{ id: "ship", type: "workflow", workflow_id: "book-shipment", input: { order_id: "ORD-CANCEL", address: "2 Loop St" } }],
      output: "steps.ship.output",
    };
    const started = await call<Family>("POST", "/v1/executions", { body: { definition, input: {} } });
    expect(started.status, started.text).toBe(202);
    const parentId = started.body.id;
    const childId = await waitingChild(parentId, "ship");
    await until<Family>(childId, (e) => e.status === "waiting" && e.waiting_for?.kind === "event");

    const cancelled = await call<Family>("POST", `/v1/executions/${parentId}/cancel`);
    expect(cancelled.status, cancelled.text).toBe(200);
    expect((await until<Family>(parentId, ended)).status).toBe("cancelled");
    const child = await until<Family>(childId, ended);
    expect(child.status).toBe("cancelled");
  }, 60_000);

  it("a child workflow the tenant does not have is refused at start: 422 CHILD_WORKFLOW_NOT_FOUND at its path", async () => {
    const definition = { id: uniqueId("orphan"), steps: [{ id: "child", type: "workflow", workflow_id: "no-such-child", input: {} }] };
    const res = await call<Problem>("POST", "/v1/executions", { body: { definition, input: {} } });
    expect(res.status, res.text).toBe(422);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe("CHILD_WORKFLOW_NOT_FOUND");
    expect(res.body.errors?.[0]?.path).toBe("/steps/0/workflow_id");
  });
});
