/**
 * Event steps and signals (SPEC §9) through the real wrangler dev: the execution waits for its
 * event (over GET and live over the WebSocket), `POST /v1/executions/{id}/signals/{event}`
 * completes the step and the run goes on, a signal sent before the step waits is kept and taken,
 * and the refusals (400 schema, 404 unknown event, 403 viewer, 409 ended) answer as documented.
 */
import { describe, expect, it } from "vitest";
import { adminKey, baseUrl, call, type Execution, uniqueId, until } from "../helpers/client";
import { readSse } from "../helpers/streams";

interface Waiting extends Execution {
  waiting_for?: { kind: string; step_id?: string; event?: string; until?: string };
}
interface Receipt {
  event: string;
  step_id: string | null;
  kept: boolean;
  execution: Execution;
}
interface Problem {
  code: string;
  errors?: { path: string; code?: string }[];
}
interface LiveEvent {
  type: string;
  step_id?: string;
  data?: Record<string, unknown>;
}

const signalPath = (id: string, event: string) => `/v1/executions/${id}/signals/${event}`;

/**
 * The execution's WebSocket, read live: `next` resolves with the first message (seen or to come)
 * that `match` accepts; `closed` with every message once the server closes the socket.
 */
function watch(path: string, ms = 60_000) {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}${path}`);
  const messages: LiveEvent[] = [];
  const waiters: { match: (m: LiveEvent) => boolean; resolve: (m: LiveEvent) => void }[] = [];
  const closed = new Promise<{ messages: LiveEvent[]; code: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`the socket ${path} did not close within ${ms} ms`));
    }, ms);
    ws.addEventListener("close", (e) => {
      clearTimeout(timer);
      resolve({ messages, code: e.code });
    });
  });
  ws.addEventListener("message", (m) => {
    const message = JSON.parse(String(m.data)) as LiveEvent;
    messages.push(message);
    for (const w of waiters.splice(0)) {
      if (w.match(message)) w.resolve(message);
      else waiters.push(w);
    }
  });
  ws.addEventListener("error", () => undefined); // reported by close
  const next = (match: (m: LiveEvent) => boolean) =>
    new Promise<LiveEvent>((resolve, reject) => {
      const seen = messages.find(match);
      if (seen) return resolve(seen);
      waiters.push({ match, resolve });
      void closed.then(() => reject(new Error(`the socket ${path} closed before the message awaited`)), reject);
    });
  return { next, closed };
}

const PAYMENT_SCHEMA = { type: "object", required: ["amount"], properties: { amount: { type: "number", minimum: 0 } } };

describe("event steps and signals", () => {
  it("waits for its event (GET and live), refuses bad signals (400, 404, 403), a signal completes the step and the run goes on", async () => {
    const definition = {
      id: uniqueId("signal"),
      steps: [
        { id: "paid", type: "event", event: "payment.settled", timeout_seconds: 600, schema: PAYMENT_SCHEMA },
        { id: "after", type: "transform", needs: ["paid"], expression: "{ 'amount': steps.paid.output.data.amount, 'via': steps.paid.output.via }" },
      ],
      output: "steps.after.output",
    };
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition, input: {} } });
    expect(started.status, started.text).toBe(202);
    const id = started.body.id;
    const token = await call<{ token: string }>("POST", `/v1/executions/${id}/stream-token`);
    expect(token.status, token.text).toBe(201);
    const live = watch(`/v1/executions/${id}/ws?token=${encodeURIComponent(token.body.token)}`);
    const sse = readSse(`/v1/executions/${id}/events`, { authorization: `Bearer ${adminKey}` }, 60_000);

    const waiting = await until<Waiting>(id, (e) => e.status === "waiting");
    expect(waiting.waiting_for).toMatchObject({ kind: "event", step_id: "paid", event: "payment.settled" });
    expect(Date.parse(waiting.waiting_for!.until!)).toBeGreaterThan(Date.now() + 500_000);
    const stepWaiting = await live.next((m) => m.type === "step.waiting");
    expect(stepWaiting).toMatchObject({ step_id: "paid", data: { attempt: 1, kind: "event", event: "payment.settled", until: waiting.waiting_for!.until } });

    // Refused, and nothing changes.
    const bad = await call<Problem>("POST", signalPath(id, "payment.settled"), { body: { data: { amount: "ten" } } });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_FAILED");
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: "/data/amount", code: "INVALID_SIGNAL" })]);
    const unknown = await call<Problem>("POST", signalPath(id, "payment.refunded"), { body: { data: { amount: 1 } } });
    expect([unknown.status, unknown.body.code]).toEqual([404, "EVENT_NOT_FOUND"]);
    const viewer = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: uniqueId("signal-viewer"), role: "viewer" } });
    expect(viewer.status, viewer.text).toBe(201);
    const denied = await call<Problem>("POST", signalPath(id, "payment.settled"), { key: viewer.body.key, body: { data: { amount: 1 } } });
    expect([denied.status, denied.body.code]).toEqual([403, "FORBIDDEN"]);
    expect((await call<Waiting>("GET", `/v1/executions/${id}`)).body.status).toBe("waiting");

    const sent = await call<Receipt>("POST", signalPath(id, "payment.settled"), { body: { data: { amount: 120.5 } } });
    expect(sent.status, sent.text).toBe(200);
    expect(sent.body).toMatchObject({ event: "payment.settled", step_id: "paid", kept: false, execution: { id } });
    const done = await until<Execution>(id, (e) => e.status === "completed" || e.status === "failed");
    expect(done.status).toBe("completed");
    expect(done.output).toEqual({ amount: 120.5, via: "signal" });
    const ended = await call<Problem>("POST", signalPath(id, "payment.settled"), { body: { data: { amount: 1 } } });
    expect([ended.status, ended.body.code]).toEqual([409, "INVALID_STATE"]);

    const ws = await live.closed;
    expect(ws.code).toBe(1000);
    const tail = (events: LiveEvent[]) => {
      const types = events.map((e) => e.type);
      return types.slice(types.indexOf("step.waiting"));
    };
    const expected = ["step.waiting", "execution.waiting", "signal.received", "step.completed", "step.started", "step.completed", "execution.completed"];
    expect(tail(ws.messages.filter((m) => m.type !== "snapshot"))).toEqual(expected);
    const stream = await sse;
    expect(stream.status).toBe(200);
    expect(tail(stream.events)).toEqual(expected);
    expect(stream.events.find((e) => e.type === "signal.received")).toMatchObject({ step_id: "paid", data: { event: "payment.settled", via: "signal", kept: false } });
  }, 90_000);

  it("a signal sent before the step waits is kept (it crosses to the object and back intact), then taken when the step starts waiting", async () => {
    const definition = {
      id: uniqueId("signal-kept"),
      steps: [
        { id: "gate", type: "input", questions: [{ id: "go", prompt: "Go?", type: "boolean" }] },
        { id: "order", type: "event", event: "order:shipped", needs: ["gate"] },
      ],
      output: "steps.order.output",
    };
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition, input: {} } });
    expect(started.status, started.text).toBe(202);
    const id = started.body.id;
    await until<Waiting>(id, (e) => e.status === "waiting" && e.waiting_for?.kind === "answers");
    const data = { parcels: [{ id: "p-1", weight: 1.25 }, { id: "p-2", weight: null }], note: "ünïcode ✓", nested: { deep: [true, false] } };
    const kept = await call<Receipt>("POST", signalPath(id, "order:shipped"), { body: { data } });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.body).toMatchObject({ event: "order:shipped", step_id: null, kept: true, execution: { id, status: "waiting" } });
    const answered = await call("POST", `/v1/executions/${id}/steps/gate/answers`, { body: { answers: { go: true } } });
    expect(answered.status, answered.text).toBe(200);
    const done = await until<Execution>(id, (e) => e.status === "completed" || e.status === "failed");
    expect(done.status).toBe("completed");
    expect(done.output).toEqual({ data, received_at: expect.any(String), via: "signal" });
  });
});
