/**
 * Prices (SPEC §7): a tenant's own prices over the deployment's defaults, through the real app and
 * real D1. The deployment defaults here are wrangler.toml's `PRICES` (the vitest config reads it):
 * `standin-small` and `standin-large`.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { PricesConfigurationError, deploymentPrices, resolvePrices, setTenantPrice } from "../../src/store/prices";
import { ADMIN_KEY, call, expectProblem, tenantWithKeys, uniqueTenant } from "../helpers/api";

interface Entry {
  model: string;
  input_usd_per_mtok: number;
  output_usd_per_mtok: number;
  source: "tenant" | "deployment";
  updated_at: string | null;
}
interface AuditRow {
  action: string;
  result: string;
  status: number;
  target: string | null;
  actor: string | null;
  detail: Record<string, unknown> | null;
}

const CF_MODEL = "@cf/meta/llama-3.1-8b-instruct";
const path = (model: string) => `/v1/prices/${encodeURIComponent(model)}`;
const defaults = deploymentPrices(env.PRICES);

async function list(key: string): Promise<Entry[]> {
  const res = await call<{ items: Entry[] }>("GET", "/v1/prices", { key });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

async function auditOf(key: string, action: string): Promise<AuditRow[]> {
  const res = await call<{ items: AuditRow[] }>("GET", `/v1/audit?action=${action}&limit=100`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

/** A D1Database that counts the statements prepared on the real one. */
function counting(db: D1Database): { db: D1Database; prepared: string[] } {
  const prepared: string[] = [];
  const wrapped = new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => {
          prepared.push(sql);
          return target.prepare(sql);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: wrapped, prepared };
}

describe("deployment defaults (the PRICES variable)", () => {
  it("wrangler.toml's defaults are the stand-in models", () => {
    expect(Object.keys(defaults).sort()).toEqual(expect.arrayContaining(["standin-large", "standin-small"]));
    expect(defaults["standin-small"]).toEqual({ input_usd_per_mtok: expect.any(Number), output_usd_per_mtok: expect.any(Number) });
  });

  it("parses once per value; empty or absent means no defaults", () => {
    expect(deploymentPrices(env.PRICES)).toBe(defaults);
    expect(deploymentPrices(undefined)).toEqual({});
    expect(deploymentPrices("  ")).toEqual({});
    const raw = '{ "m-1": { "input_usd_per_mtok": 1, "output_usd_per_mtok": 2 } }';
    const book = deploymentPrices(raw);
    expect(book).toEqual({ "m-1": { input_usd_per_mtok: 1, output_usd_per_mtok: 2 } });
    expect(deploymentPrices(raw)).toBe(book);
    expect(Object.isFrozen(book)).toBe(true);
  });

  it("refuses a bad value loudly, naming the variable and each problem", () => {
    const bad = [
      "{ not json",
      "[]",
      '{ "m": { "input_usd_per_mtok": -1, "output_usd_per_mtok": 2 } }',
      '{ "m": { "input_usd_per_mtok": 1 } }',
      '{ "m": { "input_usd_per_mtok": 1, "output_usd_per_mtok": 2, "extra": 3 } }',
      '{ "bad name!": { "input_usd_per_mtok": 1, "output_usd_per_mtok": 2 } }',
      '{ "m": { "input_usd_per_mtok": 1e9, "output_usd_per_mtok": 2 } }',
    ];
    for (const raw of bad) {
      let error: unknown;
      try {
        deploymentPrices(raw);
      } catch (err) {
        error = err;
      }
      expect(error, raw).toBeInstanceOf(PricesConfigurationError);
      expect((error as Error).message, raw).toMatch(/^The PRICES variable is not valid: /);
      // Asked again, it fails again (the cached answer is the error, not an empty book).
      expect(() => deploymentPrices(raw), raw).toThrow(PricesConfigurationError);
    }
    let missing: unknown;
    try {
      deploymentPrices('{ "m": { "input_usd_per_mtok": 1 } }');
    } catch (err) {
      missing = err;
    }
    expect((missing as Error).message).toContain("m.output_usd_per_mtok");
  });

  it("an invalid PRICES is a 500 CONFIGURATION_ERROR naming the variable, with no stack trace", async () => {
    const app = createApp();
    for (const PRICES of ["{ not json", '{ "m": { "input_usd_per_mtok": "cheap", "output_usd_per_mtok": 1 } }']) {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request("http://stepline.test/v1/prices", { headers: { authorization: `Bearer ${ADMIN_KEY}` } }),
        { ...env, PRICES },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      const text = await res.text();
      const p = expectProblem({ status: res.status, headers: res.headers, body: JSON.parse(text), text }, 500, "CONFIGURATION_ERROR");
      expect(p.detail).toContain("PRICES");
      expect(text).not.toContain("SyntaxError");
    }
  });
});

describe("GET /v1/prices", () => {
  it("lists the deployment defaults for a tenant with no prices of its own, sorted by model", async () => {
    const t = await tenantWithKeys("prices-list");
    const items = await list(t.viewer);
    expect(items).toEqual(
      Object.keys(defaults)
        .sort()
        .map((model) => ({ model, ...defaults[model], source: "deployment", updated_at: null })),
    );
  });

  it("every role may read; without a key it is 401", async () => {
    const t = await tenantWithKeys("prices-roles");
    for (const role of ["admin", "operator", "approver", "viewer"] as const) expect((await call("GET", "/v1/prices", { key: t[role] })).status).toBe(200);
    expectProblem(await call("GET", "/v1/prices", { key: null }), 401, "UNAUTHORIZED");
  });
});

describe("PUT /v1/prices/{model}", () => {
  it("overrides a default and adds a new model; the list merges them, tenant over default", async () => {
    const t = await tenantWithKeys("prices-put");
    const before = Date.now();
    const over = await call<Entry>("PUT", path("standin-small"), { key: t.admin, body: { input_usd_per_mtok: 0.25, output_usd_per_mtok: 0.75 } });
    expect(over.status, over.text).toBe(200);
    expect(over.body).toMatchObject({ model: "standin-small", input_usd_per_mtok: 0.25, output_usd_per_mtok: 0.75, source: "tenant" });
    expect(Date.parse(over.body.updated_at!)).toBeGreaterThanOrEqual(before - 1000);

    const added = await call<Entry>("PUT", path("acme-model"), { key: t.admin, body: { input_usd_per_mtok: 0, output_usd_per_mtok: 100_000 } });
    expect(added.status, added.text).toBe(200);
    expect(added.body).toMatchObject({ model: "acme-model", input_usd_per_mtok: 0, output_usd_per_mtok: 100_000, source: "tenant" });

    const items = await list(t.viewer);
    expect(items.map((e) => e.model)).toEqual([...new Set([...Object.keys(defaults), "acme-model"])].sort());
    expect(items.find((e) => e.model === "standin-small")).toEqual(over.body);
    expect(items.find((e) => e.model === "acme-model")).toEqual(added.body);
    expect(items.find((e) => e.model === "standin-large")).toEqual({ model: "standin-large", ...defaults["standin-large"], source: "deployment", updated_at: null });

    // Setting it again replaces it (one row per tenant and model).
    const again = await call<Entry>("PUT", path("acme-model"), { key: t.admin, body: { input_usd_per_mtok: 1.5, output_usd_per_mtok: 2.5 } });
    expect(again.body).toMatchObject({ input_usd_per_mtok: 1.5, output_usd_per_mtok: 2.5 });
    const rows = await env.DB.prepare("SELECT * FROM prices WHERE tenant = ?1 ORDER BY model").bind(t.tenant).all<Record<string, unknown>>();
    expect(rows.results.map((r) => [r.model, r.input_usd_per_mtok, r.output_usd_per_mtok])).toEqual([
      ["acme-model", 1.5, 2.5],
      ["standin-small", 0.25, 0.75],
    ]);
  });

  it("takes @cf/… names with encoded slashes, and GET and DELETE find them", async () => {
    const t = await tenantWithKeys("prices-cf");
    expect(path(CF_MODEL)).toBe("/v1/prices/%40cf%2Fmeta%2Fllama-3.1-8b-instruct");
    const put = await call<Entry>("PUT", path(CF_MODEL), { key: t.admin, body: { input_usd_per_mtok: 0.28, output_usd_per_mtok: 0.83 } });
    expect(put.status, put.text).toBe(200);
    expect(put.body.model).toBe(CF_MODEL);
    // Only %2F needs encoding: a literal @ works too.
    const got = await call<Entry>("GET", "/v1/prices/@cf%2Fmeta%2Fllama-3.1-8b-instruct", { key: t.viewer });
    expect(got.status, got.text).toBe(200);
    expect(got.body).toEqual(put.body);
    expect((await list(t.viewer)).map((e) => e.model)).toContain(CF_MODEL);
    expect((await call("DELETE", path(CF_MODEL), { key: t.admin })).status).toBe(204);
    expectProblem(await call("GET", path(CF_MODEL), { key: t.viewer }), 404, "PRICE_NOT_FOUND");
    // Unencoded slashes are other paths: no route.
    expectProblem(await call("GET", `/v1/prices/${CF_MODEL}`, { key: t.viewer }), 404, "ROUTE_NOT_FOUND");
  });

  it("400 for negative, too large, missing, mistyped or unknown fields and bad names; nothing written", async () => {
    const t = await tenantWithKeys("prices-bad");
    const cases: { model: string; body?: unknown; rawBody?: string; paths: string[] }[] = [
      { model: "m", body: { input_usd_per_mtok: -0.01, output_usd_per_mtok: 1 }, paths: ["/input_usd_per_mtok"] },
      { model: "m", body: { input_usd_per_mtok: 1, output_usd_per_mtok: 100_000.01 }, paths: ["/output_usd_per_mtok"] },
      { model: "m", body: { input_usd_per_mtok: 1 }, paths: ["/output_usd_per_mtok"] },
      { model: "m", body: {}, paths: ["/input_usd_per_mtok", "/output_usd_per_mtok"] },
      { model: "m", body: { input_usd_per_mtok: "1", output_usd_per_mtok: null }, paths: ["/input_usd_per_mtok", "/output_usd_per_mtok"] },
      { model: "m", body: { input_usd_per_mtok: 1, output_usd_per_mtok: 2, currency: "EUR" }, paths: ["/currency"] },
      { model: "m", body: [1, 2], paths: [""] },
    ];
    for (const c of cases) {
      const p = expectProblem(await call("PUT", path(c.model), { key: t.admin, body: c.body }), 400, "VALIDATION_FAILED");
      expect(p.errors?.map((e) => e.path).sort(), JSON.stringify(c.body)).toEqual(c.paths);
      expect(p.errors?.every((e) => e.in === "body")).toBe(true);
    }
    const good = { input_usd_per_mtok: 1, output_usd_per_mtok: 2 };
    for (const model of ["-starts-with-dash", "has space", "x".repeat(257), "_underscore", "ünïcode", "tab\tname"]) {
      const p = expectProblem(await call("PUT", path(model), { key: t.admin, body: good }), 400, "VALIDATION_FAILED");
      expect(p.errors).toEqual([expect.objectContaining({ path: "/model", in: "path" })]);
      expectProblem(await call("GET", path(model), { key: t.admin }), 400, "VALIDATION_FAILED");
      expectProblem(await call("DELETE", path(model), { key: t.admin }), 400, "VALIDATION_FAILED");
    }
    expect((await call("PUT", path("x".repeat(256)), { key: t.admin, body: good })).status).toBe(200);
    expectProblem(await call("PUT", path("m"), { key: t.admin, rawBody: "{ nope" }), 400, "MALFORMED_JSON");
    expectProblem(await call("PUT", path("m"), { key: t.admin, rawBody: "x", headers: { "content-type": "text/plain" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM prices WHERE tenant = ?1").bind(t.tenant).first<number>("n");
    expect(count).toBe(1); // only the 256-character name
  });

  it("403 for every role but admin: nothing written, each refusal audited as denied", async () => {
    const t = await tenantWithKeys("prices-403");
    for (const role of ["operator", "approver", "viewer"] as const) {
      expectProblem(await call("PUT", path("standin-small"), { key: t[role], body: { input_usd_per_mtok: 9, output_usd_per_mtok: 9 } }), 403, "FORBIDDEN");
      expectProblem(await call("DELETE", path("standin-small"), { key: t[role] }), 403, "FORBIDDEN");
    }
    expectProblem(await call("PUT", path("standin-small"), { key: null, body: { input_usd_per_mtok: 9, output_usd_per_mtok: 9 } }), 401, "UNAUTHORIZED");
    expect((await list(t.viewer)).find((e) => e.model === "standin-small")?.source).toBe("deployment");
    const set = await auditOf(t.admin, "price.set");
    expect(set.map((e) => [e.result, e.status, e.target])).toEqual(Array.from({ length: 3 }, () => ["denied", 403, "standin-small"]));
    expect((await auditOf(t.admin, "price.delete")).map((e) => e.result)).toEqual(["denied", "denied", "denied"]);
  });

  it("409 PRICE_LIMIT_REACHED past the tenant's limit, while replacing an existing price still works", async () => {
    const tenant = uniqueTenant("prices-cap");
    const at = Date.now();
    const record = (model: string) => ({ tenant, model, inputUsdPerMtok: 1, outputUsdPerMtok: 1, updatedBy: null, updatedAt: at });
    // The store's limit, small, against real D1: the check is inside the write.
    expect(await setTenantPrice(env.DB, record("a"), 2)).toMatchObject({ ok: true, previous: null });
    expect(await setTenantPrice(env.DB, record("b"), 2)).toMatchObject({ ok: true, previous: null });
    expect(await setTenantPrice(env.DB, record("c"), 2)).toEqual({ ok: false, reason: "limit" });
    const replaced = await setTenantPrice(env.DB, { ...record("b"), inputUsdPerMtok: 3 }, 2);
    expect(replaced).toMatchObject({ ok: true, previous: { model: "b", inputUsdPerMtok: 1 }, current: { model: "b", inputUsdPerMtok: 3 } });
    const n = await env.DB.prepare("SELECT COUNT(*) AS n FROM prices WHERE tenant = ?1").bind(tenant).first<number>("n");
    expect(n).toBe(2);
  });

  it("409 through the API once a tenant holds 1,000 prices of its own", async () => {
    const t = await tenantWithKeys("prices-cap-api");
    const insert = env.DB.prepare("INSERT INTO prices (tenant, model, input_usd_per_mtok, output_usd_per_mtok, updated_at) VALUES (?1, ?2, 1, 1, 0)");
    await env.DB.batch(Array.from({ length: 1000 }, (_, i) => insert.bind(t.tenant, `bulk-${String(i).padStart(4, "0")}`)));
    const p = expectProblem(await call("PUT", path("one-more"), { key: t.admin, body: { input_usd_per_mtok: 1, output_usd_per_mtok: 1 } }), 409, "PRICE_LIMIT_REACHED");
    expect(p.detail).toContain("1000");
    expect((await call("PUT", path("bulk-0007"), { key: t.admin, body: { input_usd_per_mtok: 2, output_usd_per_mtok: 2 } })).status).toBe(200);
    expect((await list(t.viewer)).length).toBe(Object.keys(defaults).length + 1000);
    const audit = await auditOf(t.admin, "price.set");
    expect(audit.map((e) => [e.result, e.status])).toEqual([
      ["success", 200],
      ["failure", 409],
    ]);
  });

  it("audits price.set with the previous and the new price", async () => {
    const t = await tenantWithKeys("prices-audit");
    await call("PUT", path("standin-large"), { key: t.admin, body: { input_usd_per_mtok: 4, output_usd_per_mtok: 12 } });
    await call("PUT", path("standin-large"), { key: t.admin, body: { input_usd_per_mtok: 3, output_usd_per_mtok: 9 } });
    await call("PUT", path("standin-large"), { key: t.admin, body: { input_usd_per_mtok: -3, output_usd_per_mtok: 9 } }); // refused: 400
    const entries = await auditOf(t.admin, "price.set");
    expect(entries.map((e) => [e.result, e.status])).toEqual([
      ["failure", 400],
      ["success", 200],
      ["success", 200],
    ]);
    const [, second, first] = entries;
    expect(first).toMatchObject({
      target: "standin-large",
      detail: { model: "standin-large", previous: null, price: { input_usd_per_mtok: 4, output_usd_per_mtok: 12 } },
    });
    expect(second!.detail).toEqual({
      model: "standin-large",
      previous: { input_usd_per_mtok: 4, output_usd_per_mtok: 12 },
      price: { input_usd_per_mtok: 3, output_usd_per_mtok: 9 },
    });
    expect(second!.actor).toMatch(/^key_/);
  });
});

describe("GET /v1/prices/{model}", () => {
  it("answers a default, the tenant's own, and 404 when neither has one", async () => {
    const t = await tenantWithKeys("prices-get");
    const dflt = await call<Entry>("GET", path("standin-large"), { key: t.viewer });
    expect(dflt.status).toBe(200);
    expect(dflt.body).toEqual({ model: "standin-large", ...defaults["standin-large"], source: "deployment", updated_at: null });
    await call("PUT", path("standin-large"), { key: t.admin, body: { input_usd_per_mtok: 1, output_usd_per_mtok: 2 } });
    const own = await call<Entry>("GET", path("standin-large"), { key: t.viewer });
    expect(own.body).toMatchObject({ source: "tenant", input_usd_per_mtok: 1, output_usd_per_mtok: 2 });
    const p = expectProblem(await call("GET", path("nobody-prices-this"), { key: t.viewer }), 404, "PRICE_NOT_FOUND");
    expect(p.detail).toContain("nobody-prices-this");
    // A name like an Object.prototype member is just a model with no price.
    expectProblem(await call("GET", path("constructor"), { key: t.viewer }), 404, "PRICE_NOT_FOUND");
  });
});

describe("DELETE /v1/prices/{model}", () => {
  it("removes the tenant's own price: the default applies again; audited with the removed price", async () => {
    const t = await tenantWithKeys("prices-del");
    await call("PUT", path("standin-small"), { key: t.admin, body: { input_usd_per_mtok: 9, output_usd_per_mtok: 9 } });
    const res = await call("DELETE", path("standin-small"), { key: t.admin });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    const back = await call<Entry>("GET", path("standin-small"), { key: t.viewer });
    expect(back.body).toEqual({ model: "standin-small", ...defaults["standin-small"], source: "deployment", updated_at: null });

    // Nothing of its own left: 404, for a defaulted model and for an unknown one alike.
    expectProblem(await call("DELETE", path("standin-small"), { key: t.admin }), 404, "PRICE_NOT_FOUND");
    expectProblem(await call("DELETE", path("never-set"), { key: t.admin }), 404, "PRICE_NOT_FOUND");
    const entries = await auditOf(t.admin, "price.delete");
    expect(entries.map((e) => [e.result, e.status, e.target])).toEqual([
      ["failure", 404, "never-set"],
      ["failure", 404, "standin-small"],
      ["success", 204, "standin-small"],
    ]);
    expect(entries[2]!.detail).toEqual({ model: "standin-small", previous: { input_usd_per_mtok: 9, output_usd_per_mtok: 9 } });
  });
});

describe("tenants", () => {
  it("never see or change each other's prices", async () => {
    const a = await tenantWithKeys("prices-a");
    const b = await tenantWithKeys("prices-b");
    await call("PUT", path("standin-small"), { key: a.admin, body: { input_usd_per_mtok: 7, output_usd_per_mtok: 8 } });
    await call("PUT", path("only-a"), { key: a.admin, body: { input_usd_per_mtok: 1, output_usd_per_mtok: 1 } });

    expect((await call<Entry>("GET", path("standin-small"), { key: b.viewer })).body.source).toBe("deployment");
    expectProblem(await call("GET", path("only-a"), { key: b.viewer }), 404, "PRICE_NOT_FOUND");
    expect((await list(b.viewer)).map((e) => e.model)).not.toContain("only-a");
    expectProblem(await call("DELETE", path("only-a"), { key: b.admin }), 404, "PRICE_NOT_FOUND");
    expect((await call<Entry>("GET", path("only-a"), { key: a.viewer })).status).toBe(200);
    // The platform tenant's admin (the bootstrap key) is a tenant like the others here.
    expect((await list(ADMIN_KEY)).map((e) => e.model)).not.toContain("only-a");
    expect(await auditOf(b.admin, "price.set")).toEqual([]);
  });
});

describe("resolvePrices", () => {
  it("gives each named model its effective price, tenant over default, leaving out unpriced models, in one query", async () => {
    const t = await tenantWithKeys("prices-resolve");
    await call("PUT", path("standin-small"), { key: t.admin, body: { input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2 } });
    await call("PUT", path(CF_MODEL), { key: t.admin, body: { input_usd_per_mtok: 0.3, output_usd_per_mtok: 0.4 } });
    const other = await tenantWithKeys("prices-resolve-other");
    await call("PUT", path("standin-large"), { key: other.admin, body: { input_usd_per_mtok: 50, output_usd_per_mtok: 60 } });

    const { db, prepared } = counting(env.DB);
    const book = await resolvePrices(db, t.tenant, ["standin-small", "standin-large", CF_MODEL, "unpriced", "constructor", "standin-small"], defaults);
    expect(book).toEqual({
      "standin-small": { input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2 },
      "standin-large": defaults["standin-large"],
      [CF_MODEL]: { input_usd_per_mtok: 0.3, output_usd_per_mtok: 0.4 },
    });
    expect(prepared).toHaveLength(1);
    expect(prepared[0]).toMatch(/WHERE tenant = \?1 AND model IN/);
    // The result is the caller's own copy: editing it leaves the shared defaults alone.
    book["standin-large"]!.input_usd_per_mtok = 999;
    expect(deploymentPrices(env.PRICES)["standin-large"]!.input_usd_per_mtok).not.toBe(999);
  });

  it("makes no query for no models, and copes with many models in one query", async () => {
    const noDb = new Proxy({} as D1Database, {
      get() {
        throw new Error("resolvePrices touched D1 for an empty model list");
      },
    });
    expect(await resolvePrices(noDb, "any", [], defaults)).toEqual({});

    const tenant = uniqueTenant("prices-many");
    const models = Array.from({ length: 300 }, (_, i) => `many-${i}`);
    const insert = env.DB.prepare("INSERT INTO prices (tenant, model, input_usd_per_mtok, output_usd_per_mtok, updated_at) VALUES (?1, ?2, ?3, 1, 0)");
    await env.DB.batch(models.filter((_, i) => i % 2 === 0).map((m, i) => insert.bind(tenant, m, i)));
    const { db, prepared } = counting(env.DB);
    const book = await resolvePrices(db, tenant, [...models, "standin-small"], defaults);
    expect(prepared).toHaveLength(1);
    expect(Object.keys(book)).toHaveLength(151);
    expect(book["many-4"]).toEqual({ input_usd_per_mtok: 2, output_usd_per_mtok: 1 });
    expect(book["many-1"]).toBeUndefined();
    expect(book["standin-small"]).toEqual(defaults["standin-small"]);
    // No defaults at all: only the tenant's own.
    expect(Object.keys(await resolvePrices(env.DB, tenant, ["standin-small", "many-0"], {}))).toEqual(["many-0"]);
  });
});
