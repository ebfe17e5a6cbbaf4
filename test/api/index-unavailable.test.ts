/**
 * D1 briefly unavailable: a request that needs the index is answered 503 INDEX_UNAVAILABLE with a
 * Retry-After (not 500), nothing is started, and an execution's own reads, served by its object,
 * still answer. A D1 error that is not an outage stays a 500.
 */
import { describe, expect, it } from "vitest";
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { createApp } from "../../src/app";
import { ADMIN_KEY, call, expectProblem } from "../helpers/api";
import { start, waitForStatus } from "../helpers/executions";

/** A D1 every call of which fails with `message` (as D1 reports an outage); counts the calls. */
function failingD1(message: string, refused: { n: number }): D1Database {
  return new Proxy(env.DB, {
    get: () => () => {
      refused.n += 1;
      throw new Error(message);
    },
  });
}

async function callWith(db: D1Database, method: string, path: string, body?: unknown) {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_KEY}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await createApp().fetch(new Request(`http://stepline.test${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), { ...env, DB: db }, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown>, text };
}

describe("D1 unavailable", () => {
  it("answers 503 INDEX_UNAVAILABLE with Retry-After; starts nothing; the execution's own reads still answer", async () => {
    const done = await start(ADMIN_KEY, { definition: { id: "d1-down-read", steps: [{ id: "a", type: "transform", expression: "1" }] } });
    await waitForStatus(ADMIN_KEY, done.body.id, ["completed"]);
    const before = (await call<{ items: unknown[] }>("GET", "/v1/executions?workflow_id=d1-down-start&limit=100")).body.items.length;

    const refused = { n: 0 };
    const down = failingD1("D1_ERROR: Network connection lost.", refused);
    const listing = await callWith(down, "GET", "/v1/executions");
    const p = expectProblem(listing, 503, "INDEX_UNAVAILABLE");
    expect(listing.headers.get("retry-after")).toBe("2");
    expect(p.detail).toMatch(/try again/i);
    expect(listing.text).not.toContain("Network connection lost"); // no internals

    const started = await callWith(down, "POST", "/v1/executions", { definition: { id: "d1-down-start", steps: [{ id: "a", type: "transform", expression: "1" }] } });
    expectProblem(started, 503, "INDEX_UNAVAILABLE");
    expect(refused.n).toBeGreaterThanOrEqual(2); // the fault really happened, on both requests

    const read = await callWith(down, "GET", `/v1/executions/${done.body.id}`);
    expect(read.status, read.text).toBe(200);
    expect(read.body.status).toBe("completed");

    // Nothing was started while D1 was down.
    const after = (await call<{ items: unknown[] }>("GET", "/v1/executions?workflow_id=d1-down-start&limit=100")).body.items.length;
    expect(after).toBe(before);
  });

  it("a D1 error that is not an outage is a 500 INTERNAL_ERROR", async () => {
    const res = await callWith(failingD1("D1_ERROR: no such table: executions", { n: 0 }), "GET", "/v1/executions");
    expectProblem(res, 500, "INTERNAL_ERROR");
    expect(res.headers.get("retry-after")).toBeNull();
  });
});
