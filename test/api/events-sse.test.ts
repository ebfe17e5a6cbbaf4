import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isTerminalEvent } from "../../src/engine/state-machine";
import { call, createKey, expectProblem, tenantWithKeys } from "../helpers/api";
import { NAP_THEN_GO, eventsOf, start, waitForStatus, type EventBody } from "../helpers/executions";
import { advanceAndRunAlarm } from "../helpers/objects";
import { SseReader, type SseFrame } from "../helpers/sse";

function openStream(id: string, key: string, headers: Record<string, string> = {}, query = ""): Promise<Response> {
  return exports.default.fetch(
    new Request(`http://stepline.test/v1/executions/${id}/events${query}`, {
      headers: { authorization: `Bearer ${key}`, accept: "text/event-stream", ...headers },
    }),
  );
}

const isTerminal = (f: SseFrame) => isTerminalEvent(f.event ?? "");

function asEvents(frames: SseFrame[]): EventBody[] {
  return frames.map((f) => {
    const e = JSON.parse(f.data!) as EventBody;
    // The frame's id and event name are the event's own seq and type.
    expect(f.id).toBe(String(e.seq));
    expect(f.event).toBe(e.type);
    return e;
  });
}

describe("GET /v1/executions/{id}/events as Server-Sent Events", { timeout: 20_000 }, () => {
  it("replays an ended execution as id/event/data frames and ends after the terminal event", async () => {
    const t = await tenantWithKeys("sse-replay");
    const done = await start(t.operator, { definition: { id: "two", steps: [{ id: "a", type: "transform", expression: "1" }, { id: "b", type: "transform", needs: ["a"], expression: "2" }] } }, { wait: 10 });
    expect(done.body.status).toBe("completed");
    const res = await openStream(done.body.id, t.viewer);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    const reader = new SseReader(res);
    const events = asEvents(await reader.eventsUntil(() => false));
    expect(reader.done).toBe(true); // the stream closed by itself
    expect(events).toEqual(await eventsOf(t.viewer, done.body.id)); // the same events as the JSON page
    expect(events.at(-1)!.type).toBe("execution.completed");
  });

  it("resumes after Last-Event-ID (or ?after=) with no duplicate; after the end it closes at once", async () => {
    const t = await tenantWithKeys("sse-resume");
    const done = await start(t.operator, { definition: { id: "one", steps: [{ id: "a", type: "transform", expression: "1" }] } }, { wait: 10 });
    const all = await eventsOf(t.viewer, done.body.id);
    const fromHeader = asEvents(await new SseReader(await openStream(done.body.id, t.viewer, { "last-event-id": "2" })).eventsUntil(() => false));
    expect(fromHeader.map((e) => e.seq)).toEqual(all.filter((e) => e.seq > 2).map((e) => e.seq));
    const fromQuery = asEvents(await new SseReader(await openStream(done.body.id, t.viewer, {}, "?after=3")).eventsUntil(() => false));
    expect(fromQuery.map((e) => e.seq)).toEqual(all.filter((e) => e.seq > 3).map((e) => e.seq));
    const last = all.at(-1)!.seq;
    const after = new SseReader(await openStream(done.body.id, t.viewer, { "last-event-id": String(last) }));
    expect(await after.eventsUntil(() => false)).toEqual([]);
    expect(after.done).toBe(true);
  });

  it("replay then live across a sleep and its wake: every seq once, in order, then the end", async () => {
    const t = await tenantWithKeys("sse-live");
    const res = await start(t.operator, NAP_THEN_GO);
    const id = res.body.id;
    await waitForStatus(t.viewer, id, ["waiting"]);
    const reader = new SseReader(await openStream(id, t.viewer));
    const replayed = asEvents(await reader.eventsUntil((f) => f.event === "execution.waiting"));
    // Live: wake the sleep by moving the object's clock; the rest arrives on the open stream.
    expect(await advanceAndRunAlarm(id, 601_000)).toBe(true);
    const live = asEvents(await reader.eventsUntil(isTerminal));
    const seqs = [...replayed, ...live].map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(live.map((e) => [e.type, e.step_id ?? null])).toEqual([
      ["step.completed", "nap"],
      ["step.started", "go"],
      ["step.completed", "go"],
      ["execution.completed", null],
    ]);
    expect(live.at(-1)!.data).toEqual({ output: "awake" });
    expect(await reader.next()).toBeNull(); // ended after the terminal event
  });

  it("refuses like the JSON route: 401 without a key, 404 for another tenant, 400 for a bad Last-Event-ID", async () => {
    const a = await tenantWithKeys("sse-a");
    const b = await tenantWithKeys("sse-b");
    const done = await start(a.operator, { definition: { id: "x", steps: [{ id: "a", type: "transform", expression: "1" }] } }, { wait: 10 });
    const anon = await exports.default.fetch(new Request(`http://stepline.test/v1/executions/${done.body.id}/events`, { headers: { accept: "text/event-stream" } }));
    expect(anon.status).toBe(401);
    const cross = await openStream(done.body.id, b.admin);
    expect(cross.status).toBe(404);
    expect(((await cross.json()) as { code: string }).code).toBe("EXECUTION_NOT_FOUND");
    expectProblem(await call("GET", `/v1/executions/${done.body.id}/events`, { key: a.viewer, headers: { accept: "text/event-stream", "last-event-id": "seven" } }), 400, "VALIDATION_FAILED");
  });
});

describe("stream tokens (for browsers' EventSource)", { timeout: 20_000 }, () => {
  async function tokenFor(key: string, id: string) {
    const res = await call<{ token: string; expires_at: string; events_url: string }>("POST", `/v1/executions/${id}/stream-token`, { key });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }
  const anonymous = (path: string, accept = "text/event-stream") =>
    exports.default.fetch(new Request(`http://stepline.test${path}`, { headers: { accept } }));

  it("a viewer's token opens that execution's stream without headers, and expires in 5 minutes", async () => {
    const t = await tenantWithKeys("tok-ok");
    const done = await start(t.operator, { definition: { id: "x", steps: [{ id: "a", type: "transform", expression: "1" }] } }, { wait: 10 });
    const before = Date.now();
    const body = await tokenFor(t.viewer, done.body.id);
    const ttl = Date.parse(body.expires_at) - before;
    expect(ttl).toBeGreaterThan(4 * 60_000);
    expect(ttl).toBeLessThanOrEqual(5 * 60_000 + 1_000);
    expect(body.events_url).toBe(`/v1/executions/${done.body.id}/events?token=${encodeURIComponent(body.token)}`);
    const res = await anonymous(body.events_url);
    expect(res.status).toBe(200);
    const events = asEvents(await new SseReader(res).eventsUntil(() => false));
    expect(events.map((e) => e.seq)).toEqual((await eventsOf(t.viewer, done.body.id)).map((e) => e.seq));
  });

  it("401 before any stream for a token of another execution, an altered, garbage or expired token", async () => {
    const t = await tenantWithKeys("tok-bad");
    const def = { definition: { id: "x", steps: [{ id: "a", type: "transform", expression: "1" }] } };
    const a = await start(t.operator, def, { wait: 10 });
    const b = await start(t.operator, def, { wait: 10 });
    const { token } = await tokenFor(t.viewer, a.body.id);
    const refused = async (id: string, tok: string) => {
      const res = await anonymous(`/v1/executions/${id}/events?token=${encodeURIComponent(tok)}`);
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    };
    await refused(b.body.id, token); // bound to execution a
    const [payload, signature] = token.split(".");
    await refused(a.body.id, `${payload}x.${signature}`);
    await refused(a.body.id, `${payload}.${signature!.slice(0, -2)}AA`);
    await refused(a.body.id, "not-a-token");
    await refused(a.body.id, `${payload}.!!not*base64!!`);
    await refused(a.body.id, `%%%.${signature}`);
    const { env } = await import("cloudflare:workers");
    const { signStreamToken } = await import("../../src/api/stream-token");
    const expired = await signStreamToken(env.STREAM_TOKEN_SECRET, { tenant: t.tenant, role: "viewer", keyId: "k" }, a.body.id, Date.now() - 6 * 60_000);
    await refused(a.body.id, expired.token);
  });

  it("stops working once the API key that minted it is revoked (401 when the stream opens, SSE and WebSocket)", async () => {
    const t = await tenantWithKeys("tok-revoked");
    const minter = await createKey(t.tenant, "viewer", "browser-session");
    const done = await start(t.operator, { definition: { id: "x", steps: [{ id: "a", type: "transform", expression: "1" }] } }, { wait: 10 });
    const { events_url: url } = await tokenFor(minter.key, done.body.id);
    const before = await anonymous(url);
    expect(before.status).toBe(200);
    await before.body?.cancel();
    expect((await call("DELETE", `/v1/api-keys/${minter.id}`, { key: t.admin })).status).toBe(200);
    const after = await anonymous(url);
    expect(after.status).toBe(401);
    expect(after.headers.get("content-type")).toBe("application/problem+json");
    expect(((await after.json()) as { code: string }).code).toBe("UNAUTHORIZED");
    const token = new URL(url, "http://x").searchParams.get("token")!;
    const socket = await exports.default.fetch(
      new Request(`http://stepline.test/v1/executions/${done.body.id}/ws?token=${encodeURIComponent(token)}`, { headers: { upgrade: "websocket" } }),
    );
    expect(socket.status).toBe(401);
    // A token of a key that is still valid keeps working.
    const { events_url: other } = await tokenFor(t.viewer, done.body.id);
    const ok = await anonymous(other);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
  });

  it("is accepted on the stream route only, and only for executions of the caller's tenant", async () => {
    const t = await tenantWithKeys("tok-scope");
    const other = await tenantWithKeys("tok-other");
    const done = await start(t.operator, { definition: { id: "x", steps: [{ id: "a", type: "transform", expression: "1" }] } }, { wait: 10 });
    const { token } = await tokenFor(t.viewer, done.body.id);
    for (const path of [`/v1/executions/${done.body.id}`, `/v1/executions/${done.body.id}/steps`, `/v1/executions/${done.body.id}/result`]) {
      expect((await anonymous(`${path}?token=${encodeURIComponent(token)}`, "application/json")).status).toBe(401);
    }
    expectProblem(await call("POST", `/v1/executions/${done.body.id}/stream-token`, { key: other.admin }), 404, "EXECUTION_NOT_FOUND");
    expectProblem(await call("POST", `/v1/executions/${done.body.id}/stream-token`, { key: null }), 401, "UNAUTHORIZED");
  });
});
