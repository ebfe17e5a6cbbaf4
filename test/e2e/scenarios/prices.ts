/** Prices over real HTTP: a tenant's own prices over the deployment's defaults, `@cf/…` names URL-encoded. */
import { describe, expect, it } from "vitest";
import { call, uniqueId } from "../helpers/client";

interface Entry {
  model: string;
  input_usd_per_mtok: number;
  output_usd_per_mtok: number;
  source: "tenant" | "deployment";
  updated_at: string | null;
}

describe("prices", () => {
  it("sets, reads, lists and removes a tenant's price of an @cf/… model (slashes sent as %2F)", async () => {
    // A tenant of its own, so the platform tenant's prices (which other scenarios may cost with) stay as they are.
    const tenant = uniqueId("prices");
    const admin = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: "prices-admin", role: "admin", tenant } });
    expect(admin.status, admin.text).toBe(201);
    const viewer = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: "prices-viewer", role: "viewer", tenant } });
    expect(viewer.status, viewer.text).toBe(201);
    const key = admin.body.key;

    const model = `@cf/stepline-e2e/${uniqueId("model")}`;
    const path = `/v1/prices/${encodeURIComponent(model)}`;
    expect(path).toContain("%2F");

    expect((await call("GET", path, { key })).status).toBe(404);
    const before = await call<{ items: Entry[] }>("GET", "/v1/prices", { key: viewer.body.key });
    expect(before.status, before.text).toBe(200);
    expect(before.body.items.every((e) => e.source === "deployment" && e.updated_at === null)).toBe(true);

    const set = await call<Entry>("PUT", path, { key, body: { input_usd_per_mtok: 0.28, output_usd_per_mtok: 0.83 } });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toMatchObject({ model, input_usd_per_mtok: 0.28, output_usd_per_mtok: 0.83, source: "tenant" });

    const got = await call<Entry>("GET", path, { key: viewer.body.key });
    expect(got.status, got.text).toBe(200);
    expect(got.body).toEqual(set.body);
    const listed = await call<{ items: Entry[] }>("GET", "/v1/prices", { key: viewer.body.key });
    expect(listed.body.items.find((e) => e.model === model)).toEqual(set.body);
    const models = listed.body.items.map((e) => e.model);
    expect(models).toEqual([...models].sort());

    // Refused writes change nothing.
    expect((await call("PUT", path, { key: viewer.body.key, body: { input_usd_per_mtok: 1, output_usd_per_mtok: 1 } })).status).toBe(403);
    expect((await call("PUT", path, { key, body: { input_usd_per_mtok: -1, output_usd_per_mtok: 1 } })).status).toBe(400);
    expect((await call("PUT", `/v1/prices/${encodeURIComponent("not a model!")}`, { key, body: { input_usd_per_mtok: 1, output_usd_per_mtok: 1 } })).status).toBe(400);
    expect((await call<Entry>("GET", path, { key })).body).toEqual(set.body);

    expect((await call("GET", "/v1/prices", { key: null })).status).toBe(401);
    // The platform tenant does not see this tenant's price.
    expect((await call("GET", path)).status).toBe(404);

    expect((await call("DELETE", path, { key })).status).toBe(204);
    expect((await call("DELETE", path, { key })).status).toBe(404);
    expect((await call("GET", path, { key })).status).toBe(404);

    const audit = await call<{ items: { action: string; result: string; target: string | null }[] }>("GET", "/v1/audit?limit=100", { key });
    expect(audit.status).toBe(200);
    const mine = audit.body.items.filter((a) => a.target === model).map((a) => `${a.action}:${a.result}`);
    expect(mine).toEqual(["price.delete:failure", "price.delete:success", "price.set:failure", "price.set:denied", "price.set:success"]);
  });
});
