import { describe, expect, it } from "vitest";
import { call, expectProblem } from "../helpers/api";

describe("service routes", () => {
  it("GET /health answers without credentials", async () => {
    const res = await call<{ status: string; service: string }>("GET", "/health", { key: null });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "ok", service: "stepline" });
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it("GET /docs serves the interactive reference pointing at /openapi.json", async () => {
    const res = await call("GET", "/docs", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    expect(res.text).toContain("/openapi.json");
    // The UI bundle is our own static asset, not a CDN: the page works offline.
    expect(res.text).toContain('src="/vendor/scalar/standalone.js"');
    expect(res.text).not.toMatch(/cdn\.jsdelivr|unpkg\.com/);
  });

  it("GET /v1/schemas/workflow-definition.json is a 2020-12 JSON Schema of a definition", async () => {
    const res = await call<Record<string, unknown>>("GET", "/v1/schemas/workflow-definition.json", { key: null });
    expect(res.status).toBe(200);
    expect(res.body.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(res.body.$id).toBe("http://stepline.test/v1/schemas/workflow-definition.json");
    expect(res.body.type).toBe("object");
    expect(res.body.required).toEqual(expect.arrayContaining(["id", "steps"]));
    const text = JSON.stringify(res.body);
    for (const type of ["http", "transform", "wait", "approval", "input", "plugin", "llm", "map", "workflow"]) {
      expect(text).toContain(`"const":"${type}"`);
    }
  });
});

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1, declares both key schemes, and documents every route", async () => {
    const res = await call<{
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    }>("GET", "/openapi.json", { key: null });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: "http", scheme: "bearer" }),
      apiKeyHeader: expect.objectContaining({ type: "apiKey", in: "header", name: "X-API-Key" }),
    });
    const routes = Object.entries(res.body.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes.sort()).toEqual(
      [
        "GET /health",
        "GET /v1/schemas/workflow-definition.json",
        "POST /v1/workflows",
        "GET /v1/workflows",
        "GET /v1/workflows/{id}",
        "DELETE /v1/workflows/{id}",
        "GET /v1/workflows/{id}/versions",
        "POST /v1/api-keys",
        "GET /v1/api-keys",
        "DELETE /v1/api-keys/{id}",
        "GET /v1/audit",
        "POST /v1/executions",
        "GET /v1/executions",
        "GET /v1/executions/{id}",
        "GET /v1/executions/{id}/result",
        "GET /v1/executions/{id}/steps",
        "GET /v1/executions/{id}/events",
        "POST /v1/executions/{id}/cancel",
        "POST /v1/executions/{id}/pause",
        "POST /v1/executions/{id}/resume",
        "POST /v1/executions/{id}/retry",
        "POST /v1/executions/{id}/stream-token",
        "GET /v1/executions/{id}/ws",
        "POST /v1/executions/{id}/approval",
        "POST /v1/executions/{id}/steps/{step_id}/answers",
      ].sort(),
    );
    // Every /v1 route except the public schema requires a key and documents its problems.
    for (const [path, ops] of Object.entries(res.body.paths)) {
      if (!path.startsWith("/v1/") || path.startsWith("/v1/schemas/")) continue;
      for (const op of Object.values(ops)) {
        expect(op.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["401", "403"]));
      }
    }
    expect(Object.keys(res.body.components.schemas)).toEqual(
      expect.arrayContaining(["WorkflowDefinition", "WorkflowVersion", "Problem", "FieldError", "ApiKey", "AuditEntry", "Execution", "Step", "Event"]),
    );
  });
});

describe("problem+json conventions", () => {
  it("answers an unknown route with a 404 problem", async () => {
    const res = await call("GET", "/v1/nothing-here", { key: null });
    const p = expectProblem(res, 404, "ROUTE_NOT_FOUND");
    expect(p.detail).toBe("No route for GET /v1/nothing-here.");
  });

  it("honours a well-formed incoming X-Request-Id and replaces a malformed one", async () => {
    const good = await call("GET", "/v1/nothing", { headers: { "x-request-id": "client-trace-0001" } });
    expect(good.headers.get("x-request-id")).toBe("client-trace-0001");
    expect((good.body as { request_id: string }).request_id).toBe("client-trace-0001");
    const bad = await call("GET", "/health", { headers: { "x-request-id": "has spaces\tand\ttabs" } });
    expect(bad.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it("rejects malformed JSON with 400 MALFORMED_JSON", async () => {
    const res = await call("POST", "/v1/workflows", { rawBody: '{"id": "x", ' });
    expectProblem(res, 400, "MALFORMED_JSON");
  });

  it("rejects a non-JSON body with 415", async () => {
    const res = await call("POST", "/v1/workflows", { rawBody: "id=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    const p = expectProblem(res, 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(p.detail).toContain("application/x-www-form-urlencoded");
  });

  it("rejects a body over 1 MiB with 413, with or without Content-Length", async () => {
    const big = JSON.stringify({ id: "big", steps: [], padding: "x".repeat(1024 * 1024) });
    expectProblem(await call("POST", "/v1/workflows", { rawBody: big }), 413, "PAYLOAD_TOO_LARGE");
    // A streamed body has no Content-Length: the limit is enforced while reading.
    const { exports } = await import("cloudflare:workers");
    const stream = new Blob([big]).stream();
    const res = await exports.default.fetch(
      new Request("http://stepline.test/v1/workflows", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer x" },
        body: stream,
        // @ts-expect-error duplex is required for streamed request bodies in workerd's fetch types
        duplex: "half",
      }),
    );
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("lists every failing field of a request in `errors` with its location", async () => {
    const res = await call("GET", "/v1/audit?limit=0&result=maybe&from=yesterday");
    const p = expectProblem(res, 400, "VALIDATION_FAILED");
    expect(p.errors?.map((e) => [e.in, e.path]).sort()).toEqual([
      ["query", "/from"],
      ["query", "/limit"],
      ["query", "/result"],
    ]);
  });
});

describe("authentication", () => {
  it("401 without a key, with a WWW-Authenticate challenge", async () => {
    const res = await call("GET", "/v1/workflows", { key: null });
    const p = expectProblem(res, 401, "UNAUTHORIZED");
    expect(p.detail).toContain("Authorization: Bearer");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("401 for an unknown key, whether sent as Bearer or X-API-Key", async () => {
    expectProblem(await call("GET", "/v1/workflows", { key: "stp_not-a-real-key" }), 401, "UNAUTHORIZED");
    expectProblem(await call("GET", "/v1/workflows", { key: null, headers: { "x-api-key": "stp_nope" } }), 401, "UNAUTHORIZED");
  });

  it("accepts the bootstrap admin key in either header", async () => {
    expect((await call("GET", "/v1/api-keys")).status).toBe(200);
    const { ADMIN_KEY } = await import("../helpers/api");
    expect((await call("GET", "/v1/api-keys", { key: null, headers: { "x-api-key": ADMIN_KEY } })).status).toBe(200);
  });
});
