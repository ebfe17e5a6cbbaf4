/**
 * An execution's own budget (SPEC §7): reserved before each call, in the execution's object. Costs
 * are the stand-in's exact ones: prompt "abcd" is 1 token, its reply "Stand-in reply to: abcd" 6;
 * standin-small costs 0.5 / 1.5 USD per million tokens (wrangler.toml PRICES). With max_tokens 100
 * a call reserves (1 × 0.5 + 100 × 1.5) / 1e6 = 0.0001505 USD and costs (1 × 0.5 + 6 × 1.5) / 1e6 =
 * 0.0000095 USD.
 */
import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import { UPSTREAM } from "../helpers/upstream";
import { eventsOf, start, stepsOf, waitForStatus, type ExecutionBody } from "../helpers/executions";

const RESERVE = 0.0001505;
const COST = 0.0000095;

async function callsTo(model: string): Promise<number> {
  const res = await fetch(`${UPSTREAM}/llm/v1/_calls?model=${encodeURIComponent(model)}`);
  return ((await res.json()) as { calls: unknown[] }).calls.length;
}

/** `n` llm steps in a chain, each one call of `model`. */
function chainOf(n: number, model: string, budget?: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id: "budgeted",
    ...(budget ? { budget } : {}),
    steps: Array.from({ length: n }, (_, i) => ({
      id: `s${i + 1}`,
      type: "llm",
      model,
      prompt: "abcd",
      max_tokens: 100,
      ...(i > 0 ? { needs: [`s${i}`] } : {}),
      ...extra,
    })),
  };
}

type WithBudget = ExecutionBody & { budget?: { max_usd: number; on_exceed: string }; cost: { total_usd: number } };

describe("an execution's own budget", () => {
  it("pause: the call that does not fit is not made; the execution waits until an approver raises the budget, then ends", async () => {
    const t = await tenantWithKeys("budget-pause");
    const model = `standin-small:${t.tenant}`;
    await call("PUT", `/v1/prices/${encodeURIComponent(model)}`, { key: t.admin, body: { input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 } });
    // Fits two calls (spent 2 × COST, then RESERVE more), not a third.
    const max = 2 * COST + RESERVE - 1e-9;
    const res = await start(t.operator, { definition: chainOf(3, model, { max_usd: max, on_exceed: "pause" }) });
    const waiting = (await waitForStatus(t.viewer, res.body.id, ["waiting"])) as WithBudget & { waiting_for: Record<string, unknown> };
    expect(await callsTo(model)).toBe(2);
    expect(waiting.waiting_for).toEqual({
      kind: "budget",
      step_id: "s3",
      budget: { id: "execution", max_usd: max, spent_usd: 2 * COST, reserved_usd: 0, needed_usd: RESERVE },
    });
    expect(waiting.budget).toEqual({ max_usd: max, on_exceed: "pause" });
    expect(waiting.cost.total_usd).toBeCloseTo(2 * COST, 12);

    // Only upward, only by an approver or admin.
    expectProblem(await call("POST", `/v1/executions/${res.body.id}/budget`, { key: t.approver, body: { max_usd: max } }), 400, "VALIDATION_FAILED");
    expectProblem(await call("POST", `/v1/executions/${res.body.id}/budget`, { key: t.operator, body: { max_usd: 1 } }), 403, "FORBIDDEN");
    const raised = await call<WithBudget>("POST", `/v1/executions/${res.body.id}/budget`, { key: t.approver, body: { max_usd: 1 } });
    expect(raised.status, raised.text).toBe(200);
    expect(raised.body.budget).toEqual({ max_usd: 1, on_exceed: "pause" });

    const done = (await waitForStatus(t.viewer, res.body.id, ["completed", "failed"])) as WithBudget;
    expect(done.status).toBe("completed");
    expect(await callsTo(model)).toBe(3);
    expect(done.cost.total_usd).toBeCloseTo(3 * COST, 12);
    const types = (await eventsOf(t.viewer, res.body.id)).map((e) => e.type);
    expect(types.filter((x) => x.startsWith("budget."))).toEqual(["budget.exceeded", "budget.raised", "budget.released"]);
    // The paused attempt is in the trace, cancelled with the reason; the next one completed.
    const s3 = (await stepsOf(t.viewer, res.body.id)).find((s) => s.id === "s3")!;
    expect(s3.attempts.map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
      [1, "cancelled", "BUDGET_EXCEEDED"],
      [2, "completed", undefined],
    ]);
    // Every attempt is audited: the refused raise, the denied one, the raise (newest first).
    const audit = await call<{ items: { action: string; target: string; result: string; status: number }[] }>("GET", "/v1/audit?action=execution.budget.raise", { key: t.admin });
    expect(audit.body.items.map((a) => [a.target, a.result, a.status])).toEqual([
      [res.body.id, "success", 200],
      [res.body.id, "denied", 403],
      [res.body.id, "failure", 400],
    ]);
  });

  it("fail: the step fails BUDGET_EXCEEDED without the call, and is not retried", async () => {
    const t = await tenantWithKeys("budget-fail");
    const model = `standin-small:${t.tenant}`;
    await call("PUT", `/v1/prices/${encodeURIComponent(model)}`, { key: t.admin, body: { input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 } });
    const res = await start(t.operator, { definition: chainOf(1, model, { max_usd: RESERVE - 1e-9, on_exceed: "fail" }, { retry: { max_attempts: 3 } }) }, { wait: 10 });
    expect(res.body).toMatchObject({ status: "failed", error: { code: "BUDGET_EXCEEDED", step_id: "s1", attempt: 1 } });
    expect(res.body.error!.details).toMatchObject({ budget: { id: "execution", needed_usd: RESERVE, spent_usd: 0 } });
    expect(await callsTo(model)).toBe(0);
  });

  it("sends budget.warning once, when spending first reaches 80 %", async () => {
    const t = await tenantWithKeys("budget-warn");
    const model = `standin-small:${t.tenant}`;
    await call("PUT", `/v1/prices/${encodeURIComponent(model)}`, { key: t.admin, body: { input_usd_per_mtok: 0.5, output_usd_per_mtok: 1.5 } });
    // With max_tokens 6 a call reserves exactly what it costs (0.0000095 USD): after four calls
    // 0.000038 is spent, under 80 % of 0.00005 (0.00004); the fifth brings it to 0.0000475.
    const definition = chainOf(5, model, { max_usd: 0.00005, on_exceed: "fail" }, { max_tokens: 6 });
    const res = await start(t.operator, { definition }, { wait: 10 });
    expect(res.body.status, JSON.stringify(res.body)).toBe("completed");
    const warnings = (await eventsOf(t.viewer, res.body.id)).filter((e) => e.type === "budget.warning");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.data).toMatchObject({ reason: "threshold", budget: { id: "execution", max_usd: 0.00005 } });
  });

  it("PRICE_UNKNOWN: under a budget, a model without a price is refused without a call", async () => {
    const t = await tenantWithKeys("budget-price");
    const model = `standin-unpriced:${t.tenant}`;
    const res = await start(t.operator, { definition: chainOf(1, model, { max_usd: 1, on_exceed: "pause" }, { retry: { max_attempts: 3 } }) }, { wait: 10 });
    expect(res.body).toMatchObject({ status: "failed", error: { code: "PRICE_UNKNOWN", attempt: 1, details: { model } } });
    expect(await callsTo(model)).toBe(0);
  });

  it("a start may lower the workflow's budget, not raise it; a start alone sets one", async () => {
    const t = await tenantWithKeys("budget-start");
    const definition = chainOf(1, "standin-small", { max_usd: 0.5, on_exceed: "fail" });
    const higher = await start(t.operator, { definition, budget: { max_usd: 0.6 } });
    expect(expectProblem(higher, 400, "VALIDATION_FAILED").errors).toEqual([expect.objectContaining({ path: "/budget/max_usd" })]);
    const listed = await call<{ items: unknown[] }>("GET", "/v1/executions", { key: t.viewer });
    expect(listed.body.items).toEqual([]); // nothing was created
    const lower = await start(t.operator, { definition, budget: { max_usd: 0.25 } }, { wait: 10 });
    expect((lower.body as WithBudget).budget).toEqual({ max_usd: 0.25, on_exceed: "fail" });
    const alone = await start(t.operator, { definition: chainOf(1, "standin-small"), budget: { max_usd: 0.25 } }, { wait: 10 });
    expect((alone.body as WithBudget).budget).toEqual({ max_usd: 0.25, on_exceed: "pause" });
  });

  it("raising: 409 NO_BUDGET without one, 409 once ended, 404 for another tenant's", async () => {
    const t = await tenantWithKeys("budget-raise");
    const plain = await start(t.operator, { definition: { id: "plain", steps: [{ id: "w", type: "wait", seconds: 60 }] } });
    expectProblem(await call("POST", `/v1/executions/${plain.body.id}/budget`, { key: t.approver, body: { max_usd: 1 } }), 409, "NO_BUDGET");
    const ended = await start(t.operator, { definition: chainOf(1, "standin-small", { max_usd: 1, on_exceed: "fail" }) }, { wait: 10 });
    expect(ended.body.status).toBe("completed");
    expectProblem(await call("POST", `/v1/executions/${ended.body.id}/budget`, { key: t.approver, body: { max_usd: 2 } }), 409, "INVALID_STATE");
    const other = await tenantWithKeys("budget-raise-other");
    expectProblem(await call("POST", `/v1/executions/${ended.body.id}/budget`, { key: other.approver, body: { max_usd: 2 } }), 404, "EXECUTION_NOT_FOUND");
  });
});
