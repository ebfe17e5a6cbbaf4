import { Validator, type Schema } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys, type ApiResponse } from "../helpers/api";
import { start, waitForStatus } from "../helpers/executions";

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
        "GET /v1/api-keys/current",
        "GET /v1/audit",
        "GET /v1/prices",
        "GET /v1/prices/{model}",
        "PUT /v1/prices/{model}",
        "DELETE /v1/prices/{model}",
        "POST /v1/budgets",
        "GET /v1/budgets",
        "GET /v1/budgets/{id}",
        "GET /v1/concurrency/{key}",
        "PATCH /v1/budgets/{id}",
        "DELETE /v1/budgets/{id}",
        "GET /v1/telemetry/summary",
        "GET /v1/telemetry/workflows/{id}/stats",
        "POST /v1/executions",
        "GET /v1/executions",
        "GET /v1/executions/{id}",
        "GET /v1/executions/{id}/result",
        "GET /v1/executions/{id}/steps",
        "GET /v1/executions/{id}/costs",
        "GET /v1/executions/{id}/events",
        "POST /v1/executions/{id}/cancel",
        "POST /v1/executions/{id}/pause",
        "POST /v1/executions/{id}/resume",
        "POST /v1/executions/{id}/retry",
        "POST /v1/executions/{id}/stream-token",
        "GET /v1/executions/{id}/ws",
        "POST /v1/executions/{id}/approval",
        "POST /v1/executions/{id}/budget",
        "POST /v1/executions/{id}/steps/{step_id}/answers",
        "POST /v1/executions/{id}/signals/{event}",
        "POST /v1/callbacks/{token}",
        "GET /v1/executions/{id}/steps/{step_id}/items",
        "GET /v1/inbox",
        "GET /v1/executions/{id}/retry-preview",
        "POST /v1/executions/bulk",
        "GET /v1/bulk/{id}",
        "POST /v1/workflows/{id}/test",
      ].sort(),
    );
    // Every /v1 route except the public schema and the callback URL requires a key and documents its problems.
    for (const [path, ops] of Object.entries(res.body.paths)) {
      if (!path.startsWith("/v1/") || path.startsWith("/v1/schemas/") || path === "/v1/callbacks/{token}") continue;
      for (const op of Object.values(ops)) {
        expect(op.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["401", "403"]));
      }
    }
    expect(Object.keys(res.body.components.schemas)).toEqual(
      expect.arrayContaining([
        "WorkflowDefinition",
        "WorkflowVersion",
        "Problem",
        "FieldError",
        "ApiKey",
        "AuditEntry",
        "Execution",
        "Step",
        "StepTrace",
        "StepAttempt",
        "JsonValue",
        "Event",
        "Budget",
        "BudgetPage",
        "TelemetrySummary",
        "WorkflowStats",
      ]),
    );
  });

  it("names every operation, tags it with a declared tag, and documents its success and problem answers", async () => {
    const doc = await openApiDocument();
    const declaredTags = (doc.tags ?? []).map((t) => t.name);
    for (const tag of doc.tags ?? []) expect(tag.description, tag.name).toBeTruthy();
    const ids: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.operationId, where).toMatch(/^[a-z][a-zA-Z0-9]+$/);
        ids.push(op.operationId!);
        expect(op.summary, where).toBeTruthy();
        expect(op.tags?.length, where).toBe(1);
        expect(declaredTags, where).toContain(op.tags![0]);
        const statuses = Object.keys(op.responses);
        expect(statuses.some((s) => /^(2\d\d|101)$/.test(s)), where).toBe(true);
        // Public routes say so with an empty requirement; guarded ones name both key schemes.
        // The callback URL is its own authority (a signed one-use token), like the health check and schemas needing none.
        const isPublic = path === "/health" || path.startsWith("/v1/schemas/") || path === "/v1/callbacks/{token}";
        expect(op.security, where).toEqual(isPublic ? [] : [{ bearerAuth: [] }, { apiKeyHeader: [] }]);
        expect(statuses, where).toEqual(expect.arrayContaining(isPublic ? ["500"] : ["401", "403", "500"]));
        // A concurrency key names no stored resource: a key nobody holds answers 200 (idle), never 404.
        const named = path === "/v1/concurrency/{key}";
        if (path.includes("{")) expect(statuses, where).toEqual(expect.arrayContaining(named ? ["400"] : ["400", "404"]));
        if (op.requestBody) expect(statuses, where).toEqual(expect.arrayContaining(["400", "413", "415"]));
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          expect(response.content, `${where} ${status}`).toEqual({ "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } });
        }
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(
      [
        "getHealth",
        "getWorkflowDefinitionSchema",
        "registerWorkflow",
        "listWorkflows",
        "getWorkflow",
        "archiveWorkflow",
        "listWorkflowVersions",
        "startExecution",
        "listExecutions",
        "getExecution",
        "getExecutionResult",
        "listExecutionSteps",
        "getExecutionCosts",
        "listExecutionEvents",
        "cancelExecution",
        "pauseExecution",
        "resumeExecution",
        "retryExecution",
        "createStreamToken",
        "openExecutionSocket",
        "decideApproval",
        "raiseExecutionBudget",
        "answerStep",
        "sendSignal",
        "sendCallback",
        "listMapItems",
        "listInbox",
        "previewRetry",
        "startBulk",
        "getBulk",
        "testWorkflow",
        "createApiKey",
        "listApiKeys",
        "revokeApiKey",
        "getCurrentApiKey",
        "listAuditEntries",
        "listPrices",
        "getPrice",
        "setPrice",
        "deletePrice",
        "createBudget",
        "listBudgets",
        "getBudget",
        "getConcurrencyKey",
        "updateBudget",
        "deleteBudget",
        "getTelemetrySummary",
        "getWorkflowStats",
      ].sort(),
    );
  });
});

// ---- the contract against real responses

interface OpenApiOperation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
interface OpenApiDocument {
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, unknown> };
}

async function openApiDocument(): Promise<OpenApiDocument> {
  const res = await call<OpenApiDocument>("GET", "/openapi.json", { key: null });
  expect(res.status).toBe(200);
  return res.body;
}

/**
 * A validating client built from our own /openapi.json: the status must be one the operation
 * declares, and the body must match that response's schema (components moved under `$defs`, so
 * a JSON Schema 2020-12 validator resolves the `$ref`s).
 */
function conformsTo(doc: OpenApiDocument, method: string, path: string, res: ApiResponse<unknown>): void {
  const where = `${method} ${path} → ${res.status}`;
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op, where).toBeDefined();
  const response = op!.responses[String(res.status)];
  expect(response, `${where} is not declared`).toBeDefined();
  const mediaType = res.headers.get("content-type")?.split(";")[0]?.trim() ?? "";
  const media = response!.content?.[mediaType];
  expect(media, `${where}: ${mediaType} is not declared`).toBeDefined();
  const schema = JSON.parse(JSON.stringify({ ...(media!.schema as object), $defs: doc.components.schemas }).replaceAll("#/components/schemas/", "#/$defs/"));
  const result = new Validator(schema as Schema, "2020-12", false).validate(res.body);
  expect(result.errors.filter((e) => e.keyword !== "$ref" && e.keyword !== "properties"), `${where}: ${res.text}`).toEqual([]);
  expect(result.valid, where).toBe(true);
}

describe("the published contract matches the service", { timeout: 30_000 }, () => {
  it("every response of a run with outputs of every JSON shape, a failed step and a pending approval validates", async () => {
    const doc = await openApiDocument();
    const t = await tenantWithKeys("contract");
    const check = async (method: string, path: string, real: string, opts: Parameters<typeof call>[2] = {}) => {
      const res = await call(method, real, { key: t.admin, ...opts });
      conformsTo(doc, method, path, res);
      return res;
    };

    const shapes = {
      id: "shapes",
      steps: [
        { id: "obj", type: "transform", expression: "{ 'value': 42, 'nested': { 'list': [1, 'two', true] } }" },
        { id: "arr", type: "transform", expression: "[1, [2, 3], { 'four': 4 }]" },
        { id: "nul", type: "transform", expression: "null" },
        { id: "str", type: "transform", expression: "'text'" },
        { id: "num", type: "transform", expression: "3.5" },
        { id: "yes", type: "transform", expression: "true" },
        { id: "boom", type: "transform", expression: "$error('boom')", on_error: "continue" },
      ],
      output: "steps.nul.output",
    };
    expect((await check("POST", "/v1/workflows", "/v1/workflows", { body: shapes })).status).toBe(201);
    await check("GET", "/v1/workflows", "/v1/workflows");
    await check("GET", "/v1/workflows/{id}", "/v1/workflows/shapes");
    await check("GET", "/v1/workflows/{id}/versions", "/v1/workflows/shapes/versions");
    await check("POST", "/v1/workflows/{id}/test", "/v1/workflows/shapes/test", { body: { input: [null, "any", 1] } });
    await check("POST", "/v1/workflows/{id}/test", "/v1/workflows/nope/test", { body: {} }); // 404

    const started = await start(t.operator, { workflow_id: "shapes", input: [null, "any", 1] });
    conformsTo(doc, "POST", "/v1/executions", started);
    const id = started.body.id;
    const ended = await waitForStatus(t.viewer, id, ["completed", "partial", "failed"]);
    expect(ended.output).toBeNull();
    await check("GET", "/v1/executions/{id}", `/v1/executions/${id}`);
    const steps = await check("GET", "/v1/executions/{id}/steps", `/v1/executions/${id}/steps`);
    const outputs = Object.fromEntries((steps.body as { items: { id: string; output?: unknown }[] }).items.map((s) => [s.id, s.output]));
    expect(outputs).toMatchObject({ obj: { value: 42 }, arr: [1, [2, 3], { four: 4 }], nul: null, str: "text", num: 3.5, yes: true });
    await check("GET", "/v1/executions/{id}/costs", `/v1/executions/${id}/costs`);
    await check("GET", "/v1/executions/{id}/events", `/v1/executions/${id}/events?limit=1000`);
    await check("GET", "/v1/executions/{id}/result", `/v1/executions/${id}/result`);
    await check("GET", "/v1/executions", "/v1/executions");
    const bulk = await check("POST", "/v1/executions/bulk", "/v1/executions/bulk", { body: { action: "cancel", filter: { workflow_id: "shapes" } } });
    await check("GET", "/v1/bulk/{id}", `/v1/bulk/${(bulk.body as { id: string }).id}`);
    await check("POST", "/v1/executions/bulk", "/v1/executions/bulk", { body: { action: "pause", filter: {} } }); // 400
    await check("GET", "/v1/bulk/{id}", "/v1/bulk/bk_00000000000000000000000000000000"); // 404
    await check("GET", "/v1/telemetry/summary", "/v1/telemetry/summary");
    await check("GET", "/v1/telemetry/workflows/{id}/stats", "/v1/telemetry/workflows/shapes/stats");
    await check("GET", "/v1/telemetry/summary", "/v1/telemetry/summary?from=tomorrow"); // 400
    await check("POST", "/v1/executions/{id}/stream-token", `/v1/executions/${id}/stream-token`);
    await check("POST", "/v1/executions/{id}/cancel", `/v1/executions/${id}/cancel`); // 409: it has ended

    const gated = await start(t.operator, {
      definition: {
        id: "gated",
        steps: [{ id: "ship_it", type: "approval", comment: "Ship?" }],
      },
      input: { version: 2 },
    });
    conformsTo(doc, "POST", "/v1/executions", gated);
    const waiting = await waitForStatus(t.viewer, gated.body.id, ["waiting"]);
    expect(waiting.waiting_for).toMatchObject({ kind: "approval", step_id: "ship_it" });
    await check("GET", "/v1/executions/{id}", `/v1/executions/${gated.body.id}`);
    await check("GET", "/v1/executions/{id}/steps", `/v1/executions/${gated.body.id}/steps`);
    await check("GET", "/v1/executions/{id}/result", `/v1/executions/${gated.body.id}/result`); // 409: not ended
    await check("POST", "/v1/executions/{id}/approval", `/v1/executions/${gated.body.id}/approval`, {
      body: { decision: "reject", step_id: "ship_it", comment: "not today" },
    });
    await check("GET", "/v1/executions/{id}", `/v1/executions/${gated.body.id}`);

    await check("GET", "/v1/executions/{id}", "/v1/executions/ex_00000000000000000000000000000000"); // 404
    await check("GET", "/v1/executions", "/v1/executions?limit=0"); // 400
    await check("GET", "/v1/executions", "/v1/executions", { key: null }); // 401
    await check("GET", "/v1/audit", "/v1/audit", { key: t.viewer }); // 403
    await check("GET", "/v1/audit", "/v1/audit");
    const created = await check("POST", "/v1/api-keys", "/v1/api-keys", { body: { name: "contract", role: "viewer" } });
    await check("GET", "/v1/api-keys", "/v1/api-keys");
    await check("GET", "/v1/api-keys/current", "/v1/api-keys/current");
    await check("DELETE", "/v1/api-keys/{id}", `/v1/api-keys/${(created.body as { id: string }).id}`);
    await check("DELETE", "/v1/workflows/{id}", "/v1/workflows/shapes");
    await check("GET", "/health", "/health", { key: null });
    await check("GET", "/v1/schemas/workflow-definition.json", "/v1/schemas/workflow-definition.json", { key: null });
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
