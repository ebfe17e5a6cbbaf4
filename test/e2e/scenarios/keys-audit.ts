/** API keys and the audit log: roles, revocation, and who did what. */
import { describe, expect, it } from "vitest";
import { call, uniqueId } from "../helpers/client";

describe("API keys and the audit log", () => {
  it("creates a key shown once, lists it, refuses a role its rights, revokes it", async () => {
    const created = await call<{ id: string; key: string; role: string }>("POST", "/v1/api-keys", { body: { name: uniqueId("viewer"), role: "viewer" } });
    expect(created.status, created.text).toBe(201);
    expect(created.body.key).toBeTruthy();
    const listed = await call<{ items: { id: string; key?: string }[] }>("GET", "/v1/api-keys?limit=100");
    expect(listed.status).toBe(200);
    const mine = listed.body.items.find((k) => k.id === created.body.id);
    expect(mine).toBeDefined();
    expect(mine?.key).toBeUndefined();

    expect((await call("GET", "/v1/workflows", { key: created.body.key })).status).toBe(200);
    // What the dashboard asks at sign-in: the key's own role and permissions.
    const current = await call<{ id: string; role: string; permissions: string[] }>("GET", "/v1/api-keys/current", { key: created.body.key });
    expect(current.status, current.text).toBe(200);
    expect(current.body).toMatchObject({ id: created.body.id, role: "viewer" });
    expect(current.body.permissions).not.toContain("executions:operate");
    const denied = await call("POST", "/v1/api-keys", { key: created.body.key, body: { name: "nope", role: "admin" } });
    expect(denied.status).toBe(403);
    expect((await call("GET", "/v1/api-keys", { key: created.body.key })).status).toBe(403);
    expect((await call("GET", "/v1/audit", { key: created.body.key })).status).toBe(403);
    expect((await call("POST", "/v1/api-keys", { body: { name: "", role: "emperor" } })).status).toBe(400);

    const revoked = await call("DELETE", `/v1/api-keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect((await call("GET", "/v1/workflows", { key: created.body.key })).status).toBe(401);
    expect((await call("GET", "/v1/api-keys/current", { key: created.body.key })).status).toBe(401);
    expect((await call("DELETE", `/v1/api-keys/${uniqueId("key")}`)).status).toBe(404);

    const audit = await call<{ items: { action: string; result: string; target: string | null }[] }>("GET", `/v1/audit?limit=100`);
    expect(audit.status).toBe(200);
    const actions = audit.body.items.filter((a) => a.target === created.body.id).map((a) => `${a.action}:${a.result}`);
    expect(actions).toEqual(expect.arrayContaining(["api_key.revoke:success"]));
    expect(audit.body.items.some((a) => a.result === "denied")).toBe(true);
  });

  it("rate-limits each key on its own: 429 RATE_LIMITED past its rate, with Retry-After and the RateLimit fields", async () => {
    const created = await call<{ id: string; key: string; rate_limit_per_minute: number }>("POST", "/v1/api-keys", {
      body: { name: uniqueId("rated"), role: "viewer", rate_limit_per_minute: 2 },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.rate_limit_per_minute).toBe(2);
    const first = await call("GET", "/v1/workflows", { key: created.body.key });
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-policy")).toBe('"per-key";q=2;w=60');
    expect(first.headers.get("ratelimit")).toMatch(/^"per-key";r=1;t=\d+$/);
    expect((await call("GET", "/v1/workflows", { key: created.body.key })).status).toBe(200);
    const refused = await call<{ code: string; retry_after_seconds: number }>("GET", "/v1/workflows", { key: created.body.key });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.body.code).toBe("RATE_LIMITED");
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(61);
    expect(refused.body.retry_after_seconds).toBe(retryAfter);
    expect(refused.headers.get("ratelimit")).toBe(`"per-key";r=0;t=${retryAfter}`);
    // The admin key that made it is not affected.
    expect((await call("GET", "/v1/workflows")).status).toBe(200);
  });
});
