import { describe, expect, it } from "vitest";
import { call, createKey, expectProblem, tenantWithKeys } from "../helpers/api";

interface Entry {
  id: string;
  time: string;
  tenant: string | null;
  actor: string | null;
  action: string;
  target: string | null;
  result: "success" | "failure" | "denied";
  status: number;
  request_id: string;
  detail: Record<string, unknown> | null;
}
interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

async function auditOf(key: string, query = ""): Promise<Entry[]> {
  const res = await call<Page<Entry>>("GET", `/v1/audit${query}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

describe("GET /v1/audit", () => {
  it("records key changes, writes and denied attempts with actor, tenant, target, result and request id", async () => {
    const t = await tenantWithKeys("audit");
    // The platform admin made this tenant's four keys: the tenant's own log shows who did it.
    const made = await auditOf(t.admin, "?action=api_key.create");
    expect(made.map((e) => [e.actor, e.tenant, e.result])).toEqual(Array.from({ length: 4 }, () => ["bootstrap", t.tenant, "success"]));

    const created = await call<{ id: string }>("POST", "/v1/api-keys", {
      key: t.admin,
      body: { name: "temp", role: "viewer" },
      headers: { "x-request-id": "audit-test-create-1" },
    });
    expect(created.status).toBe(201);
    await call("DELETE", `/v1/api-keys/${created.body.id}`, { key: t.admin });
    const denied = await call("POST", "/v1/api-keys", { key: t.viewer, body: { name: "nope", role: "admin" } });
    expect(denied.status).toBe(403);
    const failed = await call("POST", "/v1/api-keys", { key: t.admin, body: { name: "", role: "admin" } });
    expect(failed.status).toBe(400);
    // A denied read is audited too; a successful read is not.
    expect((await call("GET", "/v1/audit", { key: t.operator })).status).toBe(403);

    const entries = await auditOf(t.admin);
    const ours = entries.filter((e) => e.action !== "api_key.create" || e.actor !== "bootstrap");
    expect(ours.map((e) => [e.action, e.result, e.status])).toEqual([
      ["audit.read", "denied", 403],
      ["api_key.create", "failure", 400],
      ["api_key.create", "denied", 403],
      ["api_key.revoke", "success", 200],
      ["api_key.create", "success", 201],
    ]);
    const create = ours[4]!;
    expect(create).toMatchObject({ tenant: t.tenant, target: created.body.id, request_id: "audit-test-create-1", detail: { name: "temp", role: "viewer", tenant: t.tenant } });
    expect(ours[3]!.target).toBe(created.body.id);
    expect(JSON.stringify(entries)).not.toMatch(/stp_[A-Za-z0-9_-]{20,}/); // no secret ever reaches the log
  });

  it("filters by actor, action and result, and pages with a cursor", async () => {
    const t = await tenantWithKeys("auditfilter");
    const viewer = await createKey(t.tenant, "viewer", "denied-viewer");
    for (let i = 0; i < 3; i++) await call("POST", "/v1/api-keys", { key: viewer.key, body: { name: `x${i}`, role: "admin" } });
    const byActor = await auditOf(t.admin, `?actor=${viewer.id}`);
    expect(byActor).toHaveLength(3);
    expect(byActor.every((e) => e.result === "denied" && e.actor === viewer.id)).toBe(true);
    expect(await auditOf(t.admin, `?actor=${viewer.id}&result=success`)).toHaveLength(0);

    const first = await call<Page<Entry>>("GET", `/v1/audit?actor=${viewer.id}&limit=2`, { key: t.admin });
    expect(first.body.items).toHaveLength(2);
    expect(first.body.next_cursor).not.toBeNull();
    const second = await call<Page<Entry>>("GET", `/v1/audit?actor=${viewer.id}&limit=2&cursor=${first.body.next_cursor}`, { key: t.admin });
    expect(second.body.items).toHaveLength(1);
    expect(second.body.next_cursor).toBeNull();
    expect([...first.body.items, ...second.body.items].map((e) => e.id)).toEqual(byActor.map((e) => e.id));

    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(await auditOf(t.admin, `?from=${encodeURIComponent(future)}`)).toHaveLength(0);
  });

  it("is scoped to the tenant: other tenants' entries never show", async () => {
    const a = await tenantWithKeys("audita");
    const b = await tenantWithKeys("auditb");
    await call("POST", "/v1/api-keys", { key: b.viewer, body: { name: "x", role: "admin" } });
    const seenByA = await auditOf(a.admin);
    expect(seenByA.every((e) => e.tenant === a.tenant)).toBe(true);
    expectProblem(await call("GET", `/v1/audit?tenant=${b.tenant}`, { key: a.admin }), 403, "FORBIDDEN");
    // The platform admin may look at any tenant.
    const platform = await auditOf((await import("../helpers/api")).ADMIN_KEY, `?tenant=${b.tenant}&result=denied`);
    expect(platform.map((e) => e.tenant)).toEqual([b.tenant]);
  });

  it("records unidentified callers for the platform admin", async () => {
    const res = await call("POST", "/v1/api-keys", { key: "stp_forged-key-for-audit", body: { name: "x", role: "admin" }, headers: { "x-request-id": "forged-attempt-0001" } });
    expect(res.status).toBe(401);
    const rows = await auditOf((await import("../helpers/api")).ADMIN_KEY, "?result=denied&action=api_key.create&limit=100");
    const row = rows.find((e) => e.request_id === "forged-attempt-0001");
    expect(row).toMatchObject({ tenant: null, actor: null, status: 401, result: "denied" });
  });

  it("403 for non-admin roles, 401 without a key", async () => {
    const t = await tenantWithKeys("auditroles");
    for (const role of ["operator", "approver", "viewer"] as const) expectProblem(await call("GET", "/v1/audit", { key: t[role] }), 403, "FORBIDDEN");
    expectProblem(await call("GET", "/v1/audit", { key: null }), 401, "UNAUTHORIZED");
  });
});
