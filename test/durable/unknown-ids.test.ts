/**
 * A request for a well-formed id of an execution that was never created writes nothing: the
 * object behind the id answers "not found" from empty storage, so probing ids cannot run up
 * storage. The schema is created when an execution is created.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/lib/digest";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import { start, waitForStatus } from "../helpers/executions";
import { stubOf } from "../helpers/objects";
import { openSocket } from "../helpers/socket";

function unknownId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `ex_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The tables of the object's SQLite storage (the platform's own `_cf_` tables aside). */
function tablesOf(id: string): Promise<string[]> {
  return runInDurableObject(stubOf(id), (_instance, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .toArray()
      .map((r) => r.name),
  );
}

describe("an execution id that was never created", () => {
  it("every read and request answers 404 and leaves the object's storage empty", async () => {
    const t = await tenantWithKeys("probe");
    const id = unknownId();
    const probes: [string, string, unknown?][] = [
      ["GET", `/v1/executions/${id}`],
      ["GET", `/v1/executions/${id}/result`],
      ["GET", `/v1/executions/${id}/steps`],
      ["GET", `/v1/executions/${id}/events`],
      ["POST", `/v1/executions/${id}/cancel`],
      ["POST", `/v1/executions/${id}/pause`],
      ["POST", `/v1/executions/${id}/resume`],
      ["POST", `/v1/executions/${id}/retry`],
      ["POST", `/v1/executions/${id}/approval`, { decision: "approve" }],
      ["POST", `/v1/executions/${id}/steps/ask/answers`, { answers: { ok: true } }],
      ["POST", `/v1/executions/${id}/stream-token`],
    ];
    for (const [method, path, body] of probes) {
      const res = await call(method, path, { key: t.admin, ...(body !== undefined ? { body } : {}) });
      expectProblem(res, 404, "EXECUTION_NOT_FOUND");
    }
    const sse = await call("GET", `/v1/executions/${id}/events`, { key: t.admin, headers: { accept: "text/event-stream" } });
    expectProblem(sse, 404, "EXECUTION_NOT_FOUND");
    const socket = await openSocket(id, { key: t.admin });
    expect(socket instanceof Response ? socket.status : "a WebSocket").toBe(404);

    expect(await tablesOf(id)).toEqual([]);
    // Nor does the object write anything when it starts again from storage.
    await evictDurableObject(stubOf(id));
    expect(await tablesOf(id)).toEqual([]);
    expectProblem(await call("GET", `/v1/executions/${id}`, { key: t.admin }), 404, "EXECUTION_NOT_FOUND");
    expect(await tablesOf(id)).toEqual([]);
  });

  it("an execution created afterwards under that id gets its schema then, and runs", async () => {
    const t = await tenantWithKeys("probe-then-create");
    const key = `probe-${crypto.randomUUID()}`;
    // The id a start with this Idempotency-Key gets (see start-execution.ts).
    const id = `ex_${(await sha256Hex(`idempotency\n${t.tenant}\n${key}`)).slice(0, 32)}`;
    expectProblem(await call("GET", `/v1/executions/${id}`, { key: t.viewer }), 404, "EXECUTION_NOT_FOUND");
    expect(await tablesOf(id)).toEqual([]);
    const definition = { id: "after-probe", steps: [{ id: "a", type: "transform", expression: "41 + 1" }], output: "steps.a.output" };
    const res = await start(t.operator, { definition }, { idempotencyKey: key });
    expect(res.status, res.text).toBe(202);
    expect(res.body.id).toBe(id);
    const done = await waitForStatus(t.viewer, res.body.id, ["completed"]);
    expect(done.output).toBe(42);
    expect(await tablesOf(res.body.id)).toEqual(["_schema", "attempts", "execution", "map_items", "map_runs", "outbox", "signals", "timers", "transition_log", "usage"]);
  });
});
