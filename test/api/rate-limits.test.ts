/**
 * Rate limits per API key (SPEC §8) through the real app and the real rate-limit objects: each
 * test creates keys with a small `rate_limit_per_minute` in a fresh tenant; the object's clock is
 * moved (runInDurableObject) instead of waiting a minute.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { RateLimitObject } from "../../src/durable/rate-limit/rate-limit-object";
import { call, expectProblem, uniqueTenant, type ApiResponse } from "../helpers/api";

async function keyWithRate(rate: number | undefined, role = "operator"): Promise<{ key: string; id: string; tenant: string }> {
  const tenant = uniqueTenant("rate");
  const res = await call<{ key: string; id: string; rate_limit_per_minute: number | null }>("POST", "/v1/api-keys", {
    body: { name: "rated", role, tenant, ...(rate === undefined ? {} : { rate_limit_per_minute: rate }) },
  });
  expect(res.status, res.text).toBe(201);
  expect(res.body.rate_limit_per_minute).toBe(rate ?? null);
  return { key: res.body.key, id: res.body.id, tenant };
}

const stubOf = (keyId: string) => env.RATE_LIMITS.getByName(keyId);

/** Moves the key's object's clock `ms` ahead of the wall clock. */
async function advance(keyId: string, ms: number): Promise<void> {
  await runInDurableObject(stubOf(keyId), (o) => {
    (o as RateLimitObject).clock = { now: () => Date.now() + ms, toWallTime: (t) => t - ms };
  });
}

function rateHeaders(res: ApiResponse<unknown>) {
  return { policy: res.headers.get("ratelimit-policy"), state: res.headers.get("ratelimit"), retryAfter: res.headers.get("retry-after") };
}

describe("rate limits per API key", () => {
  it("admits `rate_limit_per_minute` requests, then 429 RATE_LIMITED with Retry-After and the RateLimit fields", async () => {
    const k = await keyWithRate(3);
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const res = await call("GET", "/v1/workflows", { key: k.key });
      expect(res.status, res.text).toBe(200);
      seen.push(rateHeaders(res));
    }
    expect(seen.map((h) => h.policy)).toEqual(Array(3).fill('"per-key";q=3;w=60'));
    expect(seen.map((h) => /^"per-key";r=(\d+);t=(\d+)$/.exec(h.state ?? "")?.[1])).toEqual(["2", "1", "0"]);

    const refused = await call("GET", "/v1/workflows", { key: k.key });
    const problem = expectProblem(refused, 429, "RATE_LIMITED");
    const h = rateHeaders(refused);
    // A minute from when the first was logged: a lease (1 s) after it was made (engine/rate-limit.ts).
    expect(Number(h.retryAfter)).toBeGreaterThanOrEqual(60);
    expect(Number(h.retryAfter)).toBeLessThanOrEqual(61);
    expect(h.policy).toBe('"per-key";q=3;w=60');
    expect(h.state).toBe(`"per-key";r=0;t=${h.retryAfter}`);
    expect(problem).toMatchObject({ retry_after_seconds: Number(h.retryAfter) });
    expect(problem.detail).toContain("3 requests per minute");
  });

  it("a refused request changes nothing, and another key (even of the same tenant) is not affected", async () => {
    const k = await keyWithRate(1);
    const other = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: "other", role: "operator", tenant: k.tenant } });
    expect(other.status).toBe(201);
    expect((await call("GET", "/v1/workflows", { key: k.key })).status).toBe(200);
    const definition = { id: "rate-limited-register", steps: [{ id: "a", type: "transform", expression: "1" }] };
    expectProblem(await call("POST", "/v1/workflows", { key: k.key, body: definition }), 429, "RATE_LIMITED");
    // Not registered: the refused request did nothing.
    expectProblem(await call("GET", "/v1/workflows/rate-limited-register", { key: other.body.key }), 404, "WORKFLOW_NOT_FOUND");
    expect((await call("GET", "/v1/workflows", { key: other.body.key })).status).toBe(200);
  });

  it("counts across concurrent requests exactly (one object serialises the key)", async () => {
    const k = await keyWithRate(5);
    const answers = await Promise.all(Array.from({ length: 12 }, () => call("GET", "/v1/workflows", { key: k.key })));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(5);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(7);
  });

  it("admits again once the window has moved on, and remembers across an eviction of the key's object", async () => {
    const k = await keyWithRate(2);
    for (let i = 0; i < 2; i++) expect((await call("GET", "/v1/workflows", { key: k.key })).status).toBe(200);
    await evictDurableObject(stubOf(k.id));
    expectProblem(await call("GET", "/v1/workflows", { key: k.key }), 429, "RATE_LIMITED");
    await advance(k.id, 61_000);
    const res = await call("GET", "/v1/workflows", { key: k.key });
    expect(res.status).toBe(200);
    expect(rateHeaders(res).state).toMatch(/^"per-key";r=1;t=\d+$/);
    // Storage holds only the window's requests: the two that left were dropped.
    const stored = await runInDurableObject(stubOf(k.id), (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM admitted").one().n);
    expect(stored).toBe(1);
  });

  it("rows that left the window while the object was evicted are dropped by its next admission", async () => {
    const k = await keyWithRate(5);
    expect((await call("GET", "/v1/workflows", { key: k.key })).status).toBe(200);
    // Age the stored row past the window, then let a fresh instance load the key.
    await runInDurableObject(stubOf(k.id), (_o, state) => void state.storage.sql.exec("UPDATE admitted SET t = t - 120000"));
    await evictDurableObject(stubOf(k.id));
    const res = await call("GET", "/v1/workflows", { key: k.key });
    expect(res.status).toBe(200);
    expect(rateHeaders(res).state).toMatch(/^"per-key";r=4;t=\d+$/);
    const rows = await runInDurableObject(stubOf(k.id), (_o, state) => state.storage.sql.exec<{ seq: number }>("SELECT seq FROM admitted ORDER BY seq").toArray());
    expect(rows).toEqual([{ seq: 2 }]);
  });

  it("every request of the key counts, denied ones too: a viewer's forbidden write uses its rate", async () => {
    const k = await keyWithRate(1, "viewer");
    expectProblem(await call("POST", "/v1/workflows", { key: k.key, body: { id: "x", steps: [] } }), 403, "FORBIDDEN");
    expectProblem(await call("GET", "/v1/workflows", { key: k.key }), 429, "RATE_LIMITED");
  });

  it("a key created without a rate gets the deployment's default (RATE_LIMIT_PER_MINUTE)", async () => {
    const k = await keyWithRate(undefined);
    const res = await call("GET", "/v1/workflows", { key: k.key });
    expect(res.status).toBe(200);
    expect(rateHeaders(res).policy).toBe(`"per-key";q=${env.RATE_LIMIT_PER_MINUTE};w=60`);
  });

  it("a rate of 0, over 100,000, or not a whole number is 400 and creates no key", async () => {
    const tenant = uniqueTenant("rate-bad");
    for (const rate of [0, 100_001, 2.5, "10"]) {
      const res = await call("POST", "/v1/api-keys", { body: { name: "bad", role: "viewer", tenant, rate_limit_per_minute: rate } });
      expectProblem(res, 400, "VALIDATION_FAILED");
    }
    const list = await call<{ items: unknown[] }>("GET", `/v1/api-keys?tenant=${tenant}`);
    expect(list.body.items).toEqual([]);
  });

  it("answers without a key carry no RateLimit fields (401 comes first)", async () => {
    const res = await call("GET", "/v1/workflows", { key: null });
    expectProblem(res, 401, "UNAUTHORIZED");
    expect(rateHeaders(res)).toEqual({ policy: null, state: null, retryAfter: null });
  });

  it("a busy key is admitted by leases: far fewer calls to its object than requests, and never beyond its limit", async () => {
    const k = await keyWithRate(1_000);
    // Count the calls that reach this key's object (RPC looks methods up on the class).
    let calls = 0;
    const original = RateLimitObject.prototype.hit;
    RateLimitObject.prototype.hit = function (this: RateLimitObject, limit: number, want?: number) {
      if ((this as unknown as { ctx: DurableObjectState }).ctx.id.name === k.id) calls++;
      return original.call(this, limit, want);
    };
    try {
      for (let i = 0; i < 120; i++) expect((await call("GET", "/v1/workflows", { key: k.key })).status).toBe(200);
    } finally {
      RateLimitObject.prototype.hit = original;
    }
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThan(30);

    const small = await keyWithRate(60);
    const statuses: number[] = [];
    for (let i = 0; i < 80; i++) statuses.push((await call("GET", "/v1/workflows", { key: small.key })).status);
    const admitted = statuses.filter((x) => x === 200).length;
    // Leases of up to 3 (1/20 of 60): an unspent rest still counts, so a few may be lost, never gained.
    expect(admitted).toBeLessThanOrEqual(60);
    expect(admitted).toBeGreaterThanOrEqual(57);
    expect(statuses.slice(admitted).every((x) => x === 429)).toBe(true);
  }, 30_000); // 200 requests one after another: a busy machine needs more than the default 5 s
});
