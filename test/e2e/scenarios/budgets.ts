/**
 * Shared budgets over real HTTP: create, read, list, change and delete a tenant's budgets, with the
 * budget objects in isolates of their own (every value crosses RPC by structured clone), and the
 * refusals each operation answers.
 */
import { describe, expect, it } from "vitest";
import { call, uniqueId } from "../helpers/client";

interface Budget {
  id: string;
  scope: string;
  workflow_id: string | null;
  period: string;
  max_usd: number;
  on_exceed: string;
  spent_usd: number;
  reserved_usd: number;
  period_start: string;
  created_at: string;
  updated_at: string;
}

describe("budgets", () => {
  it("creates, reads, lists, changes and deletes a tenant's budgets; refusals change nothing", async () => {
    // A tenant of its own, so no other scenario's executions fall under these budgets.
    const tenant = uniqueId("budgets");
    const admin = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: "budgets-admin", role: "admin", tenant } });
    expect(admin.status, admin.text).toBe(201);
    const viewer = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: "budgets-viewer", role: "viewer", tenant } });
    expect(viewer.status, viewer.text).toBe(201);
    const key = admin.body.key;

    const created = await call<Budget>("POST", "/v1/budgets", {
      key,
      body: { scope: "workflow", workflow_id: "invoice-review", period: "month", max_usd: 25, on_exceed: "pause" },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ scope: "workflow", workflow_id: "invoice-review", period: "month", max_usd: 25, spent_usd: 0, reserved_usd: 0 });
    expect(created.body.id).toMatch(/^bu_[0-9a-f]{32}$/);
    const tenantWide = await call<Budget>("POST", "/v1/budgets", { key, body: { scope: "tenant", period: "day", max_usd: 5, on_exceed: "warn" } });
    expect(tenantWide.status, tenantWide.text).toBe(201);
    expect(tenantWide.body.workflow_id).toBeNull();

    const path = `/v1/budgets/${created.body.id}`;
    const got = await call<Budget>("GET", path, { key: viewer.body.key });
    expect(got.status, got.text).toBe(200);
    expect(got.body).toEqual(created.body);
    const listed = await call<{ items: Budget[]; next_cursor: string | null }>("GET", "/v1/budgets?limit=1", { key: viewer.body.key });
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.items.map((b) => b.id)).toEqual([tenantWide.body.id]);
    expect(listed.body.next_cursor).not.toBeNull();

    const patched = await call<Budget>("PATCH", path, { key, body: { max_usd: 40 } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.max_usd).toBe(40);

    // Refused: each answers its problem and changes nothing.
    expect((await call("POST", "/v1/budgets", { key, body: { scope: "workflow", period: "day", max_usd: 1, on_exceed: "fail" } })).status).toBe(400);
    expect((await call("POST", "/v1/budgets", { key: viewer.body.key, body: { scope: "tenant", period: "day", max_usd: 1, on_exceed: "fail" } })).status).toBe(403);
    expect((await call("GET", "/v1/budgets", { key: null })).status).toBe(401);
    expect((await call("PATCH", path, { key, body: { max_usd: 0 } })).status).toBe(400);
    expect((await call("PATCH", path, { key: viewer.body.key, body: { max_usd: 1 } })).status).toBe(403);
    expect((await call("GET", "/v1/budgets/bu_00000000000000000000000000000000", { key })).status).toBe(404);
    // The platform tenant does not see this tenant's budget.
    expect((await call("GET", path)).status).toBe(404);
    expect((await call<Budget>("GET", path, { key })).body.max_usd).toBe(40);

    expect((await call("DELETE", path, { key })).status).toBe(204);
    expect((await call("DELETE", path, { key })).status).toBe(404);
    expect((await call("GET", path, { key })).status).toBe(404);
    expect((await call("PATCH", path, { key, body: { max_usd: 50 } })).status).toBe(404);
    const after = await call<{ items: Budget[] }>("GET", "/v1/budgets", { key });
    expect(after.body.items.map((b) => b.id)).toEqual([tenantWide.body.id]);

    const audit = await call<{ items: { action: string; result: string; target: string | null }[] }>("GET", "/v1/audit?limit=100", { key });
    expect(audit.status).toBe(200);
    const mine = audit.body.items.filter((a) => a.target === created.body.id).map((a) => `${a.action}:${a.result}`);
    expect(mine).toEqual([
      "budget.update:failure",
      "budget.delete:failure",
      "budget.delete:success",
      "budget.update:denied",
      "budget.update:failure",
      "budget.update:success",
      "budget.create:success",
    ]);
  });
});
