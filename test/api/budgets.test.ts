/**
 * Shared budgets over HTTP (SPEC §7): create, read, list, change and delete through the real app,
 * real D1 and the real budget objects; validation, roles, audit, tenant isolation, and the index
 * query an execution's start asks (`applicableBudgetIds`).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { BudgetObject } from "../../src/durable/budget/budget-object";
import { budgetRpc } from "../../src/durable/budget/client";
import { MAX_TENANT_BUDGETS } from "../../src/schemas/budgets";
import { applicableBudgetIds, insertBudget, type BudgetRecord } from "../../src/store/budgets";
import { call, expectProblem, tenantWithKeys, uniqueTenant } from "../helpers/api";

interface Budget {
  id: string;
  scope: "tenant" | "workflow";
  workflow_id: string | null;
  period: "day" | "month";
  max_usd: number;
  on_exceed: "pause" | "fail" | "warn";
  spent_usd: number;
  reserved_usd: number;
  period_start: string;
  created_at: string;
  updated_at: string;
}
interface AuditRow {
  action: string;
  result: string;
  status: number;
  target: string | null;
  detail: Record<string, unknown> | null;
}

const BUDGET_ID = /^bu_[0-9a-f]{32}$/;

async function create(key: string, body: Record<string, unknown>): Promise<Budget> {
  const res = await call<Budget>("POST", "/v1/budgets", { key, body });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

async function listAll(key: string, limit = 100): Promise<Budget[]> {
  const items: Budget[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; text: string; body: { items: Budget[]; next_cursor: string | null } } = await call("GET", `/v1/budgets?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, {
      key,
    });
    expect(res.status, res.text).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.next_cursor;
  } while (cursor);
  return items;
}

async function auditOf(key: string, action: string): Promise<AuditRow[]> {
  const res = await call<{ items: AuditRow[] }>("GET", `/v1/audit?action=${action}&limit=100`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

function utcDayStart(ms: number): string {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())).toISOString();
}


/** A tenant-wide daily budget of 1 USD as the store writes it, with `over` changed. */
function budgetRecord(tenant: string, id: string, over: Partial<BudgetRecord>): BudgetRecord {
  return {
    tenant,
    id,
    scope: "tenant",
    workflowId: null,
    period: "day",
    maxUsd: 1,
    onExceed: "pause",
    createdBy: null,
    createdAt: 1,
    updatedAt: 1,
    deletedAt: null,
    ...over,
  };
}
describe("POST /v1/budgets and GET /v1/budgets/{id}", () => {
  it("creates a tenant budget and a workflow budget, each with nothing spent in its current period", async () => {
    const t = await tenantWithKeys("budgets-create");
    const before = Date.now();
    const tenantWide = await create(t.admin, { scope: "tenant", period: "day", max_usd: 10, on_exceed: "fail" });
    expect(tenantWide).toEqual({
      id: expect.stringMatching(BUDGET_ID),
      scope: "tenant",
      workflow_id: null,
      period: "day",
      max_usd: 10,
      on_exceed: "fail",
      spent_usd: 0,
      reserved_usd: 0,
      period_start: utcDayStart(Date.now()),
      created_at: expect.any(String),
      updated_at: tenantWide.created_at,
    });
    expect(Date.parse(tenantWide.created_at)).toBeGreaterThanOrEqual(before);
    const wf = await create(t.admin, { scope: "workflow", workflow_id: "invoice-review", period: "month", max_usd: 25.5, on_exceed: "pause" });
    expect(wf).toMatchObject({ scope: "workflow", workflow_id: "invoice-review", period: "month", max_usd: 25.5, on_exceed: "pause" });
    expect(wf.period_start).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/);

    for (const role of ["admin", "operator", "approver", "viewer"] as const) {
      const got = await call<Budget>("GET", `/v1/budgets/${wf.id}`, { key: t[role] });
      expect(got.status, got.text).toBe(200);
      expect(got.body).toEqual(wf);
    }
    // Both are in the index, as the object configured them.
    const rows = await env.DB.prepare("SELECT id, scope, workflow_id, period, max_usd, on_exceed, deleted_at FROM budgets WHERE tenant = ?1 ORDER BY created_at")
      .bind(t.tenant)
      .all();
    expect(rows.results).toEqual([
      { id: tenantWide.id, scope: "tenant", workflow_id: null, period: "day", max_usd: 10, on_exceed: "fail", deleted_at: null },
      { id: wf.id, scope: "workflow", workflow_id: "invoice-review", period: "month", max_usd: 25.5, on_exceed: "pause", deleted_at: null },
    ]);
  });

  it("GET reads spent and reserved live from the budget's object", async () => {
    const t = await tenantWithKeys("budgets-live");
    const b = await create(t.admin, { scope: "tenant", period: "day", max_usd: 2, on_exceed: "pause" });
    const now = Date.now();
    const rpc = budgetRpc(env, b.id);
    await rpc.reserve({ reservationId: "r-1", executionId: "ex_live", amountUsd: 0.5, expiresAt: now + 60_000, now });
    await rpc.settle({ reservations: [{ reservationId: "r-0", actualUsd: 0.25 }], now });
    const got = await call<Budget>("GET", `/v1/budgets/${b.id}`, { key: t.viewer });
    expect(got.body).toMatchObject({ spent_usd: 0.25, reserved_usd: 0.5 });
    expect((await listAll(t.viewer)).find((x) => x.id === b.id)).toMatchObject({ spent_usd: 0.25, reserved_usd: 0.5 });
  });

  it("400 for a missing or superfluous workflow_id, out-of-range limits, bad values and unknown fields; nothing written", async () => {
    const t = await tenantWithKeys("budgets-bad");
    const ok = { scope: "tenant", period: "day", max_usd: 1, on_exceed: "warn" };
    const cases: { body: unknown; paths: string[] }[] = [
      { body: { ...ok, scope: "workflow" }, paths: ["/workflow_id"] },
      { body: { ...ok, workflow_id: "invoice-review" }, paths: ["/workflow_id"] },
      { body: { ...ok, scope: "workflow", workflow_id: "Not A Workflow" }, paths: ["/workflow_id"] },
      { body: { ...ok, max_usd: 0 }, paths: ["/max_usd"] },
      { body: { ...ok, max_usd: -1 }, paths: ["/max_usd"] },
      { body: { ...ok, max_usd: 1_000_000.01 }, paths: ["/max_usd"] },
      { body: { ...ok, max_usd: "5" }, paths: ["/max_usd"] },
      { body: { ...ok, period: "week" }, paths: ["/period"] },
      { body: { ...ok, on_exceed: "ignore" }, paths: ["/on_exceed"] },
      { body: { ...ok, scope: "global" }, paths: ["/scope"] },
      { body: { ...ok, currency: "EUR" }, paths: ["/currency"] },
      { body: {}, paths: ["/max_usd", "/on_exceed", "/period", "/scope"] },
    ];
    for (const c of cases) {
      const p = expectProblem(await call("POST", "/v1/budgets", { key: t.admin, body: c.body }), 400, "VALIDATION_FAILED");
      expect(p.errors?.map((e) => e.path).sort(), JSON.stringify(c.body)).toEqual(c.paths);
      expect(p.errors?.every((e) => e.in === "body")).toBe(true);
    }
    expectProblem(await call("POST", "/v1/budgets", { key: t.admin, rawBody: "{ nope" }), 400, "MALFORMED_JSON");
    expect((await create(t.admin, { ...ok, max_usd: 1_000_000 })).max_usd).toBe(1_000_000);
    const n = await env.DB.prepare("SELECT COUNT(*) AS n FROM budgets WHERE tenant = ?1").bind(t.tenant).first<number>("n");
    expect(n).toBe(1);
    expect((await auditOf(t.admin, "budget.create")).map((a) => [a.result, a.status])).toEqual([
      ["success", 201],
      ...Array.from({ length: cases.length + 1 }, () => ["failure", 400]),
    ]);
  });

  it("404 for an unknown id, a malformed one, and another tenant's budget; 400 for an over-long id", async () => {
    const a = await tenantWithKeys("budgets-iso-a");
    const b = await tenantWithKeys("budgets-iso-b");
    const mine = await create(a.admin, { scope: "tenant", period: "day", max_usd: 3, on_exceed: "fail" });
    for (const id of ["bu_00000000000000000000000000000000", "nope", mine.id]) {
      expectProblem(await call("GET", `/v1/budgets/${id}`, { key: b.admin }), 404, "BUDGET_NOT_FOUND");
      expectProblem(await call("PATCH", `/v1/budgets/${id}`, { key: b.admin, body: { max_usd: 100 } }), 404, "BUDGET_NOT_FOUND");
      expectProblem(await call("DELETE", `/v1/budgets/${id}`, { key: b.admin }), 404, "BUDGET_NOT_FOUND");
    }
    expectProblem(await call("GET", `/v1/budgets/${"x".repeat(65)}`, { key: a.admin }), 400, "VALIDATION_FAILED");
    expect(await listAll(b.viewer)).toEqual([]);
    // Untouched by the other tenant's attempts.
    expect((await call<Budget>("GET", `/v1/budgets/${mine.id}`, { key: a.viewer })).body).toEqual(mine);
  });
});

describe("GET /v1/budgets", () => {
  it("pages the tenant's live budgets, newest first", async () => {
    const t = await tenantWithKeys("budgets-list");
    const made: Budget[] = [];
    for (let i = 1; i <= 5; i++) made.push(await create(t.admin, { scope: "workflow", workflow_id: `wf-${i}`, period: "day", max_usd: i, on_exceed: "warn" }));
    const first = await call<{ items: Budget[]; next_cursor: string | null }>("GET", "/v1/budgets?limit=2", { key: t.viewer });
    expect(first.status, first.text).toBe(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const all = await listAll(t.viewer, 2);
    expect(all.map((b) => b.id)).toEqual(made.map((b) => b.id).reverse());
    expect(all[0]).toEqual(made[4]);
    expectProblem(await call("GET", "/v1/budgets?cursor=not-a-cursor", { key: t.viewer }), 400, "VALIDATION_FAILED");
    expectProblem(await call("GET", "/v1/budgets?limit=101", { key: t.viewer }), 400, "VALIDATION_FAILED");
  });
});

describe("PATCH /v1/budgets/{id}", () => {
  it("changes the limit (object and index), audits previous and new, and wakes every execution waiting on it", async () => {
    const t = await tenantWithKeys("budgets-patch");
    const b = await create(t.admin, { scope: "tenant", period: "month", max_usd: 1, on_exceed: "pause" });
    const now = Date.now();
    const refused = await budgetRpc(env, b.id).reserve({ reservationId: "big", executionId: "ex_waiting_on_patch", amountUsd: 5, expiresAt: now + 60_000, now });
    expect(refused.ok).toBe(false);
    const waiters = () => runInDurableObject(env.BUDGETS.getByName(b.id), (o) => (o as unknown as BudgetObject).ledger.waiters.list());
    expect(await waiters()).toEqual([{ executionId: "ex_waiting_on_patch", notify: false }]);

    const res = await call<Budget>("PATCH", `/v1/budgets/${b.id}`, { key: t.admin, body: { max_usd: 6 } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ id: b.id, max_usd: 6, created_at: b.created_at });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(b.updated_at));
    // The waiter was told (its execution's budgetChanged answered) and is gone.
    expect(await waiters()).toEqual([]);
    expect(await env.DB.prepare("SELECT max_usd FROM budgets WHERE id = ?1").bind(b.id).first<number>("max_usd")).toBe(6);
    expect((await call<Budget>("GET", `/v1/budgets/${b.id}`, { key: t.viewer })).body.max_usd).toBe(6);

    for (const body of [{ max_usd: 0 }, { max_usd: 2_000_000 }, {}, { max_usd: 2, period: "day" }]) {
      expectProblem(await call("PATCH", `/v1/budgets/${b.id}`, { key: t.admin, body }), 400, "VALIDATION_FAILED");
    }
    expect((await call<Budget>("GET", `/v1/budgets/${b.id}`, { key: t.viewer })).body.max_usd).toBe(6);
    const audit = await auditOf(t.admin, "budget.update");
    expect(audit.filter((a) => a.result === "success")).toEqual([
      expect.objectContaining({ target: b.id, status: 200, detail: { previous_max_usd: 1, max_usd: 6 } }),
    ]);
  });
});

describe("DELETE /v1/budgets/{id}", () => {
  it("deletes: gone from reads and listings, no longer applies or limits, audited; a second DELETE is 404", async () => {
    const t = await tenantWithKeys("budgets-delete");
    const keep = await create(t.admin, { scope: "tenant", period: "day", max_usd: 1, on_exceed: "fail" });
    const gone = await create(t.admin, { scope: "workflow", workflow_id: "wf-x", period: "day", max_usd: 1, on_exceed: "fail" });
    const res = await call("DELETE", `/v1/budgets/${gone.id}`, { key: t.admin });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");
    expectProblem(await call("GET", `/v1/budgets/${gone.id}`, { key: t.viewer }), 404, "BUDGET_NOT_FOUND");
    expectProblem(await call("DELETE", `/v1/budgets/${gone.id}`, { key: t.admin }), 404, "BUDGET_NOT_FOUND");
    expect((await listAll(t.viewer)).map((b) => b.id)).toEqual([keep.id]);
    expect(await applicableBudgetIds(env.DB, t.tenant, "wf-x")).toEqual([keep.id]);
    const now = Date.now();
    expect(await budgetRpc(env, gone.id).reserve({ reservationId: "r", executionId: "ex_x", amountUsd: 50, expiresAt: now + 1000, now })).toEqual({
      ok: true,
      state: null,
      over: false,
    });
    expect((await auditOf(t.admin, "budget.delete")).map((a) => [a.result, a.status, a.target])).toEqual([
      ["failure", 404, gone.id],
      ["success", 204, gone.id],
    ]);
  });

  it("a DELETE that stopped after the object finishes when sent again", async () => {
    const t = await tenantWithKeys("budgets-half");
    const b = await create(t.admin, { scope: "tenant", period: "day", max_usd: 1, on_exceed: "fail" });
    expect(await budgetRpc(env, b.id).remove(t.tenant)).toBe(true); // the object is deleted, the index not yet
    expect(await listAll(t.viewer)).toEqual([]);
    expectProblem(await call("GET", `/v1/budgets/${b.id}`, { key: t.viewer }), 404, "BUDGET_NOT_FOUND");
    expect((await call("DELETE", `/v1/budgets/${b.id}`, { key: t.admin })).status).toBe(204);
    expect(await env.DB.prepare("SELECT deleted_at FROM budgets WHERE id = ?1").bind(b.id).first<number>("deleted_at")).toEqual(expect.any(Number));
  });
});

describe("roles", () => {
  it("every role reads; only admins write (403, nothing written, audited as denied); no key is 401", async () => {
    const t = await tenantWithKeys("budgets-roles");
    const b = await create(t.admin, { scope: "tenant", period: "day", max_usd: 1, on_exceed: "warn" });
    for (const role of ["operator", "approver", "viewer"] as const) {
      expect((await call("GET", "/v1/budgets", { key: t[role] })).status).toBe(200);
      expectProblem(await call("POST", "/v1/budgets", { key: t[role], body: { scope: "tenant", period: "day", max_usd: 1, on_exceed: "warn" } }), 403, "FORBIDDEN");
      expectProblem(await call("PATCH", `/v1/budgets/${b.id}`, { key: t[role], body: { max_usd: 9 } }), 403, "FORBIDDEN");
      expectProblem(await call("DELETE", `/v1/budgets/${b.id}`, { key: t[role] }), 403, "FORBIDDEN");
    }
    expectProblem(await call("GET", "/v1/budgets", { key: null }), 401, "UNAUTHORIZED");
    expectProblem(await call("GET", `/v1/budgets/${b.id}`, { key: null }), 401, "UNAUTHORIZED");
    expect((await listAll(t.viewer)).map((x) => [x.id, x.max_usd])).toEqual([[b.id, 1]]);
    expect((await auditOf(t.admin, "budget.update")).map((a) => [a.result, a.status, a.target])).toEqual(
      Array.from({ length: 3 }, () => ["denied", 403, b.id]),
    );
    expect((await auditOf(t.admin, "budget.delete")).map((a) => a.result)).toEqual(["denied", "denied", "denied"]);
    const created = await auditOf(t.admin, "budget.create");
    expect(created.map((a) => a.result)).toEqual(["denied", "denied", "denied", "success"]);
    expect(created[3]).toMatchObject({
      target: b.id,
      status: 201,
      detail: { scope: "tenant", workflow_id: null, period: "day", max_usd: 1, on_exceed: "warn" },
    });
  });
});

describe("the tenant's limit", () => {
  it(`409 BUDGET_LIMIT_REACHED past ${MAX_TENANT_BUDGETS} live budgets; the refused budget's object is left deleted`, async () => {
    const t = await tenantWithKeys("budgets-cap");
    const insert = env.DB.prepare(
      "INSERT INTO budgets (tenant, id, scope, period, max_usd, on_exceed, created_at, updated_at) VALUES (?1, ?2, 'tenant', 'day', 1, 'warn', 0, 0)",
    );
    await env.DB.batch(Array.from({ length: MAX_TENANT_BUDGETS }, (_, i) => insert.bind(t.tenant, `bu_bulk_${i}`)));
    const p = expectProblem(
      await call("POST", "/v1/budgets", { key: t.admin, body: { scope: "tenant", period: "day", max_usd: 1, on_exceed: "warn" } }),
      409,
      "BUDGET_LIMIT_REACHED",
    );
    expect(p.detail).toContain(String(MAX_TENANT_BUDGETS));
    const [refused] = await auditOf(t.admin, "budget.create");
    expect(refused).toMatchObject({ result: "failure", status: 409, target: expect.stringMatching(BUDGET_ID) });
    expect(await budgetRpc(env, refused!.target!).state(t.tenant, Date.now())).toBeNull();
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM budgets WHERE tenant = ?1").bind(t.tenant).first<number>("n")).toBe(MAX_TENANT_BUDGETS);
    // A deleted budget does not count.
    await env.DB.prepare("UPDATE budgets SET deleted_at = 1 WHERE tenant = ?1 AND id = 'bu_bulk_0'").bind(t.tenant).run();
    expect((await call("POST", "/v1/budgets", { key: t.admin, body: { scope: "tenant", period: "day", max_usd: 1, on_exceed: "warn" } })).status).toBe(201);
  });
});

describe("applicableBudgetIds", () => {
  it("the tenant's tenant-wide budgets and those of the workflow, oldest first; never deleted ones or another tenant's", async () => {
    const tenant = uniqueTenant("budgets-apply");
    const other = uniqueTenant("budgets-apply-other");
    const record = (id: string, over: Partial<BudgetRecord>) => budgetRecord(tenant, id, { onExceed: "pause", createdAt: 1_000, updatedAt: 1_000, ...over });
    const rows = [
      record("bu_t1", { createdAt: 1 }),
      record("bu_wa", { scope: "workflow", workflowId: "wf-a", createdAt: 2 }),
      record("bu_wb", { scope: "workflow", workflowId: "wf-b", createdAt: 3 }),
      record("bu_t2", { createdAt: 4, period: "month" }),
      record("bu_gone", { createdAt: 5 }),
      record("bu_other", { tenant: other, createdAt: 6 }),
    ];
    for (const r of rows) expect(await insertBudget(env.DB, r)).toBe(true);
    await env.DB.prepare("UPDATE budgets SET deleted_at = 9 WHERE tenant = ?1 AND id = 'bu_gone'").bind(tenant).run();
    expect(await applicableBudgetIds(env.DB, tenant, "wf-a")).toEqual(["bu_t1", "bu_wa", "bu_t2"]);
    expect(await applicableBudgetIds(env.DB, tenant, "wf-b")).toEqual(["bu_t1", "bu_wb", "bu_t2"]);
    expect(await applicableBudgetIds(env.DB, tenant, "wf-none")).toEqual(["bu_t1", "bu_t2"]);
    expect(await applicableBudgetIds(env.DB, other, "wf-a")).toEqual(["bu_other"]);
    expect(await applicableBudgetIds(env.DB, uniqueTenant("nobody"), "wf-a")).toEqual([]);
  });

  it("insertBudget refuses past its limit (the check is inside the write)", async () => {
    const tenant = uniqueTenant("budgets-insert-cap");
    const r = (id: string) => budgetRecord(tenant, id, { onExceed: "fail", createdAt: 1, updatedAt: 1 });
    expect(await insertBudget(env.DB, r("bu_1"), 2)).toBe(true);
    expect(await insertBudget(env.DB, r("bu_2"), 2)).toBe(true);
    expect(await insertBudget(env.DB, r("bu_3"), 2)).toBe(false);
    expect(await applicableBudgetIds(env.DB, tenant, "any")).toEqual(["bu_1", "bu_2"]);
  });
});
