/**
 * What the start path keeps per isolate must not change what a start does: a registered version is
 * kept (it never changes), but which version is the latest, whether the workflow is archived and
 * which budgets apply are read on every start; a key revoked here is refused at once.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ExecutionObject } from "../../src/durable/execution/execution-object";
import { describe, expect, it } from "vitest";
import { call, createKey, expectProblem, tenantWithKeys, uniqueTenant } from "../helpers/api";
import { chain, register, start, waitForStatus } from "../helpers/executions";

describe("the start path's per-isolate caches", () => {
  it("a start after a new version runs the new one; a pinned old version still runs; an archived workflow is refused", async () => {
    const t = await tenantWithKeys("spver");
    await register(t.operator, chain("flow", 2));
    const first = await start(t.operator, { workflow_id: "flow", input: { n: 1 } });
    expect(first.body).toMatchObject({ workflow_version: 1 });
    expect((await waitForStatus(t.viewer, first.body.id, ["completed"])).output).toBe(2);

    await register(t.operator, chain("flow", 3));
    const second = await start(t.operator, { workflow_id: "flow", input: { n: 1 } });
    expect(second.body).toMatchObject({ workflow_version: 2 });
    expect((await waitForStatus(t.viewer, second.body.id, ["completed"])).output).toBe(3);
    const pinned = await start(t.operator, { workflow_id: "flow", version: 1, input: { n: 1 } });
    expect(pinned.body).toMatchObject({ workflow_version: 1 });
    expect((await waitForStatus(t.viewer, pinned.body.id, ["completed"])).output).toBe(2);

    expect((await call("DELETE", "/v1/workflows/flow", { key: t.operator })).status).toBe(200);
    expectProblem(await start(t.operator, { workflow_id: "flow", input: { n: 1 } }), 409, "WORKFLOW_ARCHIVED");
    expectProblem(await start(t.operator, { workflow_id: "flow", version: 1, input: { n: 1 } }), 409, "WORKFLOW_ARCHIVED");
  });

  it("a budget created after a start applies to the next start of the same version", async () => {
    const t = await tenantWithKeys("spbudget");
    await register(t.operator, chain("flow", 1));
    const before = await start(t.operator, { workflow_id: "flow", input: { n: 1 } });
    expect(before.status).toBe(202);
    const budget = await call<{ id: string }>("POST", "/v1/budgets", { key: t.admin, body: { scope: "tenant", period: "day", max_usd: 5, on_exceed: "pause" } });
    expect(budget.status, budget.text).toBe(201);
    const after = await start(t.operator, { workflow_id: "flow", input: { n: 1 } });
    const budgetIdsOf = (id: string) =>
      runInDurableObject(env.EXECUTIONS.getByName(id), (instance: ExecutionObject) => instance.runtime.load()?.execution.budgetIds);
    expect(await budgetIdsOf(before.body.id)).toEqual([]);
    expect(await budgetIdsOf(after.body.id)).toEqual([budget.body.id]);
  });

  it("a key revoked through this isolate is refused on its next request, though it was just authenticated", async () => {
    const tenant = uniqueTenant("sprevoke");
    const admin = await createKey(tenant, "admin");
    const operator = await createKey(tenant, "operator");
    expect((await call("GET", "/v1/workflows", { key: operator.key })).status).toBe(200);
    expect((await call("DELETE", `/v1/api-keys/${operator.id}`, { key: admin.key })).status).toBe(200);
    expectProblem(await call("GET", "/v1/workflows", { key: operator.key }), 401, "UNAUTHORIZED");
  });
});
