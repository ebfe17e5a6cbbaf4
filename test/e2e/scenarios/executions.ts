/**
 * Executions over real HTTP: start (async, sync wait, idempotent replays), listing, result,
 * steps, events as a page, SSE and WebSocket to the terminal event, and the controls.
 */
import { describe, expect, it } from "vitest";
import { adminKey, call, type Execution, getContract, uniqueId, until, upstreamUrl } from "../helpers/client";
import { readSocket, readSse } from "../helpers/streams";

const SLEEPY = (id: string, seconds = 30) => ({ id, steps: [{ id: "nap", type: "wait", seconds }, { id: "after", type: "transform", needs: ["nap"], expression: "'woke'" }], output: "steps.after.output" });

describe("starting executions", () => {
  it("202 with Location, then completed; listed in the index with its label", async () => {
    const label = uniqueId("run");
    const res = await call<Execution>("POST", "/v1/executions", {
      body: { definition: { id: uniqueId("async"), steps: [{ id: "v", type: "transform", expression: "input.n * 2" }], output: "steps.v.output" }, input: { n: 21 }, labels: { run: label } },
    });
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("location")).toBe(`/v1/executions/${res.body.id}`);
    const done = await until<Execution>(res.body.id, (e) => e.status === "completed");
    expect(done.output).toBe(42);
    // The index follows the object through its outbox: eventually consistent.
    let listed: { items: { id: string; status: string }[] } = { items: [] };
    for (let i = 0; i < 50 && listed.items[0]?.status !== "completed"; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      const page = await call<typeof listed>("GET", `/v1/executions?label=run:${label}`);
      expect(page.status).toBe(200);
      listed = page.body;
    }
    expect(listed.items.map((i) => [i.id, i.status])).toEqual([[res.body.id, "completed"]]);
    expect((await call("GET", "/v1/executions?cursor=not-a-cursor")).status).toBe(400);
  });

  it("idempotent starts: the same key and body replay, another body is 422", async () => {
    const key = uniqueId("idem");
    const body = { definition: { id: uniqueId("idem"), steps: [{ id: "v", type: "transform", expression: "{ 'k': 1 }" }] }, input: { a: 1 } };
    const first = await call<Execution>("POST", "/v1/executions?wait=10", { body, headers: { "idempotency-key": key } });
    expect(first.status, first.text).toBe(200);
    const replay = await call<Execution>("POST", "/v1/executions", { body, headers: { "idempotency-key": key } });
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body.id).toBe(first.body.id);
    const other = await call("POST", "/v1/executions", { body: { ...body, input: { a: 2 } }, headers: { "idempotency-key": key } });
    expect(other.status, other.text).toBe(422);
    expect(other.body).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED" });
  });

  it("refuses bad input with 400 and an unknown workflow with 404, starting nothing", async () => {
    const wf = uniqueId("typed");
    expect((await call("POST", "/v1/workflows", { body: { id: wf, input_schema: { type: "object", required: ["n"] }, steps: [{ id: "v", type: "transform", expression: "1" }] } })).status).toBe(201);
    const bad = await call<{ errors: { path: string }[] }>("POST", "/v1/executions", { body: { workflow_id: wf, input: {} } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]?.path).toMatch(/^\/input/);
    const none = await call("POST", "/v1/executions", { body: { workflow_id: uniqueId("nope"), input: {} } });
    expect(none.status).toBe(404);
    const page = await call<{ items: unknown[] }>("GET", `/v1/executions?workflow_id=${wf}`);
    expect(page.body.items).toEqual([]);
  });
});

describe("reading an execution", () => {
  it("result is 409 while it runs; steps, events and 404s for an unknown id", async () => {
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition: SLEEPY(uniqueId("read")), input: {} } });
    expect(started.status).toBe(202);
    const id = started.body.id;
    await until<Execution>(id, (e) => e.status === "waiting");
    const early = await call("GET", `/v1/executions/${id}/result`);
    expect(early.status).toBe(409);
    const steps = await call<{ items: { id: string; status: string }[] }>("GET", `/v1/executions/${id}/steps`);
    expect(steps.status).toBe(200);
    expect(steps.body.items.map((s) => [s.id, s.status])).toEqual([["nap", "waiting"], ["after", "pending"]]);
    const events = await call<{ items: { seq: number; type: string }[]; next_after: number; terminal: boolean }>("GET", `/v1/executions/${id}/events?after=0`);
    expect(events.status).toBe(200);
    expect(events.body.items.map((e) => e.seq)).toEqual(events.body.items.map((_, i) => i + 1));
    expect(events.body.terminal).toBe(false);
    expect((await call("POST", `/v1/executions/${id}/cancel`)).status).toBe(200);

    const unknown = `ex_${"0".repeat(31)}7`;
    for (const path of ["", "/result", "/steps", "/events"]) {
      const res = await call("GET", `/v1/executions/${unknown}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.body).toMatchObject({ code: "EXECUTION_NOT_FOUND" });
    }
    expect((await call("POST", `/v1/executions/${unknown}/stream-token`)).status).toBe(404);
  });
});

describe("live progress", () => {
  it("SSE replays from Last-Event-ID and ends after the terminal event", async () => {
    const res = await call<Execution>("POST", "/v1/executions?wait=10", {
      body: { definition: { id: uniqueId("sse"), steps: [{ id: "a", type: "transform", expression: "{ 'v': 1 }" }, { id: "b", type: "transform", needs: ["a"], expression: "[steps.a.output]" }] }, input: {} },
    });
    expect(res.body.status).toBe("completed");
    const all = await readSse(`/v1/executions/${res.body.id}/events`, { authorization: `Bearer ${adminKey}` });
    expect(all.status).toBe(200);
    expect(all.contentType).toContain("text/event-stream");
    expect(all.events.map((e) => e.seq)).toEqual(all.events.map((_, i) => i + 1));
    expect(all.ids).toEqual(all.events.map((e) => String(e.seq)));
    expect(all.events.at(-1)?.type).toBe("execution.completed");
    (await getContract()).check("GET", `/v1/executions/${res.body.id}/events`, all.status, all.headers, null, true);

    const resumed = await readSse(`/v1/executions/${res.body.id}/events`, { authorization: `Bearer ${adminKey}`, "last-event-id": "2" });
    expect(resumed.events.map((e) => e.seq)).toEqual(all.events.slice(2).map((e) => e.seq));
  });

  it("a WebSocket with a stream token: snapshot, every event live, closed 1000 after the terminal event", async () => {
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition: SLEEPY(uniqueId("ws"), 1), input: {} } });
    const id = started.body.id;
    const token = await call<{ token: string; expires_at: string; events_url: string }>("POST", `/v1/executions/${id}/stream-token`);
    expect(token.status).toBe(201);
    const socket = await readSocket(`/v1/executions/${id}/ws?token=${encodeURIComponent(token.body.token)}`);
    (await getContract()).check("GET", `/v1/executions/${id}/ws`, 101, new Headers(), null, false);
    expect(socket.code).toBe(1000);
    expect(socket.messages[0]).toMatchObject({ type: "snapshot" });
    const events = socket.messages.slice(1) as { seq: number; type: string }[];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)?.type).toBe("execution.completed");

    const sse = await readSse(token.body.events_url, {});
    expect(sse.status).toBe(200);
    expect(sse.events.at(-1)?.type).toBe("execution.completed");

    const plain = await call("GET", `/v1/executions/${id}/ws`);
    expect(plain.status).toBe(426);
    const forged = await readSse(`/v1/executions/${id}/events?token=forged`, {});
    expect(forged.status).toBe(401);
  });
});

describe("controls", () => {
  it("pause and resume between steps; cancel; 409 on a terminal execution", async () => {
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition: SLEEPY(uniqueId("ctl"), 2), input: {} } });
    const id = started.body.id;
    await until<Execution>(id, (e) => e.status === "waiting");
    const paused = await call<Execution>("POST", `/v1/executions/${id}/pause`);
    expect(paused.status, paused.text).toBe(200);
    expect(paused.body.status).toBe("paused");
    expect((await call("POST", `/v1/executions/${id}/pause`)).status).toBe(409);
    const resumed = await call<Execution>("POST", `/v1/executions/${id}/resume`);
    expect(resumed.status).toBe(200);
    const done = await until<Execution>(id, (e) => e.status === "completed");
    expect(done.output).toBe("woke");
    expect((await call("POST", `/v1/executions/${id}/resume`)).status).toBe(409);
    const cancel = await call<{ code: string; current_status: string }>("POST", `/v1/executions/${id}/cancel`);
    expect(cancel.status).toBe(409);
    expect(cancel.body).toMatchObject({ code: "INVALID_STATE", current_status: "completed" });

    const other = await call<Execution>("POST", "/v1/executions", { body: { definition: SLEEPY(uniqueId("cancel")), input: {} } });
    await until<Execution>(other.body.id, (e) => e.status === "waiting");
    const cancelled = await call<Execution>("POST", `/v1/executions/${other.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
  });

  it("retry re-runs a failed execution from its failed step; 409 when it is not failed", async () => {
    const flaky = uniqueId("flaky");
    const definition = {
      id: uniqueId("retry"),
      steps: [
        { id: "first", type: "transform", expression: "{ 'kept': true }" },
        { id: "call", type: "http", needs: ["first"], request: { method: "GET", url: `${upstreamUrl}/flaky/${flaky}/1` }, retry: { max_attempts: 1 } },
      ],
      output: "{ 'first': steps.first.output, 'call': steps.call.output.body }",
    };
    const failed = await call<Execution>("POST", "/v1/executions?wait=10", { body: { definition, input: {} } });
    expect(failed.status).toBe(200);
    expect(failed.body.status).toBe("failed");
    expect(failed.body.error).toMatchObject({ code: "HTTP_STATUS", step_id: "call" });
    const retried = await call<Execution>("POST", `/v1/executions/${failed.body.id}/retry`);
    expect(retried.status, retried.text).toBe(200);
    const done = await until<Execution>(failed.body.id, (e) => e.status === "completed");
    expect(done.output).toEqual({ first: { kept: true }, call: { ok: true, calls: 2 } });
    expect((await call("POST", `/v1/executions/${failed.body.id}/retry`)).status).toBe(409);
  });
});
