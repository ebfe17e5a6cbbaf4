/* global WebSocket, clearTimeout, performance, setTimeout */
// Scenario 4: one execution watched by many WebSocket clients. The execution is a chain of input
// steps, so it waits for people: with every socket connected, each answer we post (at t0) is one
// trigger, and the figure is when the last socket has received that step's `answers.received`
// event. Stepline only: a Workflow instance has no client-facing event stream to subscribe to.
import { pool, requestOk, sleep } from "../lib/http.mjs";
import { row } from "../lib/rows.mjs";
import { latencySummary } from "../lib/stats.mjs";
import { wsUrl } from "../lib/targets.mjs";

const inputChain = (n) => ({
  id: `fanout-${n}`,
  steps: Array.from({ length: n }, (_, i) => ({
    id: `q${i + 1}`,
    type: "input",
    questions: [{ id: "ok", prompt: "ok?", type: "boolean" }],
    ...(i > 0 ? { needs: [`q${i}`] } : {}),
  })),
});

async function waitForQuestion(client, id, stepId) {
  for (let i = 0; i < 2000; i++) {
    const s = await client.status(id);
    if (s.body.status === "waiting" && s.body.waiting_for?.step_id === stepId) return;
    await sleep(5);
  }
  throw new Error(`execution ${id} never waited on ${stepId}`);
}

/** Opens `n` sockets (bounded concurrency); resolves once each has its snapshot. */
async function connect(url, n, onEvent) {
  const sockets = [];
  await pool(n, 100, () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    sockets.push(ws);
    const timer = setTimeout(() => reject(new Error("socket did not get its snapshot within 30 s")), 30_000);
    ws.addEventListener("error", () => reject(new Error("socket error while connecting")));
    ws.addEventListener("close", (e) => onEvent({ type: "socket.closed", code: e.code }));
    ws.addEventListener("message", (m) => {
      const arrived = performance.now();
      const wall = Date.now();
      const msg = JSON.parse(String(m.data));
      if (msg.type === "snapshot") {
        clearTimeout(timer);
        resolve();
      } else onEvent(msg, arrived, wall);
    });
  }));
  return sockets;
}

export const fanout = {
  id: "fanout",
  title: "WebSocket fan-out",
  peer: false,
  rounds: (opts) => opts.fanoutRounds,
  description: "One execution of chained `input` steps, watched by many WebSocket clients (`/ws?token=`). With every socket connected, each answer POST is a trigger: the figure is the time from sending the POST to the last socket receiving that step's `answers.received` event. Stepline only.",
  async measure({ client, opts }) {
    const def = inputChain(opts.fanoutTriggers);
    await requestOk(client.base, "POST", "/v1/workflows", { headers: client.auth, body: def });
    const { json: started } = await requestOk(client.base, "POST", "/v1/executions", { headers: client.auth, body: { workflow_id: def.id, input: {} } });
    const id = started.id;
    await waitForQuestion(client, id, "q1");
    const { json: tok } = await requestOk(client.base, "POST", `/v1/executions/${id}/stream-token`, { headers: client.auth });

    const arrivals = new Map(); // step id -> [{ arrived, lagMs }]
    const seen = new Map(); // event type (or "closed <code>") -> count over all sockets
    let notify = () => {};
    const sockets = await connect(wsUrl(client.base, `/v1/executions/${id}/ws?token=${encodeURIComponent(tok.token)}`), opts.fanoutClients, (ev, arrived, wall) => {
      seen.set(ev.type === "socket.closed" ? `closed ${ev.code}` : ev.type, (seen.get(ev.type === "socket.closed" ? `closed ${ev.code}` : ev.type) ?? 0) + 1);
      if (ev.type !== "answers.received") return;
      const list = arrivals.get(ev.step_id) ?? [];
      list.push({ arrived, lagMs: wall - Date.parse(ev.time) });
      arrivals.set(ev.step_id, list);
      notify();
    });
    const closed = Promise.all(sockets.map((ws) => new Promise((r) => (ws.readyState === WebSocket.CLOSED ? r() : ws.addEventListener("close", () => r())))));

    const lastClient = [];
    const eventToLast = [];
    for (const step of def.steps) {
      await waitForQuestion(client, id, step.id);
      const t0 = performance.now();
      const all = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${arrivals.get(step.id)?.length ?? 0}/${sockets.length} sockets got ${step.id}'s answers.received`)), 30_000);
        notify = () => {
          if ((arrivals.get(step.id)?.length ?? 0) >= sockets.length) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
      await requestOk(client.base, "POST", `/v1/executions/${id}/steps/${step.id}/answers`, { headers: client.auth, body: { answers: { ok: true } } });
      await all;
      const got = arrivals.get(step.id);
      lastClient.push(Math.max(...got.map((a) => a.arrived)) - t0);
      eventToLast.push(Math.max(...got.map((a) => a.lagMs)));
    }
    // The server closes each socket (1000) after the terminal event. Under wrangler dev the close
    // frame arrives but the TCP connection may linger (CLOSING): count both as closed by the server.
    await Promise.race([closed, sleep(2_000)]);
    const closedByServer = sockets.filter((ws) => ws.readyState >= WebSocket.CLOSING).length;
    for (const ws of sockets) if (ws.readyState !== WebSocket.CLOSED) ws.close();
    return { clients: sockets.length, triggers: lastClient.length, ...latencySummary(lastClient), samples: lastClient, event_time_to_last_ms: latencySummary(eventToLast), closed_by_server: closedByServer, seen: Object.fromEntries(seen) };
  },
  rows(results, opts) {
    const s = results.stepline ?? [];
    const pooled = latencySummary(s.flatMap((r) => r.samples));
    const how = `${opts.fanoutClients} sockets, ${opts.fanoutRounds} round${opts.fanoutRounds === 1 ? "" : "s"} × ${opts.fanoutTriggers} triggers`;
    const na = "peer: n/a (a Workflow instance has no client event stream)";
    return [
      row({ scenario: "fanout", metric: `answer POST → last client p50 (${how})`, unit: "ms", better: "lower", stepline: s.map((r) => r.p50), note: na }),
      row({
        scenario: "fanout", metric: `answer POST → last client p99 (${how})`, unit: "ms", better: "lower", stepline: s.map((r) => r.p99),
        note: `pooled over all ${pooled.n} triggers: p50 ${pooled.p50?.toFixed(1)} ms, p99 ${pooled.p99?.toFixed(1)} ms`,
        goal: { text: "p99 ≤ 50 ms", met: (r) => r.stepline.median <= 50 },
      }),
      row({ scenario: "fanout", metric: "event `time` → last client p99", unit: "ms", better: "lower", stepline: s.map((r) => r.event_time_to_last_ms.p99) }),
    ];
  },
};
