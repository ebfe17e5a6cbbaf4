import { describe, expect, it } from "vitest";
import { call, createKey, expectProblem, tenantWithKeys, uniqueTenant } from "../helpers/api";

interface KeyBody {
  id: string;
  key?: string;
  name: string;
  role: string;
  tenant: string;
  key_prefix: string;
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}
interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

describe("POST /v1/api-keys", () => {
  it("creates a key in a new tenant and shows its secret once", async () => {
    const tenant = uniqueTenant("keys");
    const res = await call<KeyBody>("POST", "/v1/api-keys", { body: { name: "deployer", role: "operator", tenant } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "deployer", role: "operator", tenant, created_by: "bootstrap", revoked_at: null, last_used_at: null });
    expect(res.body.id).toMatch(/^key_[A-Za-z0-9_-]{16}$/);
    expect(res.body.key).toMatch(/^stp_[A-Za-z0-9_-]{43}$/);
    expect(res.body.key!.startsWith(res.body.key_prefix)).toBe(true);
    expect(Date.parse(res.body.created_at)).toBeGreaterThan(Date.now() - 60_000);

    // The new key works, in its own tenant, with its role.
    const mine = await call<Page<KeyBody>>("GET", "/v1/workflows", { key: res.body.key! });
    expect(mine.status).toBe(200);

    // Listing never shows a secret.
    const list = await call<Page<KeyBody>>("GET", `/v1/api-keys?tenant=${tenant}`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).not.toHaveProperty("key");
    expect(list.text).not.toContain(res.body.key!);
  });

  it("stores only a digest of the secret", async () => {
    const tenant = uniqueTenant("digest");
    const { key, id } = await createKey(tenant, "viewer");
    const { env } = await import("cloudflare:workers");
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?1").bind(id).first<Record<string, unknown>>();
    expect(row).not.toBeNull();
    expect(JSON.stringify(row)).not.toContain(key);
    const expected = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key))))
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    expect(row!.key_hash).toBe(expected);
  });

  it("400 lists every bad field", async () => {
    const res = await call("POST", "/v1/api-keys", { body: { name: "", role: "root", tenant: "Bad Tenant!", extra: 1 } });
    const p = expectProblem(res, 400, "VALIDATION_FAILED");
    expect(p.errors?.map((e) => e.path).sort()).toEqual(["/extra", "/name", "/role", "/tenant"]);
    expect(p.errors?.every((e) => e.in === "body")).toBe(true);
  });

  it("403 for every role but admin, and the tenant admin cannot reach another tenant", async () => {
    const t = await tenantWithKeys("keyroles");
    for (const role of ["operator", "approver", "viewer"] as const) {
      const res = await call("POST", "/v1/api-keys", { key: t[role], body: { name: "x", role: "viewer" } });
      expectProblem(res, 403, "FORBIDDEN");
    }
    // A tenant admin creates keys in its own tenant...
    const own = await call<KeyBody>("POST", "/v1/api-keys", { key: t.admin, body: { name: "own", role: "viewer" } });
    expect(own.status).toBe(201);
    expect(own.body.tenant).toBe(t.tenant);
    // ...but may not name another one.
    const other = await call("POST", "/v1/api-keys", { key: t.admin, body: { name: "x", role: "admin", tenant: "default" } });
    expectProblem(other, 403, "FORBIDDEN");
  });

  it("401 without credentials", async () => {
    expectProblem(await call("POST", "/v1/api-keys", { key: null, body: { name: "x", role: "viewer" } }), 401, "UNAUTHORIZED");
  });
});

describe("GET /v1/api-keys", () => {
  it("pages newest first with an opaque cursor, scoped to the caller's tenant", async () => {
    const t = await tenantWithKeys("keypage"); // admin, operator, approver, viewer
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: Page<KeyBody> } = await call<Page<KeyBody>>(
        "GET",
        `/v1/api-keys?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
        { key: t.admin },
      );
      expect(res.status).toBe(200);
      for (const k of res.body.items) expect(k.tenant).toBe(t.tenant);
      seen.push(...res.body.items.map((k) => k.id));
      cursor = res.body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
  });

  it("a tenant admin cannot list another tenant; a bad cursor is a 400", async () => {
    const t = await tenantWithKeys("keylist");
    expectProblem(await call("GET", "/v1/api-keys?tenant=default", { key: t.admin }), 403, "FORBIDDEN");
    const bad = expectProblem(await call("GET", "/v1/api-keys?cursor=not-a-cursor", { key: t.admin }), 400, "VALIDATION_FAILED");
    expect(bad.errors).toEqual([{ path: "/cursor", in: "query", message: "The cursor is not valid for this listing." }]);
  });

  it("records when a key was last used", async () => {
    const tenant = uniqueTenant("lastused");
    const { key, id } = await createKey(tenant, "viewer");
    expect((await call("GET", "/v1/workflows", { key })).status).toBe(200);
    const { env } = await import("cloudflare:workers");
    // The update runs after the response (waitUntil); poll the row briefly rather than sleeping blindly.
    let lastUsed: number | null = null;
    for (let i = 0; i < 50 && lastUsed === null; i++) {
      lastUsed = (await env.DB.prepare("SELECT last_used_at FROM api_keys WHERE id = ?1").bind(id).first<number>("last_used_at")) ?? null;
      if (lastUsed === null) await new Promise((r) => setTimeout(r, 20));
    }
    expect(lastUsed).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe("DELETE /v1/api-keys/{id}", () => {
  it("revokes: the key is refused on its next request and listed as revoked", async () => {
    const t = await tenantWithKeys("revoke");
    const { key, id } = await createKey(t.tenant, "operator", "short-lived");
    expect((await call("GET", "/v1/workflows", { key })).status).toBe(200);

    const res = await call<KeyBody>("DELETE", `/v1/api-keys/${id}`, { key: t.admin });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(id);
    expect(res.body.revoked_at).not.toBeNull();

    const after = expectProblem(await call("GET", "/v1/workflows", { key }), 401, "UNAUTHORIZED");
    expect(after.detail).toContain("revoked");

    const active = await call<Page<KeyBody>>("GET", "/v1/api-keys", { key: t.admin });
    expect(active.body.items.map((k) => k.id)).not.toContain(id);
    const all = await call<Page<KeyBody>>("GET", "/v1/api-keys?include_revoked=true", { key: t.admin });
    expect(all.body.items.find((k) => k.id === id)?.revoked_at).toBe(res.body.revoked_at);

    // Revoking again keeps the first revocation time.
    const again = await call<KeyBody>("DELETE", `/v1/api-keys/${id}`, { key: t.admin });
    expect(again.status).toBe(200);
    expect(again.body.revoked_at).toBe(res.body.revoked_at);
  });

  it("404 for another tenant's key (indistinguishable from a missing one), 403 for non-admins", async () => {
    const a = await tenantWithKeys("reva");
    const b = await tenantWithKeys("revb");
    const victim = await createKey(b.tenant, "viewer");
    const cross = expectProblem(await call("DELETE", `/v1/api-keys/${victim.id}`, { key: a.admin }), 404, "API_KEY_NOT_FOUND");
    const missing = expectProblem(await call("DELETE", "/v1/api-keys/key_doesnotexist0000", { key: a.admin }), 404, "API_KEY_NOT_FOUND");
    expect(cross.title).toBe(missing.title);
    // The victim key still works.
    expect((await call("GET", "/v1/workflows", { key: victim.key })).status).toBe(200);
    expectProblem(await call("DELETE", `/v1/api-keys/${victim.id}`, { key: b.operator }), 403, "FORBIDDEN");
  });
});

describe("GET /v1/api-keys/current", () => {
  interface Current {
    id: string;
    name: string | null;
    role: string;
    tenant: string;
    permissions: string[];
  }

  it("tells any key its own role, tenant and permissions; the bootstrap key has no name", async () => {
    const t = await tenantWithKeys("current");
    const viewer = await createKey(t.tenant, "viewer", "wall-screen");
    const mine = await call<Current>("GET", "/v1/api-keys/current", { key: viewer.key });
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual({
      id: viewer.id,
      name: "wall-screen",
      role: "viewer",
      tenant: t.tenant,
      permissions: ["workflows:read", "executions:read", "prices:read", "budgets:read", "telemetry:read"],
    });
    const approver = await call<Current>("GET", "/v1/api-keys/current", { key: t.approver });
    expect(approver.body.permissions).toContain("executions:decide");
    expect(approver.body.permissions).not.toContain("executions:operate");
    const bootstrap = await call<Current>("GET", "/v1/api-keys/current");
    expect(bootstrap.body).toMatchObject({ id: "bootstrap", name: null, role: "admin", tenant: "default" });
    expect(bootstrap.body.permissions).toContain("api_keys:manage");
  });

  it("401 without a key or with a revoked one", async () => {
    expectProblem(await call("GET", "/v1/api-keys/current", { key: null }), 401, "UNAUTHORIZED");
    const t = await tenantWithKeys("current-revoked");
    const gone = await createKey(t.tenant, "operator");
    await call("DELETE", `/v1/api-keys/${gone.id}`, { key: t.admin });
    expectProblem(await call("GET", "/v1/api-keys/current", { key: gone.key }), 401, "UNAUTHORIZED");
  });
});
