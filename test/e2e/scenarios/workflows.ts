/** The workflow registry over real HTTP: register, version, read, list, archive. */
import { describe, expect, it } from "vitest";
import { baseUrl, call, uniqueId } from "../helpers/client";

describe("workflows", () => {
  it("registers, versions, reads and archives a workflow", async () => {
    const id = uniqueId("wf");
    const definition = { id, name: "Two steps", steps: [{ id: "a", type: "transform", expression: "{ 'x': 1 }" }] };
    const created = await call("POST", "/v1/workflows", { body: definition });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ id, version: 1, archived: false });
    expect(created.headers.get("location")).toBe(`/v1/workflows/${id}?version=1`);

    const same = await call("POST", "/v1/workflows", { body: definition });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ id, version: 1 });

    const next = await call("POST", "/v1/workflows", { body: { ...definition, name: "Renamed" } });
    expect(next.status).toBe(201);
    expect(next.body).toMatchObject({ version: 2, name: "Renamed" });

    const latest = await call("GET", `/v1/workflows/${id}`);
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ version: 2 });
    const first = await call("GET", `/v1/workflows/${id}?version=1`);
    expect(first.body).toMatchObject({ version: 1, name: "Two steps" });

    const versions = await call<{ items: { version: number; hash: string }[] }>("GET", `/v1/workflows/${id}/versions`);
    expect(versions.status).toBe(200);
    expect(versions.body.items.map((v) => v.version).sort()).toEqual([1, 2]);

    const listed = await call<{ items: { id: string }[] }>("GET", "/v1/workflows?limit=100");
    expect(listed.status).toBe(200);
    expect(listed.body.items.some((w) => w.id === id)).toBe(true);

    const archived = await call("DELETE", `/v1/workflows/${id}`);
    expect(archived.status).toBe(200);
    expect(archived.body).toMatchObject({ id, archived: true });
    const start = await call("POST", "/v1/executions", { body: { workflow_id: id, input: {} } });
    expect(start.status).toBe(409);
    expect(start.body).toMatchObject({ code: "WORKFLOW_ARCHIVED" });
  });

  it("refuses a definition with a cycle, listing where, and writes nothing", async () => {
    const id = uniqueId("cyclic");
    const res = await call<{ code: string; errors: { path: string }[] }>("POST", "/v1/workflows", {
      body: { id, steps: [{ id: "a", type: "transform", expression: "1", needs: ["b"] }, { id: "b", type: "transform", expression: "1", needs: ["a"] }] },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body.code).toBe("VALIDATION_FAILED");
    expect(res.body.errors.length).toBeGreaterThan(0);
    expect((await call("GET", `/v1/workflows/${id}`)).status).toBe(404);
    expect((await call("GET", `/v1/workflows/${id}/versions`)).status).toBe(404);
    expect((await call("DELETE", `/v1/workflows/${id}`)).status).toBe(404);
  });

  it("answers 401 without a key and 400 for a bad page size", async () => {
    const anonymous = await call("GET", "/v1/workflows", { key: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("x-request-id")).toBeTruthy();
    expect((await call("GET", "/v1/workflows?limit=0")).status).toBe(400);
  });

  it("serves /health, the definition JSON Schema and the docs page without a key", async () => {
    const health = await call("GET", "/health", { key: null });
    expect(health.status).toBe(200);
    const schema = await call<{ $schema?: string; type?: string }>("GET", "/v1/schemas/workflow-definition.json", { key: null });
    expect(schema.status).toBe(200);
    expect(schema.body.type).toBe("object");
    const docs = await fetch(`${baseUrl}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("/openapi.json");
  });
});
