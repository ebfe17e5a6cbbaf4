/**
 * Shared budgets (tenant or workflow, per day or month) hold under concurrency: every execution
 * reserves a call's maximum in the budget's one Durable Object before it calls, so concurrent
 * executions never overshoot. Here a call reserves exactly what it costs: prompt "abcd" (1 token)
 * and max_tokens 3 (the stand-in cuts the reply to 3 tokens) at 0.5 / 1.5 USD per million tokens:
 * (1 × 0.5 + 3 × 1.5) / 1e6 = 0.000005 USD.
 */
import { describe, expect, it } from "vitest";
import { call, tenantWithKeys } from "../helpers/api";
import { UPSTREAM } from "../helpers/upstream";
import { eventsOf, start, waitForStatus, type ExecutionBody } from "../helpers/executions";
import { inObject } from "../helpers/objects";

const CALL = 0.000005;

async function callsTo(model: string): Promise<number> {
  const res = await fetch(`${UPSTREAM}/llm/v1/_calls?model=${encodeURIComponent(model)}`);
  return ((await res.json()) as { calls: unknown[] }).calls.length;
}

interface Budget {
  id: string;
  max_usd: number;
  spent_usd: number;
  reserved_usd: number;
}

async function pricedModel(t: { tenant: string; admin: string }): Promise<string> {
  const model = `standin-small:${t.tenant}`;
  const put = await call("PUT", `/v1/prices/${encodeURIComponent(model)}`, { key: t.admin, body: { input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 } });
  expect(put.status, put.text).toBe(200);
  return model;
}

async function createBudget(key: string, body: Record<string, unknown>): Promise<Budget> {
  const res = await call<Budget>("POST", "/v1/budgets", { key, body: { scope: "tenant", period: "day", ...body } });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

const oneCall = (model: string) => ({ id: "one-call", steps: [{ id: "ask", type: "llm", model, prompt: "abcd", max_tokens: 3 }] });

describe("a shared budget", () => {
  it("20 executions at once against a budget that fits exactly 5 calls: 5 calls are made, 15 pause, a raise lets them end", async () => {
    const t = await tenantWithKeys("shared-20");
    const model = await pricedModel(t);
    const budget = await createBudget(t.admin, { max_usd: 5 * CALL, on_exceed: "pause" });
    const started = await Promise.all(Array.from({ length: 20 }, () => start(t.operator, { definition: oneCall(model) })));
    expect(started.map((r) => r.status)).toEqual(Array(20).fill(202));
    const ids = started.map((r) => r.body.id);
    const settled = await Promise.all(ids.map((id) => waitForStatus(t.viewer, id, ["completed", "waiting"])));
    expect(settled.filter((e) => e.status === "completed")).toHaveLength(5);
    const waiting = settled.filter((e) => e.status === "waiting") as (ExecutionBody & { waiting_for: { kind: string; budget: { id: string } } })[];
    expect(waiting).toHaveLength(15);
    for (const e of waiting) expect(e.waiting_for).toMatchObject({ kind: "budget", step_id: "ask", budget: { id: budget.id, max_usd: 5 * CALL, needed_usd: CALL } });
    expect(await callsTo(model)).toBe(5);
    const state = (await call<Budget>("GET", `/v1/budgets/${budget.id}`, { key: t.viewer })).body;
    expect(state.spent_usd).toBeCloseTo(5 * CALL, 12);
    expect(state.spent_usd + state.reserved_usd).toBeLessThanOrEqual(state.max_usd);

    const raised = await call<Budget>("PATCH", `/v1/budgets/${budget.id}`, { key: t.admin, body: { max_usd: 20 * CALL } });
    expect(raised.status, raised.text).toBe(200);
    const done = await Promise.all(ids.map((id) => waitForStatus(t.viewer, id, ["completed", "failed"])));
    expect(done.map((e) => e.status)).toEqual(Array(20).fill("completed"));
    expect(await callsTo(model)).toBe(20);
    const after = (await call<Budget>("GET", `/v1/budgets/${budget.id}`, { key: t.viewer })).body;
    expect(after.spent_usd).toBeCloseTo(20 * CALL, 12);
    expect(after.reserved_usd).toBe(0);
    const types = (await eventsOf(t.viewer, waiting[0]!.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(["budget.exceeded", "budget.released"]));
  }, 60_000);

  it("fail: a call that does not fit fails its step BUDGET_EXCEEDED, and nothing is reserved", async () => {
    const t = await tenantWithKeys("shared-fail");
    const model = await pricedModel(t);
    const budget = await createBudget(t.admin, { max_usd: CALL / 2, on_exceed: "fail" });
    const res = await start(t.operator, { definition: oneCall(model) }, { wait: 10 });
    expect(res.body).toMatchObject({ status: "failed", error: { code: "BUDGET_EXCEEDED", details: { budget: { id: budget.id } } } });
    expect(await callsTo(model)).toBe(0);
    const state = (await call<Budget>("GET", `/v1/budgets/${budget.id}`, { key: t.viewer })).body;
    expect([state.spent_usd, state.reserved_usd]).toEqual([0, 0]);
  });

  it("warn: the call goes ahead with budget.warning; the 80 % warning is sent once", async () => {
    const t = await tenantWithKeys("shared-warn");
    const model = await pricedModel(t);
    const budget = await createBudget(t.admin, { max_usd: 2 * CALL, on_exceed: "warn" });
    const events: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await start(t.operator, { definition: oneCall(model) }, { wait: 10 });
      expect(res.body.status).toBe("completed");
      for (const e of await eventsOf(t.viewer, res.body.id)) if (e.type === "budget.warning") events.push(String(e.data.reason));
    }
    expect(await callsTo(model)).toBe(3);
    // Round trips to the budget: one reserve, and the settle when the execution ends (its own budget has none).
    const last = (await call<{ items: { id: string }[] }>("GET", "/v1/executions", { key: t.viewer })).body.items[0]!.id;
    expect(await inObject(last, (o) => o.runtime.billedRows().budget_calls)).toBe(2);
    // The second call reaches 100 % (the 80 % line, once); the third goes over.
    expect(events).toEqual(["threshold", "exceeded"]);
    const state = (await call<Budget>("GET", `/v1/budgets/${budget.id}`, { key: t.viewer })).body;
    expect(state.spent_usd).toBeCloseTo(3 * CALL, 12);
  });

  it("one round trip per call: each call's settle rides on the next reservation, one settle at the end", async () => {
    const t = await tenantWithKeys("shared-trips");
    const model = await pricedModel(t);
    const budget = await createBudget(t.admin, { max_usd: 1, on_exceed: "fail" });
    const steps = [1, 2, 3, 4, 5].map((i) => ({ id: `s${i}`, type: "llm", model, prompt: "abcd", max_tokens: 3, ...(i > 1 ? { needs: [`s${i - 1}`] } : {}) }));
    const res = await start(t.operator, { definition: { id: "five-calls", steps } }, { wait: 10 });
    expect(res.body.status).toBe("completed");
    expect(await inObject(res.body.id, (o) => o.runtime.billedRows().budget_calls)).toBe(6); // 5 reserves + 1 settle
    const state = (await call<Budget>("GET", `/v1/budgets/${budget.id}`, { key: t.viewer })).body;
    expect(state.spent_usd).toBeCloseTo(5 * CALL, 12);
    expect(state.reserved_usd).toBe(0);
  });

  it("a workflow budget applies to its workflow only", async () => {
    const t = await tenantWithKeys("shared-wf");
    const model = await pricedModel(t);
    await createBudget(t.admin, { scope: "workflow", workflow_id: "one-call", max_usd: CALL / 2, on_exceed: "fail" });
    const limited = await start(t.operator, { definition: oneCall(model) }, { wait: 10 });
    expect(limited.body).toMatchObject({ status: "failed", error: { code: "BUDGET_EXCEEDED" } });
    const other = await start(t.operator, { definition: { ...oneCall(model), id: "other" } }, { wait: 10 });
    expect(other.body.status).toBe("completed");
  });
});
