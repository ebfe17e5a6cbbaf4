/**
 * Bulk actions (SPEC §10) through the real app and the real objects: `POST /v1/executions/bulk`
 * cancels or retries what a listing filter matches, in the bulk's own Durable Object, page by page,
 * one audit row per execution changed; the same request again and an object cut off mid-bulk act on
 * no execution twice.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { BulkObject } from "../../src/durable/bulk/bulk-object";
import type { BulkDeps } from "../../src/durable/bulk/bulk-run";
import { bulkIdFor } from "../../src/services/bulk";
import { call, eventually, expectProblem, tenantWithKeys } from "../helpers/api";
import { eventsOf, start, type ExecutionBody } from "../helpers/executions";

interface BulkBody {
  id: string;
  action: string;
  status: "running" | "completed";
  filter: Record<string, string>;
  matched: number;
  done: number;
  skipped: number;
  failed: number;
  created_at: string;
  finished_at?: string;
}

const postBulk = (key: string, body: unknown, idempotencyKey?: string) =>
  call<BulkBody>("POST", "/v1/executions/bulk", { key, body, headers: idempotencyKey ? { "idempotency-key": idempotencyKey } : {} });

/** Polls the bulk until it has ended (it runs in its object's alarms, not in the request). */
async function bulkEnded(key: string, id: string, ms = 120_000): Promise<BulkBody> {
  return eventually(async () => {
    const res = await call<BulkBody>("GET", `/v1/bulk/${id}`, { key });
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("completed");
    return res.body;
  }, ms);
}

/** A workflow that sleeps ten minutes: its executions wait (and can be cancelled) for the whole test. */
const napping = (id: string) => ({ id, steps: [{ id: "nap", type: "wait", seconds: 600 }] });
/** A workflow whose every run fails at once: a retry of it fails again, and would show as a third attempt. */
const alwaysFails = (id: string) => ({ id, steps: [{ id: "boom", type: "transform", expression: "$error('always fails')", retry: { max_attempts: 1 } }] });

/** Starts `n` executions, 20 at a time; their ids. */
async function startMany(key: string, n: number, body: Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => start(key, body)));
    for (const res of batch) {
      expect(res.status, res.text).toBe(202);
      ids.push(res.body.id);
    }
  }
  return ids;
}

/** Waits until the D1 index (what a bulk walks) shows `n` executions of the workflow with `status`. */
async function indexed(tenant: string, workflowId: string, status: string, n: number): Promise<void> {
  await eventually(async () => {
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM executions WHERE tenant = ?1 AND workflow_id = ?2 AND status = ?3")
      .bind(tenant, workflowId, status)
      .first<{ n: number }>();
    expect(row?.n).toBe(n);
  }, 90_000);
}

/** The audit rows naming the bulk, as flushed to D1 by the executions' outboxes. */
async function auditRowsOf(tenant: string, bulkId: string) {
  const { results } = await env.DB.prepare(
    "SELECT action, target, actor, result, status, request_id FROM audit_log WHERE tenant = ?1 AND json_extract(detail, '$.bulk_id') = ?2",
  )
    .bind(tenant, bulkId)
    .all<{ action: string; target: string; actor: string; result: string; status: number; request_id: string }>();
  return results;
}

async function statusOf(key: string, id: string): Promise<ExecutionBody> {
  const res = await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** Runs `fn` inside the bulk's object (constructing it if needed). */
function inBulk<R>(stub: DurableObjectStub, fn: (o: BulkObject) => R): Promise<R> {
  return runInDurableObject(stub, (instance) => fn(instance as unknown as BulkObject));
}

function tablesOf(stub: DurableObjectStub): Promise<string[]> {
  return runInDurableObject(stub, (_o, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'")
      .toArray()
      .map((r) => r.name),
  );
}

describe("POST /v1/executions/bulk: cancel", { timeout: 300_000 }, () => {
  it("cancels 200 running executions in the background, one audit row each; the same request again acts on none of them twice", async () => {
    const t = await tenantWithKeys("bulk-cancel");
    const wf = `naps-${crypto.randomUUID().slice(0, 8)}`;
    const ids = await startMany(t.operator, 200, { definition: napping(wf) });
    await indexed(t.tenant, wf, "waiting", 200);

    const key = `cancel-${crypto.randomUUID()}`;
    const res = await postBulk(t.operator, { action: "cancel", filter: { workflow_id: wf } }, key);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ id: expect.stringMatching(/^bk_[0-9a-f]{32}$/), action: "cancel", status: "running", done: 0, skipped: 0, failed: 0 });
    expect(res.body.filter).toEqual({ workflow_id: wf, created_before: res.body.created_at }); // frozen at creation
    expect(res.headers.get("location")).toBe(`/v1/bulk/${res.body.id}`);

    const ended = await bulkEnded(t.viewer, res.body.id);
    expect(ended).toMatchObject({ matched: 200, done: 200, skipped: 0, failed: 0, finished_at: expect.any(String) });
    const statuses = await Promise.all(ids.map(async (id) => (await statusOf(t.viewer, id)).status));
    expect(new Set(statuses)).toEqual(new Set(["cancelled"]));
    const rows = await eventually(async () => {
      const found = await auditRowsOf(t.tenant, res.body.id);
      expect(found).toHaveLength(200);
      return found;
    }, 60_000);
    expect(new Set(rows.map((r) => r.target))).toEqual(new Set(ids));
    for (const r of rows) expect(r).toMatchObject({ action: "execution.cancel", result: "success", status: 200, request_id: res.headers.get("x-request-id") });

    // The same request again: the same bulk, as it ended; nothing is armed, nothing acted on again.
    const again = await postBulk(t.operator, { action: "cancel", filter: { workflow_id: wf } }, key);
    expect(again.status, again.text).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(ended);
    expect(await runDurableObjectAlarm(env.BULK.getByName(res.body.id))).toBe(false);
    // The same key with another request is refused and changes nothing.
    expectProblem(await postBulk(t.operator, { action: "retry", filter: { workflow_id: wf } }, key), 422, "IDEMPOTENCY_KEY_REUSED");
    // Without a key, a new bulk finds them all ended: skipped, no new audit row, one cancel each in the log.
    const fresh = await postBulk(t.operator, { action: "cancel", filter: { workflow_id: wf } });
    expect(fresh.status, fresh.text).toBe(202);
    expect(fresh.body.id).not.toBe(res.body.id);
    expect(await bulkEnded(t.viewer, fresh.body.id)).toMatchObject({ matched: 200, done: 0, skipped: 200, failed: 0 });
    expect(await auditRowsOf(t.tenant, fresh.body.id)).toEqual([]);
    expect(await auditRowsOf(t.tenant, res.body.id)).toHaveLength(200);
    for (const id of ids.slice(0, 5)) expect((await eventsOf(t.viewer, id)).filter((e) => e.type === "execution.cancelled")).toHaveLength(1);
  });

  it("a filter by workflow and label acts on those executions only; another tenant's are never matched", async () => {
    const t = await tenantWithKeys("bulk-filter");
    const other = await tenantWithKeys("bulk-filter-other");
    const [a, b] = [`a-${crypto.randomUUID().slice(0, 8)}`, `b-${crypto.randomUUID().slice(0, 8)}`];
    const hit = await startMany(t.operator, 3, { definition: napping(a), labels: { team: "x" } });
    const otherLabel = await startMany(t.operator, 2, { definition: napping(a), labels: { team: "y" } });
    const otherWorkflow = await startMany(t.operator, 2, { definition: napping(b), labels: { team: "x" } });
    const otherTenant = await startMany(other.operator, 2, { definition: napping(a), labels: { team: "x" } });
    await indexed(t.tenant, a, "waiting", 5);
    await indexed(t.tenant, b, "waiting", 2);
    await indexed(other.tenant, a, "waiting", 2);

    const res = await postBulk(t.operator, { action: "cancel", filter: { workflow_id: a, label: "team:x", status: "waiting" } });
    expect(res.status, res.text).toBe(202);
    expect(await bulkEnded(t.viewer, res.body.id)).toMatchObject({ matched: 3, done: 3, skipped: 0, failed: 0 });
    for (const id of hit) expect((await statusOf(t.viewer, id)).status).toBe("cancelled");
    for (const id of [...otherLabel, ...otherWorkflow]) expect((await statusOf(t.viewer, id)).status).toBe("waiting");
    for (const id of otherTenant) expect((await statusOf(other.viewer, id)).status).toBe("waiting");

    // An explicit created_before in the past freezes the whole filter: without a key, the same request is the same bulk.
    const past = { action: "cancel", filter: { workflow_id: b, created_before: new Date(Date.now() - 1).toISOString() } };
    const first = await postBulk(t.operator, past);
    expect(first.status, first.text).toBe(202);
    expect(await bulkEnded(t.viewer, first.body.id)).toMatchObject({ matched: 2, done: 2 });
    const second = await postBulk(t.operator, past);
    expect(second.status, second.text).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    // A created_before later than now is frozen at now: executions started afterwards are not caught.
    const later = await postBulk(t.operator, { action: "cancel", filter: { workflow_id: "none-such", created_before: "2999-01-01T00:00:00Z" } });
    expect(Date.parse(later.body.filter.created_before!)).toBeLessThanOrEqual(Date.now());
  });
});

describe("POST /v1/executions/bulk: retry", { timeout: 240_000 }, () => {
  it("retries the failed executions of a workflow and skips the ones that did not fail", async () => {
    const t = await tenantWithKeys("bulk-retry");
    const wf = `flaky-${crypto.randomUUID().slice(0, 8)}`;
    // Fails on its first run unless told not to: a retry completes it.
    const definition = { id: wf, steps: [{ id: "go", type: "transform", expression: "input.ok or execution.attempt > 1 ? 'ok' : $error('first run fails')", retry: { max_attempts: 1 } }] };
    const failing = await startMany(t.operator, 5, { definition, input: { ok: false } });
    const fine = await startMany(t.operator, 2, { definition, input: { ok: true } });
    await indexed(t.tenant, wf, "failed", 5);
    await indexed(t.tenant, wf, "completed", 2);

    const res = await postBulk(t.operator, { action: "retry", filter: { workflow_id: wf } });
    expect(res.status, res.text).toBe(202);
    expect(await bulkEnded(t.viewer, res.body.id)).toMatchObject({ action: "retry", matched: 7, done: 5, skipped: 2, failed: 0 });
    for (const id of failing) {
      await eventually(async () => expect(await statusOf(t.viewer, id)).toMatchObject({ status: "completed", attempt: 2 }), 30_000);
    }
    for (const id of fine) expect(await statusOf(t.viewer, id)).toMatchObject({ status: "completed", attempt: 1 });
    const rows = await eventually(async () => {
      const found = await auditRowsOf(t.tenant, res.body.id);
      expect(found).toHaveLength(5);
      return found;
    }, 30_000);
    expect(new Set(rows.map((r) => r.target))).toEqual(new Set(failing));
    expect(new Set(rows.map((r) => r.action))).toEqual(new Set(["execution.retry"]));
  });

  it("an object cut off after a call landed, then evicted, resumes from its SQLite and retries no execution twice", async () => {
    const t = await tenantWithKeys("bulk-fault");
    const wf = `fails-${crypto.randomUUID().slice(0, 8)}`;
    const ids = await startMany(t.operator, 60, { definition: alwaysFails(wf) }); // two pages: 50 and 10
    await indexed(t.tenant, wf, "failed", 60);

    // The bulk's object, before the request reaches it: its third call lands, then the call is cut off
    // (the answer never reaches the object, as if it died right after the execution changed).
    const key = `fault-${crypto.randomUUID()}`;
    const stub = env.BULK.getByName(await bulkIdFor(t.tenant, key, "retry", {}));
    const fault = { calls: 0, cutOff: [] as string[] };
    const faulty = await inBulk(stub, (o) => {
      const real = o.deps.execution;
      const wrapped: BulkDeps["execution"] = (id) => {
        const rpc = real(id);
        return {
          get: (tenant) => rpc.get(tenant),
          command: async (tenant, command, audit) => {
            const outcome = await rpc.command(tenant, command, audit);
            if (++fault.calls === 3) {
              fault.cutOff.push(id);
              throw new Error("injected: cut off after the call landed");
            }
            return outcome;
          },
        };
      };
      o.deps.execution = wrapped;
      return wrapped;
    });
    const res = await postBulk(t.operator, { action: "retry", filter: { workflow_id: wf } }, key);
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("location")).toBe(`/v1/bulk/${await bulkIdFor(t.tenant, key, "retry", {})}`);

    await eventually(async () => expect(fault.cutOff).toHaveLength(1), 60_000);
    const [cut] = fault.cutOff as [string];
    // The call landed: the execution ran again (and failed again, so a second retry would be allowed).
    await eventually(async () => expect(await statusOf(t.viewer, cut)).toMatchObject({ status: "failed", attempt: 2 }), 30_000);
    // Evicted: the instance with the faulty dependency is gone; a fresh one rebuilds from SQLite.
    expect(await inBulk(stub, (o) => o.deps.execution === faulty)).toBe(true);
    await evictDurableObject(stub);
    expect(await inBulk(stub, (o) => o.deps.execution === faulty)).toBe(false);

    expect(await bulkEnded(t.viewer, res.body.id)).toMatchObject({ matched: 60, done: 60, skipped: 0, failed: 0 });
    for (const id of ids) {
      await eventually(async () => expect(await statusOf(t.viewer, id)).toMatchObject({ status: "failed", attempt: 2 }), 30_000);
    }
    const rows = await eventually(async () => {
      const found = await auditRowsOf(t.tenant, res.body.id);
      expect(found).toHaveLength(60);
      return found;
    }, 30_000);
    expect(new Set(rows.map((r) => r.target)).size).toBe(60); // one row per execution, the cut-off one included
    expect((await statusOf(t.viewer, cut)).attempt).toBe(2);
  });
});

describe("bulk refusals", { timeout: 120_000 }, () => {
  it("400 for a bad action or filter, listing the fields; nothing is written", async () => {
    const t = await tenantWithKeys("bulk-bad");
    const key = `bad-${crypto.randomUUID()}`;
    const cases: [unknown, string[]][] = [
      [{ action: "pause", filter: {} }, ["/action"]],
      [{ action: "cancel" }, ["/filter"]],
      [{ action: "cancel", filter: { workflowid: "x" } }, ["/filter/workflowid"]],
      [{ action: "cancel", filter: { status: "sleeping", label: "no-colon" } }, ["/filter/status", "/filter/label"]],
      [{ action: "cancel", filter: { created_after: "2026-01-02T00:00:00Z", created_before: "2026-01-01T00:00:00Z" } }, ["/filter/created_before"]],
      [{ action: "retry", filter: { created_after: "2999-01-01T00:00:00Z" } }, ["/filter/created_after"]],
    ];
    for (const [body, paths] of cases) {
      const problem = expectProblem(await postBulk(t.operator, body, key), 400, "VALIDATION_FAILED");
      expect(problem.errors?.map((e) => e.path), JSON.stringify(body)).toEqual(expect.arrayContaining(paths));
    }
    const stub = env.BULK.getByName(await bulkIdFor(t.tenant, key, "cancel", {}));
    expect(await tablesOf(stub)).toEqual([]);
  });

  it("404 for an unknown bulk, a malformed id and another tenant's bulk; an unknown id writes nothing", async () => {
    const t = await tenantWithKeys("bulk-404");
    const other = await tenantWithKeys("bulk-404-other");
    const unknown = `bk_${"0".repeat(31)}1`;
    expectProblem(await call("GET", `/v1/bulk/${unknown}`, { key: t.viewer }), 404, "BULK_NOT_FOUND");
    expect(await tablesOf(env.BULK.getByName(unknown))).toEqual([]);
    expectProblem(await call("GET", "/v1/bulk/not-a-bulk", { key: t.viewer }), 404, "BULK_NOT_FOUND");
    const mine = await postBulk(t.operator, { action: "cancel", filter: { workflow_id: "none-such" } });
    expect(mine.status, mine.text).toBe(202);
    expect(await bulkEnded(t.viewer, mine.body.id)).toMatchObject({ matched: 0, done: 0 });
    expectProblem(await call("GET", `/v1/bulk/${mine.body.id}`, { key: other.viewer }), 404, "BULK_NOT_FOUND");
  });

  it("403 for a viewer and an approver (executions:operate); both may read a bulk", async () => {
    const t = await tenantWithKeys("bulk-403");
    for (const key of [t.viewer, t.approver]) expectProblem(await postBulk(key, { action: "cancel", filter: {} }), 403, "FORBIDDEN");
    const res = await postBulk(t.admin, { action: "cancel", filter: { workflow_id: "none-such" } });
    expect(res.status, res.text).toBe(202);
    for (const key of [t.viewer, t.approver]) expect((await call("GET", `/v1/bulk/${res.body.id}`, { key })).status).toBe(200);
  });
});
