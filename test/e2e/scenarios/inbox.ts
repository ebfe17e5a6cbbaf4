/**
 * The inbox (SPEC §10) against the real wrangler dev: an item opens when an execution waits for a
 * person, and leaves `pending` with the decision, written to D1 through the execution's outbox
 * across the Worker ↔ object boundary.
 */
import { describe, expect, it } from "vitest";
import { call, type Execution, uniqueId, until } from "../helpers/client";

interface InboxItem {
  execution_id: string;
  workflow_id: string;
  kind: string;
  step_id?: string;
  status: string;
  outcome?: string;
  summary: string;
  decided_by?: string;
}
interface Page {
  items: InboxItem[];
  next_cursor: string | null;
}

/** Polls the inbox until the execution's item of `kind` reads as `check` wants. */
async function itemOf(workflowId: string, executionId: string, kind: string, check: (i: InboxItem) => boolean): Promise<InboxItem> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await call<Page>("GET", `/v1/inbox?workflow_id=${workflowId}&limit=100`);
    expect(res.status, res.text).toBe(200);
    const item = res.body.items.find((i) => i.execution_id === executionId && i.kind === kind);
    if (item && check(item)) return item;
    if (Date.now() > deadline) throw new Error(`no ${kind} item for ${executionId} as expected: ${JSON.stringify(item)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("inbox", () => {
  it("invoice-review's question is a pending answers item until it is answered", async () => {
    const res = await call<Execution>("POST", "/v1/executions", { body: { workflow_id: "invoice-review", input: { invoice_id: "INV-2002" } } });
    expect(res.status, res.text).toBe(202);
    await until<Execution>(res.body.id, (e) => e.status === "waiting");
    const pending = await itemOf("invoice-review", res.body.id, "answers", (i) => i.status === "pending");
    expect(pending).toMatchObject({ step_id: "confirm", workflow_id: "invoice-review" });
    expect(pending.summary.length).toBeGreaterThan(0);
    const answered = await call("POST", `/v1/executions/${res.body.id}/steps/confirm/answers`, { body: { answers: { ok: true, note: "fine" } } });
    expect(answered.status, answered.text).toBe(200);
    expect(await itemOf("invoice-review", res.body.id, "answers", (i) => i.status === "done")).toMatchObject({ outcome: "answered", decided_by: "bootstrap" });
  });

  it("a level-2 plan review is a pending approval item naming the plan; rejected, it is done rejected", async () => {
    const id = uniqueId("inbox-plan");
    const res = await call<Execution & { plan_hash: string }>("POST", "/v1/executions", {
      body: { definition: { id, approval: { level: 2 }, steps: [{ id: "go", type: "transform", expression: "1" }] }, input: {} },
    });
    expect(res.status, res.text).toBe(202);
    const pending = await itemOf(id, res.body.id, "approval", (i) => i.status === "pending");
    expect(pending.summary).toContain(res.body.plan_hash.slice(0, 12));
    expect(pending.step_id).toBeUndefined();
    const rejected = await call("POST", `/v1/executions/${res.body.id}/approval`, { body: { decision: "reject", plan_hash: res.body.plan_hash } });
    expect(rejected.status, rejected.text).toBe(200);
    expect(await itemOf(id, res.body.id, "approval", (i) => i.status === "done")).toMatchObject({ outcome: "rejected" });
    const done = await call<Page>("GET", `/v1/inbox?workflow_id=${id}&status=pending`);
    expect(done.body.items).toEqual([]);
  });

  it("a filter it does not know is 400; no key is 401", async () => {
    const bad = await call<{ code: string }>("GET", "/v1/inbox?kind=nope");
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_FAILED");
    expect((await call("GET", "/v1/inbox", { key: null })).status).toBe(401);
  });
});
