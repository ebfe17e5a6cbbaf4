/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys, type ProblemBody } from "../helpers/api";

/** Every example definition (all of them are registered by `npm start`). */
const EXAMPLES = import.meta.glob<{ id: string }>("../../examples/*.json", { eager: true, import: "default" });

interface Version {
  id: string;
  version: number;
  hash: string;
  name: string;
  description?: string;
  archived: boolean;
  created_at: string;
  definition: Record<string, unknown>;
}
interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

function chain(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: "Two-step chain",
    description: "adds one",
    input_schema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] },
    steps: [
      { id: "a", type: "transform", expression: "input.n" },
      { id: "b", type: "transform", needs: ["a"], expression: "steps.a.output + 1" },
    ],
    output: "steps.b.output",
    ...extra,
  };
}

/** The same content with every object's keys in reverse order. */
function reorderKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorderKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reorderKeys(v)]));
  }
  return value;
}

describe("POST /v1/workflows", () => {
  it("registers a new id as version 1, then returns 200 for identical content and 201 for a change", async () => {
    const t = await tenantWithKeys("wfreg");
    const first = await call<Version>("POST", "/v1/workflows", { key: t.operator, body: chain("adder") });
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({ id: "adder", version: 1, name: "Two-step chain", description: "adds one", archived: false });
    expect(first.body.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(first.body.definition).toEqual(chain("adder"));
    expect(first.headers.get("location")).toBe("/v1/workflows/adder?version=1");

    // Same content, keys in another order: same version and hash, nothing new.
    const same = await call<Version>("POST", "/v1/workflows", { key: t.operator, body: reorderKeys(chain("adder")) });
    expect(same.status).toBe(200);
    expect(same.body.version).toBe(1);
    expect(same.body.hash).toBe(first.body.hash);

    const changed = await call<Version>("POST", "/v1/workflows", { key: t.operator, body: chain("adder", { timeout_seconds: 60 }) });
    expect(changed.status).toBe(201);
    expect(changed.body.version).toBe(2);
    expect(changed.body.hash).not.toBe(first.body.hash);

    const versions = await call<Page<Version>>("GET", "/v1/workflows/adder/versions", { key: t.viewer });
    expect(versions.body.items.map((v) => [v.version, v.hash])).toEqual([
      [2, changed.body.hash],
      [1, first.body.hash],
    ]);
    expect(versions.body.items[0]).not.toHaveProperty("definition");
  });

  it("hashes are stable: the same definition hashes the same in another tenant", async () => {
    const a = await tenantWithKeys("wfhasha");
    const b = await tenantWithKeys("wfhashb");
    const ha = await call<Version>("POST", "/v1/workflows", { key: a.admin, body: chain("stable") });
    const hb = await call<Version>("POST", "/v1/workflows", { key: b.admin, body: reorderKeys(chain("stable")) });
    expect(hb.status).toBe(201);
    expect(hb.body.hash).toBe(ha.body.hash);
  });

  it("concurrent identical registrations create exactly one version", async () => {
    const t = await tenantWithKeys("wfrace");
    const results = await Promise.all(
      Array.from({ length: 5 }, () => call<Version>("POST", "/v1/workflows", { key: t.operator, body: chain("racy") })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.version))).toEqual(new Set([1]));
    const versions = await call<Page<Version>>("GET", "/v1/workflows/racy/versions", { key: t.viewer });
    expect(versions.body.items).toHaveLength(1);
  });

  it("registers every example under examples/", async () => {
    const t = await tenantWithKeys("wfexamples");
    expect(Object.keys(EXAMPLES).length).toBeGreaterThan(0);
    for (const [file, example] of Object.entries(EXAMPLES)) {
      const res = await call<Version>("POST", "/v1/workflows", { key: t.operator, body: example });
      expect(res.status, `${file}: ${res.text}`).toBe(201);
      expect(res.body.id).toBe(example.id);
    }
  });

  it("a wait step's literal until must be a real instant: 2026-02-30 is 400 at its path", async () => {
    const t = await tenantWithKeys("wfuntil");
    const definition = (until: string) => ({
      id: "sleepy",
      steps: [
        { id: "a", type: "transform", expression: "1" },
        { id: "nap", type: "wait", until },
      ],
    });
    for (const until of ["2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2027-02-29T12:00:00+01:00"]) {
      const p = expectProblem(await call("POST", "/v1/workflows", { key: t.operator, body: definition(until) }), 400, "VALIDATION_FAILED");
      expect(p.errors!.map((e) => [e.path, e.code]), until).toEqual([["/steps/1/until", "INVALID_TIMESTAMP"]]);
    }
    expect((await call("POST", "/v1/workflows", { key: t.operator, body: definition("2028-02-29T12:00:00+01:00") })).status).toBe(201);
  });

  it("retry_on names codes the engine emits: a misspelt code is 400 listing the known ones", async () => {
    const t = await tenantWithKeys("wfretryon");
    const definition = (retryOn: string[]) => ({
      id: "retrying",
      steps: [
        { id: "a", type: "transform", expression: "1" },
        { id: "call", type: "http", request: { method: "GET", url: "https://api.example/x" }, retry: { max_attempts: 3, retry_on: retryOn } },
      ],
    });
    const p = expectProblem(await call("POST", "/v1/workflows", { key: t.operator, body: definition(["HTTP_STATUS", "TIMEOUT"]) }), 400, "VALIDATION_FAILED");
    expect(p.errors!.map((e) => [e.path, e.code])).toEqual([["/steps/1/retry/retry_on/1", "UNKNOWN_ERROR_CODE"]]);
    const message = p.errors![0]!.message;
    expect(message).toContain("'TIMEOUT'");
    expect(message).toContain("STEP_TIMEOUT"); // the list names the real codes
    for (const code of ["HTTP_STATUS", "NETWORK_ERROR", "STEP_TIMEOUT", "RESPONSE_TOO_LARGE", "INTERRUPTED", "PLUGIN_ERROR", "ANSWERS_TIMEOUT"]) {
      expect(message).toContain(code);
    }
    expect((await call("POST", "/v1/workflows", { key: t.operator, body: definition(["STEP_TIMEOUT", "HTTP_STATUS"]) })).status).toBe(201);
  });

  it("400 lists schema problems with their paths", async () => {
    const t = await tenantWithKeys("wfschema");
    const res = await call("POST", "/v1/workflows", {
      key: t.operator,
      body: {
        id: "Bad Id",
        steps: [
          { id: "fetch-data", type: "transform", expression: "1" },
          { id: "b", type: "teleport" },
          { id: "c", type: "transform", expression: "1", need: ["b"] },
          { id: "d", type: "http", request: { method: "FETCH", url: "https://x.example" } },
        ],
      },
    });
    const p = expectProblem(res, 400, "VALIDATION_FAILED");
    const paths = p.errors!.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["/id", "/steps/0/id", "/steps/2/need", "/steps/3/request/method"]));
    expect(paths.some((path) => path.startsWith("/steps/1"))).toBe(true);
    expect(p.errors!.every((e) => e.in === "body")).toBe(true);
    const hyphen = p.errors!.find((e) => e.path === "/steps/0/id")!;
    expect(hyphen.message).toMatch(/identifier|letters, digits/i);
  });

  it("400 lists every static problem, each with its location", async () => {
    const t = await tenantWithKeys("wfstatic");
    const res = await call("POST", "/v1/workflows", {
      key: t.operator,
      body: {
        id: "broken",
        input_schema: { type: "not-a-type" },
        steps: [
          { id: "a", type: "transform", expression: "1", needs: ["c"] },
          { id: "b", type: "transform", expression: "1", needs: ["a"] },
          { id: "c", type: "transform", expression: "1", needs: ["b"] },
          { id: "a", type: "transform", expression: "2" },
          { id: "d", type: "transform", expression: "steps.e.output", needs: ["ghost"] },
          { id: "e", type: "transform", expression: "1 +", if: "secrets.TOKEN = 'x'" },
        ],
        output: "steps.a.output",
      },
    });
    const p: ProblemBody = expectProblem(res, 400, "VALIDATION_FAILED");
    const byCode = (code: string) => p.errors!.filter((e) => e.code === code);
    expect(byCode("DUPLICATE_STEP_ID").map((e) => e.path)).toEqual(["/steps/3/id"]);
    expect(byCode("CYCLE")).toHaveLength(1);
    expect(byCode("CYCLE")[0]!.message).toMatch(/a → b → c → a|b → c → a → b|c → a → b → c/);
    expect(byCode("UNKNOWN_STEP").map((e) => e.path)).toContain("/steps/4/needs/0");
    expect(byCode("NOT_UPSTREAM").map((e) => e.path)).toEqual(["/steps/4/expression"]);
    expect(byCode("EXPRESSION_SYNTAX").map((e) => e.path)).toEqual(["/steps/5/expression"]);
    expect(byCode("SECRET_NOT_ALLOWED").map((e) => e.path)).toEqual(["/steps/5/if"]);
    expect(byCode("INVALID_INPUT_SCHEMA").length).toBeGreaterThan(0);
    expect(byCode("INVALID_INPUT_SCHEMA")[0]!.path.startsWith("/input_schema")).toBe(true);
    expect(p.detail).toBe(`The definition has ${p.errors!.length} problems.`);
    // Nothing was stored.
    expectProblem(await call("GET", "/v1/workflows/broken", { key: t.viewer }), 404, "WORKFLOW_NOT_FOUND");
  });

  it("refuses a plugin that is not registered and more steps than the limit", async () => {
    const t = await tenantWithKeys("wflimits");
    const plugin = await call("POST", "/v1/workflows", {
      key: t.operator,
      body: { id: "plug", steps: [{ id: "p", type: "plugin", plugin: "no.such.plugin" }] },
    });
    expect(expectProblem(plugin, 400, "VALIDATION_FAILED").errors!.map((e) => e.path)).toEqual(["/steps/0/plugin"]);

    const many = Array.from({ length: 251 }, (_, i) => ({ id: `s${i}`, type: "transform", expression: "1" }));
    const tooMany = await call("POST", "/v1/workflows", { key: t.operator, body: { id: "many", steps: many } });
    expect(expectProblem(tooMany, 400, "VALIDATION_FAILED").errors!.map((e) => e.path)).toEqual(["/steps"]);
  });

  it("403 for viewer and approver, 401 without a key", async () => {
    const t = await tenantWithKeys("wfroles");
    for (const role of ["viewer", "approver"] as const) {
      expectProblem(await call("POST", "/v1/workflows", { key: t[role], body: chain("x") }), 403, "FORBIDDEN");
    }
    expectProblem(await call("POST", "/v1/workflows", { key: null, body: chain("x") }), 401, "UNAUTHORIZED");
    expect((await call("POST", "/v1/workflows", { key: t.admin, body: chain("x") })).status).toBe(201);
  });
});

describe("reading the registry", () => {
  it("GET /v1/workflows/{id} returns the latest or ?version=, 404 for a missing version", async () => {
    const t = await tenantWithKeys("wfget");
    await call("POST", "/v1/workflows", { key: t.operator, body: chain("getme") });
    await call("POST", "/v1/workflows", { key: t.operator, body: chain("getme", { timeout_seconds: 5 }) });
    for (const role of ["admin", "operator", "approver", "viewer"] as const) {
      const latest = await call<Version>("GET", "/v1/workflows/getme", { key: t[role] });
      expect(latest.status).toBe(200);
      expect(latest.body.version).toBe(2);
      expect(latest.body.definition.timeout_seconds).toBe(5);
    }
    const v1 = await call<Version>("GET", "/v1/workflows/getme?version=1", { key: t.viewer });
    expect(v1.body.version).toBe(1);
    expect(v1.body.definition).not.toHaveProperty("timeout_seconds");
    const missing = expectProblem(await call("GET", "/v1/workflows/getme?version=9", { key: t.viewer }), 404, "WORKFLOW_NOT_FOUND");
    expect(missing.detail).toBe("Workflow 'getme' has no version 9.");
    const bad = expectProblem(await call("GET", "/v1/workflows/getme?version=zero", { key: t.viewer }), 400, "VALIDATION_FAILED");
    expect(bad.errors).toEqual([expect.objectContaining({ path: "/version", in: "query" })]);
  });

  it("another tenant's workflow is a 404, exactly like a missing one", async () => {
    const a = await tenantWithKeys("wfxa");
    const b = await tenantWithKeys("wfxb");
    await call("POST", "/v1/workflows", { key: a.operator, body: chain("private-flow") });
    const cross = expectProblem(await call("GET", "/v1/workflows/private-flow", { key: b.admin }), 404, "WORKFLOW_NOT_FOUND");
    const absent = expectProblem(await call("GET", "/v1/workflows/never-existed", { key: b.admin }), 404, "WORKFLOW_NOT_FOUND");
    expect(cross.title).toBe(absent.title);
    expectProblem(await call("GET", "/v1/workflows/private-flow/versions", { key: b.admin }), 404, "WORKFLOW_NOT_FOUND");
    expectProblem(await call("DELETE", "/v1/workflows/private-flow", { key: b.admin }), 404, "WORKFLOW_NOT_FOUND");
    const listed = await call<Page<Version>>("GET", "/v1/workflows", { key: b.admin });
    expect(listed.body.items.map((w) => w.id)).not.toContain("private-flow");
    // B may use the same id for its own workflow.
    const own = await call<Version>("POST", "/v1/workflows", { key: b.operator, body: chain("private-flow") });
    expect(own.status).toBe(201);
    expect(own.body.version).toBe(1);
  });

  it("GET /v1/workflows lists the latest version of each, by id, with cursor paging", async () => {
    const t = await tenantWithKeys("wflist");
    for (const id of ["w-c", "w-a", "w-b"]) await call("POST", "/v1/workflows", { key: t.operator, body: chain(id) });
    await call("POST", "/v1/workflows", { key: t.operator, body: chain("w-b", { timeout_seconds: 9 }) });
    const p1 = await call<Page<Version>>("GET", "/v1/workflows?limit=2", { key: t.viewer });
    expect(p1.body.items.map((w) => [w.id, w.version])).toEqual([
      ["w-a", 1],
      ["w-b", 2],
    ]);
    const p2 = await call<Page<Version>>("GET", `/v1/workflows?limit=2&cursor=${p1.body.next_cursor}`, { key: t.viewer });
    expect(p2.body.items.map((w) => w.id)).toEqual(["w-c"]);
    expect(p2.body.next_cursor).toBeNull();
  });
});

describe("DELETE /v1/workflows/{id}", () => {
  it("archives: listed as archived, versions kept, no new versions", async () => {
    const t = await tenantWithKeys("wfarchive");
    await call("POST", "/v1/workflows", { key: t.operator, body: chain("old-flow") });
    await call("POST", "/v1/workflows", { key: t.operator, body: chain("live-flow") });
    expectProblem(await call("DELETE", "/v1/workflows/old-flow", { key: t.viewer }), 403, "FORBIDDEN");

    const res = await call<Version>("DELETE", "/v1/workflows/old-flow", { key: t.operator });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: "old-flow", version: 1, archived: true });

    expect((await call<Version>("GET", "/v1/workflows/old-flow", { key: t.viewer })).body.archived).toBe(true);
    const archived = await call<Page<Version>>("GET", "/v1/workflows?archived=true", { key: t.viewer });
    expect(archived.body.items.map((w) => w.id)).toEqual(["old-flow"]);
    const active = await call<Page<Version>>("GET", "/v1/workflows?archived=false", { key: t.viewer });
    expect(active.body.items.map((w) => w.id)).toEqual(["live-flow"]);
    const all = await call<Page<Version>>("GET", "/v1/workflows", { key: t.viewer });
    expect(all.body.items.map((w) => [w.id, w.archived])).toEqual([
      ["live-flow", false],
      ["old-flow", true],
    ]);

    const again = await call("POST", "/v1/workflows", { key: t.operator, body: chain("old-flow", { timeout_seconds: 1 }) });
    expectProblem(again, 409, "WORKFLOW_ARCHIVED");
    const versions = await call<Page<Version>>("GET", "/v1/workflows/old-flow/versions", { key: t.viewer });
    expect(versions.body.items.map((v) => v.version)).toEqual([1]);

    // Archiving twice is harmless.
    expect((await call("DELETE", "/v1/workflows/old-flow", { key: t.operator })).status).toBe(200);
  });

  it("writes are audited with the workflow id as target", async () => {
    const t = await tenantWithKeys("wfaudit");
    await call("POST", "/v1/workflows", { key: t.operator, body: chain("audited") });
    await call("DELETE", "/v1/workflows/audited", { key: t.operator });
    const res = await call<Page<{ action: string; target: string; result: string; detail: Record<string, unknown> | null }>>(
      "GET",
      "/v1/audit?limit=10",
      { key: t.admin },
    );
    const wf = res.body.items.filter((e) => e.action.startsWith("workflow."));
    expect(wf.map((e) => [e.action, e.target, e.result])).toEqual([
      ["workflow.archive", "audited", "success"],
      ["workflow.register", "audited", "success"],
    ]);
    expect(wf[1]!.detail).toMatchObject({ version: 1, created: true });
  });
});
