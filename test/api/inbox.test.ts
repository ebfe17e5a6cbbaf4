/**
 * The inbox (SPEC §10) through the real app, objects and D1: items open when an execution waits for
 * a person or a caller, and leave `pending` when decided, answered, received, expired or cancelled;
 * filters and paging.
 */
import { describe, expect, it } from "vitest";
import { call, createKey, eventually, expectProblem, tenantWithKeys } from "../helpers/api";
import { chain, start, waitForStatus } from "../helpers/executions";
import { advanceAndRunAlarm } from "../helpers/objects";

interface InboxItemBody {
  execution_id: string;
  workflow_id: string;
  kind: string;
  step_id?: string;
  requested_at: string;
  expires_at?: string;
  status: string;
  outcome?: string;
  summary: string;
  decided_by?: string;
  decided_at?: string;
}

const inbox = async (key: string, query = "") => {
  const res = await call<{ items: InboxItemBody[]; next_cursor: string | null }>("GET", `/v1/inbox${query}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body;
};

/** Waits until the execution's item (of `kind`) reads as `check` wants (the index is written through the outbox). */
async function itemOf(key: string, executionId: string, kind: string, check: (i: InboxItemBody) => boolean): Promise<InboxItemBody> {
  return eventually(async () => {
    const item = (await inbox(key, "?limit=100")).items.find((i) => i.execution_id === executionId && i.kind === kind);
    if (!item || !check(item)) throw new Error(`no such item yet: ${JSON.stringify(item)}`);
    return item;
  });
}

const QUESTION = { id: "ok", prompt: "Total is over 1000. Pay it?", type: "boolean" };

describe("inbox", { timeout: 30_000 }, () => {
  it("an execution's approval gate: pending with its summary, then done approved by the approver", async () => {
    const t = await tenantWithKeys();
    const alice = await createKey(t.tenant, "approver", "alice");
    const started = await start(t.operator, { definition: chain("gated", 1, { approval: { level: 1 } }), input: { n: 1 } });
    const pending = await itemOf(t.viewer, started.body.id, "approval", (i) => i.status === "pending");
    expect(pending).toMatchObject({ workflow_id: "gated", status: "pending", summary: "Confirm the start of gated", expires_at: expect.any(String) });
    expect(pending.step_id).toBeUndefined();
    expect((await call("POST", `/v1/executions/${started.body.id}/approval`, { key: alice.key, body: { decision: "approve" } })).status).toBe(200);
    const done = await itemOf(t.viewer, started.body.id, "approval", (i) => i.status === "done");
    expect(done).toMatchObject({ outcome: "approved", decided_by: alice.id, decided_at: expect.any(String) });
  });

  it("questions: pending answers item named by its prompt, answered; rejected gates read rejected", async () => {
    const t = await tenantWithKeys();
    const asks = await start(t.operator, { definition: { id: "asks", steps: [{ id: "confirm", type: "input", questions: [QUESTION] }] } });
    const item = await itemOf(t.viewer, asks.body.id, "answers", (i) => i.status === "pending");
    expect(item).toMatchObject({ step_id: "confirm", summary: QUESTION.prompt });
    await call("POST", `/v1/executions/${asks.body.id}/steps/confirm/answers`, { key: t.approver, body: { answers: { ok: true } } });
    expect(await itemOf(t.viewer, asks.body.id, "answers", (i) => i.status === "done")).toMatchObject({ outcome: "answered" });

    const gated = await start(t.operator, { definition: chain("gated", 1, { approval: { level: 1 } }), input: { n: 1 } });
    await itemOf(t.viewer, gated.body.id, "approval", (i) => i.status === "pending");
    await call("POST", `/v1/executions/${gated.body.id}/approval`, { key: t.approver, body: { decision: "reject" } });
    expect(await itemOf(t.viewer, gated.body.id, "approval", (i) => i.status === "done")).toMatchObject({ outcome: "rejected" });
  });

  it("a wait that times out is done expired; an execution cancelled with an item pending leaves it cancelled", async () => {
    const t = await tenantWithKeys();
    const late = await start(t.operator, { definition: { id: "late", steps: [{ id: "confirm", type: "input", timeout_seconds: 60, questions: [QUESTION] }] } });
    await itemOf(t.viewer, late.body.id, "answers", (i) => i.status === "pending");
    await advanceAndRunAlarm(late.body.id, 61_000);
    await waitForStatus(t.viewer, late.body.id, ["failed"]);
    expect(await itemOf(t.viewer, late.body.id, "answers", (i) => i.status === "done")).toMatchObject({ outcome: "expired" });

    const waits = await start(t.operator, { definition: { id: "waits", steps: [{ id: "paid", type: "event", event: "payment.settled" }] } });
    expect(await itemOf(t.viewer, waits.body.id, "event", (i) => i.status === "pending")).toMatchObject({ step_id: "paid", summary: "Waiting for the signal payment.settled" });
    await call("POST", `/v1/executions/${waits.body.id}/cancel`, { key: t.operator });
    expect(await itemOf(t.viewer, waits.body.id, "event", (i) => i.status === "done")).toMatchObject({ outcome: "cancelled" });
  });

  it("a signal delivered to the waiting step is done received", async () => {
    const t = await tenantWithKeys();
    const waits = await start(t.operator, { definition: { id: "waits", steps: [{ id: "paid", type: "event", event: "payment.settled" }] } });
    await itemOf(t.viewer, waits.body.id, "event", (i) => i.status === "pending");
    await call("POST", `/v1/executions/${waits.body.id}/signals/payment.settled`, { key: t.operator, body: { data: {} } });
    expect(await itemOf(t.viewer, waits.body.id, "event", (i) => i.status === "done")).toMatchObject({ outcome: "received" });
  });

  it("filters by status, kind and workflow, newest first, paged with a cursor; another tenant sees none; bad filters are 400", async () => {
    const t = await tenantWithKeys();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await start(t.operator, { definition: { id: "asks", steps: [{ id: "confirm", type: "input", questions: [QUESTION] }] } })).body.id);
    const gated = (await start(t.operator, { definition: chain("gated", 1, { approval: { level: 1 } }), input: { n: 1 } })).body.id;
    await eventually(async () => expect((await inbox(t.viewer, "?status=pending")).items).toHaveLength(4));
    expect((await inbox(t.viewer, "?kind=answers")).items.map((i) => i.execution_id).sort()).toEqual([...ids].sort());
    expect((await inbox(t.viewer, "?workflow_id=gated")).items.map((i) => i.execution_id)).toEqual([gated]);
    expect((await inbox(t.viewer, "?status=done")).items).toEqual([]);
    const first = await inbox(t.viewer, "?limit=3");
    expect(first.next_cursor).not.toBeNull();
    const second = await inbox(t.viewer, `?limit=3&cursor=${first.next_cursor}`);
    expect(second.next_cursor).toBeNull();
    const all = [...first.items, ...second.items];
    expect(all).toHaveLength(4);
    expect(all.map((i) => i.requested_at)).toEqual([...all.map((i) => i.requested_at)].sort().reverse());
    const other = await tenantWithKeys();
    expect((await inbox(other.viewer)).items).toEqual([]);
    expectProblem(await call("GET", "/v1/inbox?kind=nope", { key: t.viewer }), 400, "VALIDATION_FAILED");
    expectProblem(await call("GET", "/v1/inbox", { key: null }), 401, "UNAUTHORIZED");
  });
});
