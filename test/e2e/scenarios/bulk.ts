/**
 * Bulk actions (SPEC §10) against the real wrangler dev, where the Worker, the bulk's object and each
 * execution's object are separate isolates: a bulk cancel by workflow and label runs in the
 * background and is audited per execution; the same request again is the same bulk; a bulk retry
 * reruns failed executions; refusals answer as documented.
 */
import { describe, expect, it } from "vitest";
import { call, type Execution, uniqueId, until } from "../helpers/client";

interface Bulk {
  id: string;
  status: string;
  matched: number;
  done: number;
  skipped: number;
  failed: number;
}

/** Polls the bulk until it has ended. */
async function bulkEnded(id: string, ms = 30_000): Promise<Bulk> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await call<Bulk>("GET", `/v1/bulk/${id}`);
    expect(res.status, res.text).toBe(200);
    if (res.body.status === "completed") return res.body;
    if (Date.now() > deadline) throw new Error(`bulk ${id} did not end: ${res.text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until the listing (the index a bulk walks) shows `n` executions for `query`. */
async function listed(query: string, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await call<{ items: unknown[] }>("GET", `/v1/executions?limit=100&${query}`);
    if (res.body.items.length === n) return;
    if (Date.now() > deadline) throw new Error(`the listing ${query} shows ${res.body.items.length} executions, not ${n}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startAll(n: number, body: Record<string, unknown>): Promise<string[]> {
  const started = await Promise.all(Array.from({ length: n }, () => call<Execution>("POST", "/v1/executions", { body })));
  for (const res of started) expect(res.status, res.text).toBe(202);
  return started.map((res) => res.body.id);
}

describe("bulk actions", () => {
  it("cancels what a workflow and label match, in the background, audited per execution; the same request again is the same bulk", async () => {
    const wf = uniqueId("bulk-naps");
    const run = uniqueId("run");
    const definition = { id: wf, steps: [{ id: "nap", type: "wait", seconds: 600 }] };
    const hit = await startAll(6, { definition, labels: { run } });
    const spared = await startAll(2, { definition, labels: { run: `${run}-other` } });
    await listed(`workflow_id=${wf}&status=waiting`, 8);

    const body = { action: "cancel", filter: { workflow_id: wf, label: `run:${run}` } };
    const key = uniqueId("bulk-key");
    const res = await call<Bulk>("POST", "/v1/executions/bulk", { body, headers: { "idempotency-key": key } });
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("location")).toBe(`/v1/bulk/${res.body.id}`);
    expect(await bulkEnded(res.body.id)).toMatchObject({ matched: 6, done: 6, skipped: 0, failed: 0 });
    for (const id of hit) expect((await call<Execution>("GET", `/v1/executions/${id}`)).body.status).toBe("cancelled");
    for (const id of spared) expect((await call<Execution>("GET", `/v1/executions/${id}`)).body.status).toBe("waiting");

    // The audit row is stored with the cancel and reaches the log with the execution's index flush.
    const deadline = Date.now() + 10_000;
    let details: unknown[] = [];
    while (details.length === 0 && Date.now() < deadline) {
      const audit = await call<{ items: { detail: Record<string, unknown> | null }[] }>("GET", `/v1/audit?action=execution.cancel&target=${hit[0]}`);
      expect(audit.status, audit.text).toBe(200);
      details = audit.body.items.map((e) => e.detail);
      if (details.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(details).toEqual([{ bulk_id: res.body.id }]);

    const again = await call<Bulk>("POST", "/v1/executions/bulk", { body, headers: { "idempotency-key": key } });
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ id: res.body.id, status: "completed", done: 6 });
    const reused = await call<{ code: string }>("POST", "/v1/executions/bulk", { body: { ...body, action: "retry" }, headers: { "idempotency-key": key } });
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe("IDEMPOTENCY_KEY_REUSED");
  });

  it("retries the failed executions of a workflow", async () => {
    const wf = uniqueId("bulk-flaky");
    const definition = { id: wf, steps: [{ id: "go", type: "transform", expression: "execution.attempt > 1 ? 'ok' : $error('first run fails')", retry: { max_attempts: 1 } }] };
    const ids = await startAll(3, { definition });
    await listed(`workflow_id=${wf}&status=failed`, 3);
    const res = await call<Bulk>("POST", "/v1/executions/bulk", { body: { action: "retry", filter: { workflow_id: wf, status: "failed" } } });
    expect(res.status, res.text).toBe(202);
    expect(await bulkEnded(res.body.id)).toMatchObject({ matched: 3, done: 3, skipped: 0, failed: 0 });
    for (const id of ids) await until<Execution & { attempt: number }>(id, (e) => e.status === "completed" && e.attempt === 2);
  });

  it("refusals: a bad action or filter is 400, an unknown bulk 404", async () => {
    const bad = await call<{ code: string; errors: { path: string }[] }>("POST", "/v1/executions/bulk", { body: { action: "pause", filter: { colour: "red" } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e) => e.path)).toEqual(expect.arrayContaining(["/action", "/filter/colour"]));
    const unknown = await call<{ code: string }>("GET", `/v1/bulk/bk_${"0".repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("BULK_NOT_FOUND");
  });
});
