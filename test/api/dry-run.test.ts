/**
 * Dry runs (SPEC §10, `POST /v1/workflows/{id}/test`) through the real app: nothing reaches the
 * upstream, nothing is written to D1 but the request's own audit row, no execution is left;
 * mocks, retries, fast-forwarded waits, approvals, answers and signals; refusals.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import { register } from "../helpers/executions";
import { hits, marker, UPSTREAM } from "../helpers/upstream";

interface DryRunStep {
  id: string;
  type: string;
  status: string;
  attempts: number;
  output?: unknown;
  error?: { code: string; message: string; step_id?: string; attempt?: number };
  mocked: boolean;
  would_send?: { method: string; url: string; headers: Record<string, string>; body: string | null };
}
interface DryRunResult {
  status: string;
  output?: unknown;
  error?: { code: string; step_id?: string };
  steps: DryRunStep[];
  events: { time: string; type: string; step_id?: string; data: Record<string, unknown> }[];
}

/** The Worker secret the definitions below name as `secrets.API_TOKEN` (vitest.config.ts). */
const TOKEN = (env as unknown as Record<string, string>).SECRET_API_TOKEN!;

const test = (key: string, id: string, body: unknown) => call<DryRunResult>("POST", `/v1/workflows/${id}/test`, { key, body });

/** Rows in every D1 table: the tenant's where the table has a tenant column, all of them otherwise. */
async function rowCounts(tenant: string): Promise<Record<string, number>> {
  const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name != 'd1_migrations'").all<{ name: string }>();
  const counts: Record<string, number> = {};
  for (const { name } of tables.results) {
    const columns = await env.DB.prepare(`PRAGMA table_info("${name}")`).all<{ name: string }>();
    const byTenant = columns.results.some((c) => c.name === "tenant");
    const row = await (byTenant ? env.DB.prepare(`SELECT COUNT(*) AS n FROM "${name}" WHERE tenant = ?1`).bind(tenant) : env.DB.prepare(`SELECT COUNT(*) AS n FROM "${name}"`)).first<{ n: number }>();
    counts[name] = row!.n;
  }
  return counts;
}

describe("POST /v1/workflows/{id}/test", { timeout: 30_000 }, () => {
  it("an http step sends nothing and writes nothing: 0 upstream requests, 0 D1 rows (but the audit row), no execution; would_send masks the secret", async () => {
    const t = await tenantWithKeys();
    const m = marker("dry");
    await register(t.operator, {
      id: "pays",
      input_schema: { type: "object", required: ["id"], properties: { id: { type: "string" } } },
      steps: [
        { id: "pay", type: "http", request: { method: "POST", url: `${UPSTREAM}/echo/${m}/{{ input.id }}`, headers: { authorization: "Bearer {{ secrets.API_TOKEN }}" }, body: { id: "{{ input.id }}" } } },
        { id: "child", type: "workflow", workflow_id: "pays", needs: ["pay"], input: { id: "x" } },
      ],
    });
    const before = await rowCounts(t.tenant);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(["executions", "execution_labels", "usage_records", "inbox", "execution_rollups", "audit_log"]));
    const res = await test(t.operator, "pays", { input: { id: "inv-7" } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("completed");
    expect(res.body.steps).toEqual([
      {
        id: "pay",
        type: "http",
        status: "completed",
        attempts: 1,
        output: null,
        mocked: false,
        would_send: {
          method: "POST",
          url: `${UPSTREAM}/echo/${m}/inv-7`,
          headers: { authorization: "Bearer ***", "content-type": "application/json", "idempotency-key": expect.stringMatching(/^ex_[0-9a-f]{32}:pay$/) },
          body: '{"id":"inv-7"}',
        },
      },
      { id: "child", type: "workflow", status: "completed", attempts: 1, output: null, mocked: false },
    ]);
    expect(TOKEN).toMatch(/^tok-/); // the secret is set, so its absence below means it was masked
    expect(res.text).not.toContain(TOKEN);
    expect(await hits(m)).toBe(0);
    const after = await rowCounts(t.tenant);
    // The one row the request itself leaves: its audit entry (a write request, like every guarded POST).
    expect(after).toEqual({ ...before, audit_log: before.audit_log! + 1 });
    const audit = await call<{ items: { action: string; result: string }[] }>("GET", "/v1/audit?action=workflow.test", { key: t.admin });
    expect(audit.body.items).toEqual([expect.objectContaining({ action: "workflow.test", result: "success" })]);
    expect((await call<{ items: unknown[] }>("GET", "/v1/executions?workflow_id=pays", { key: t.viewer })).body.items).toEqual([]);
  });

  it("mocks: an output feeds what needs it; an error goes through the retry policy and fails the run", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, {
      id: "sums",
      steps: [
        { id: "fetch", type: "http", request: { method: "GET", url: `${UPSTREAM}/json` }, retry: { max_attempts: 3, initial_interval_ms: 1000, jitter: false } },
        { id: "double", type: "transform", needs: ["fetch"], expression: "steps.fetch.output.body.total * 2" },
      ],
      output: "steps.double.output",
    });
    const ok = await test(t.operator, "sums", { mocks: { fetch: { output: { status: 200, body: { total: 21 } } } } });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ status: "completed", output: 42 });
    expect(ok.body.steps[0]).toMatchObject({ id: "fetch", mocked: true, attempts: 1 });
    expect(ok.body.steps[0]!.would_send).toBeUndefined();

    const failed = await test(t.operator, "sums", { mocks: { fetch: { error: { code: "HTTP_STATUS", message: "503 Service Unavailable" } } } });
    expect(failed.status, failed.text).toBe(200);
    expect(failed.body).toMatchObject({ status: "failed", error: { code: "HTTP_STATUS", step_id: "fetch" } });
    expect(failed.body.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ["fetch", "failed", 3],
      ["double", "cancelled", 0],
    ]);
    expect(failed.body.events.filter((e) => e.type === "step.retrying")).toHaveLength(2);
  });

  it("a wait is fast-forwarded; approve true and false decide the approval step", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, {
      id: "ships",
      steps: [
        { id: "nap", type: "wait", seconds: 86400 },
        { id: "ok", type: "approval", needs: ["nap"], comment: "Ship {{ input.v }}?" },
        { id: "ship", type: "transform", needs: ["ok"], expression: "'shipped ' & input.v" },
      ],
      output: "steps.ship.output",
    });
    const startedAt = Date.now();
    const yes = await test(t.operator, "ships", { input: { v: "1.2" }, approve: true });
    expect(yes.status, yes.text).toBe(200);
    expect(Date.now() - startedAt).toBeLessThan(10_000); // a day's wait did not last
    expect(yes.body).toMatchObject({ status: "completed", output: "shipped 1.2" });
    const waited = Date.parse((yes.body.steps[0]!.output as { waited_until: string }).waited_until);
    expect(waited - startedAt).toBeGreaterThanOrEqual(86_400_000);
    expect(yes.body.steps[1]).toMatchObject({ status: "completed", output: { approved: true, by: "dry-run" } });
    expect(yes.body.events.find((e) => e.type === "approval.requested")?.data).toMatchObject({ request_comment: "Ship 1.2?" });

    const no = await test(t.operator, "ships", { input: { v: "1.2" }, approve: false });
    expect(no.body).toMatchObject({ status: "rejected", error: { code: "APPROVAL_REJECTED", step_id: "ok" } });
    expect(no.body.steps.map((s) => s.status)).toEqual(["completed", "cancelled", "cancelled"]);
  });

  it("answers complete an input step (defaults filled); a signal completes an event step with its data", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, {
      id: "asks",
      steps: [
        { id: "ask", type: "input", questions: [{ id: "amount", prompt: "How much?", type: "number" }, { id: "note", prompt: "Note?", type: "string", default: "none" }] },
        { id: "paid", type: "event", event: "payment.settled", needs: ["ask"], schema: { type: "object", required: ["ref"] } },
      ],
      output: "{ 'amount': steps.ask.output.amount, 'ref': steps.paid.output.data.ref }",
    });
    const res = await test(t.operator, "asks", { answers: { ask: { amount: 12 } }, signals: { "payment.settled": { ref: "tx-9" } } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "completed", output: { amount: 12, ref: "tx-9" } });
    expect(res.body.steps[0]!.output).toEqual({ amount: 12, note: "none" });
    expect(res.body.steps[1]!.output).toMatchObject({ data: { ref: "tx-9" }, via: "signal" });
    expect(res.body.events.map((e) => e.type)).toEqual(expect.arrayContaining(["answers.requested", "answers.received", "signal.received"]));
  });

  it("400 lists every bad mock, answer and signal; a wrong mock shape is 400 too; a bad input is the start's 400", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, {
      id: "checks",
      input_schema: { type: "object", required: ["n"], properties: { n: { type: "number" } } },
      steps: [
        { id: "ask", type: "input", questions: [{ id: "ok", prompt: "OK?", type: "boolean" }] },
        { id: "paid", type: "event", event: "go", schema: { type: "object", required: ["ref"] } },
      ],
    });
    const bad = expectProblem(
      await test(t.operator, "checks", {
        input: { n: 1 },
        mocks: { nope: { output: 1 }, "also/nope": { output: 2 }, ask: { output: true } },
        answers: { ask: { ok: "yes" }, paid: {}, ghost: {} },
        signals: { go: { reff: 1 }, stop: 1 },
      }),
      400,
      "VALIDATION_FAILED",
    );
    expect(bad.errors!.map((e) => [e.path, e.code])).toEqual([
      ["/mocks/nope", "UNKNOWN_STEP"],
      ["/mocks/also~1nope", "UNKNOWN_STEP"],
      ["/answers/ask/ok", "INVALID_ANSWER"],
      ["/answers/paid", "UNKNOWN_STEP"],
      ["/answers/ghost", "UNKNOWN_STEP"],
      ["/signals/go", "INVALID_SIGNAL"],
      ["/signals/stop", "UNKNOWN_EVENT"],
    ]);
    const shapes = expectProblem(await test(t.operator, "checks", { input: { n: 1 }, mocks: { ask: { outptu: 1 }, paid: { error: { code: "x" } } } }), 400, "VALIDATION_FAILED");
    // Each wrong mock is named (a union's problems point inside the mock: a missing `output`, an unknown key, a bad code).
    const shapePaths = shapes.errors!.map((e) => e.path.split("/").slice(0, 3).join("/"));
    expect(new Set(shapePaths)).toEqual(new Set(["/mocks/ask", "/mocks/paid"]));
    const input = expectProblem(await test(t.operator, "checks", { input: { n: "one" } }), 400, "VALIDATION_FAILED");
    expect(input.errors).toEqual([expect.objectContaining({ path: "/input/n", code: "INPUT_SCHEMA" })]);
  });

  it("403 for a viewer (executions:operate); 404 for an unknown workflow or version", async () => {
    const t = await tenantWithKeys();
    await register(t.operator, { id: "one", steps: [{ id: "a", type: "transform", expression: "1" }] });
    expectProblem(await test(t.viewer, "one", {}), 403, "FORBIDDEN");
    expectProblem(await test(t.operator, "nope", {}), 404, "WORKFLOW_NOT_FOUND");
    expectProblem(await test(t.operator, "one", { version: 9 }), 404, "WORKFLOW_NOT_FOUND");
    const other = await tenantWithKeys();
    expectProblem(await test(other.operator, "one", {}), 404, "WORKFLOW_NOT_FOUND");
    expect((await test(t.approver, "one", {})).status).toBe(403);
    expect((await test(t.admin, "one", {})).body).toMatchObject({ status: "completed" });
  });
});
