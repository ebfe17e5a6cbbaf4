/* global performance */
// Scenario 9: keyed concurrency (SPEC §8). A batch of executions on one concurrency key with a small
// limit, each holding its slot for a short http call to the runner's loopback upstream (lib/upstream.mjs).
// The figure is the handoff: how long after an execution ends the next one in the queue starts.
// The same workload without a key gives what the lock adds per execution (rows, round trips).
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { pollUntilTerminal, pool, quiet, requestOk, sleep } from "../lib/http.mjs";
import { field, row } from "../lib/rows.mjs";
import { latencySummary, median } from "../lib/stats.mjs";
import { billedRowsOf } from "./cost.mjs";

const VARIANTS = [
  { key: "keyed", label: "with a key", workflow: "concurrency-keyed", keyed: true },
  { key: "unkeyed", label: "without a key", workflow: "concurrency-unkeyed", keyed: false },
];

/**
 * The key object's own SQLite rows per execution, counted from slot-book.ts's statements (the key
 * object does not report what it writes): its request (`next_seq` + its queue row), its admission
 * (queue row out, holder row in), its release (holder row out) = 5; an execution admitted by an
 * offer rather than by its own request also has its holder row confirmed (+1); the key's first
 * request creates its `slot_key` row (+1 per key). Index entries (`queue_order`) and alarm sets are
 * not in this count.
 */
export const KEY_ROWS_PER_EXECUTION = 5;
const KEY_ROWS_PER_OFFER = 1;

/** One http step to the loopback upstream, holding `holdMs`; the first ones wait at the variant's gate. */
function holdDefinition(v, base, opts) {
  return {
    id: v.workflow,
    ...(v.keyed ? { concurrency: { key: "conc:{{ input.k }}", limit: opts.concurrencyLimit } } : {}),
    steps: [{ id: "hold", type: "http", request: { method: "GET", url: `${base}/hold`, query: { ms: String(opts.concurrencyHoldMs), jitter: String(opts.concurrencyJitterMs), gate: "{{ input.gate }}" } } }],
  };
}

const ms = (iso) => (iso ? Date.parse(iso) : null);

async function eventsOf(client, id) {
  const { json } = await requestOk(client.base, "GET", `/v1/executions/${id}/events?limit=1000`, { headers: client.auth });
  return json.items;
}

/** Waits until the key's object holds and queues nobody (every execution has ended and given its slot back). */
async function keyDrained(client, key, timeoutMs = 120_000) {
  // Every 250 ms: the figures come from the executions' own timestamps, so a slower poll costs
  // nothing but adds less load to the runtime (one thread runs every object locally).
  const t0 = performance.now();
  for (;;) {
    const { json } = await requestOk(client.base, "GET", `/v1/concurrency/${encodeURIComponent(key)}`, { headers: client.auth });
    if (json.running.length === 0 && json.queued.length === 0) return;
    if (performance.now() - t0 > timeoutMs) throw new Error(`key ${key}: ${json.running.length} running, ${json.queued.length} queued after ${timeoutMs} ms`);
    await sleep(250);
  }
}

async function runVariant(v, { client, server, opts, upstream }) {
  const n = opts.concurrencyExecutions;
  const limit = opts.concurrencyLimit;
  const tag = randomBytes(6).toString("hex");
  // Only the keyed batch waits at a gate: without a key nothing queues, and a whole batch in flight
  // at once is the load that can make the local runtime drop connections.
  const gate = v.keyed ? `${v.key}-${tag}` : "";
  const key = `conc:${tag}`;
  // Start the whole batch; the first ones admitted wait at the gate, so every later one is queued
  // before the first slot is given back.
  const starts = await pool(n, 10, () =>
    requestOk(client.base, "POST", "/v1/executions", { headers: client.auth, body: { workflow_id: v.workflow, input: { k: tag, gate } } }),
  );
  const ids = starts.map((r) => r.json.id);
  const queuedAtStart = new Set(starts.filter((r) => r.json.status === "queued").map((r) => r.json.id));
  let atGate = null;
  if (v.keyed) {
    const { json } = await requestOk(client.base, "GET", `/v1/concurrency/${encodeURIComponent(key)}`, { headers: client.auth });
    atGate = { running: json.running.length, queued: json.queued.length };
  }
  const gateOpenedAt = Date.now();
  const load = loadavg()[0]; // the machine is shared: what else ran shows in the handoffs
  // The first ones go through a slot's mean hold ÷ limit apart, as they would be in a steady state.
  if (gate) void upstream.open(gate, opts.concurrencyHoldMs / limit);
  // Queued executions are not polled while the key drains: each read of one asks the key's object
  // for its position, which would compete with the handoffs measured.
  if (v.keyed) await keyDrained(client, key);
  await pollUntilTerminal(client, ids, { intervalMs: 50 });

  const details = await pool(ids.length, 8, async (i) => {
    const id = ids[i];
    const body = (await client.status(id)).body;
    const events = await eventsOf(client, id);
    const at = (type) => ms(events.find((e) => e.type === type)?.time);
    return {
      id,
      queued: queuedAtStart.has(id),
      started: ms(body.started_at),
      ended: ms(body.ended_at),
      startedEvent: at("execution.started"),
      stepStarted: at("step.started"),
      stepDone: at("step.completed"),
    };
  });
  const lines = await billedRowsOf(server, ids);
  const mean = (f) => {
    const vals = lines.map((l) => l[f]).filter((x) => typeof x === "number");
    return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  };
  const out = {
    executions: n,
    billed_lines: lines.length,
    storage_rows_written: mean("storage_rows_written"),
    d1_rows_written: mean("d1_rows_written"),
    key_calls: mean("key_calls"),
  };
  if (!v.keyed) return out;

  // The k-th execution to start (k > limit) took the slot given back by the (k − limit)-th to end.
  const byStart = [...details].sort((a, b) => a.started - b.started);
  const ends = details.map((d) => d.ended).sort((a, b) => a - b);
  const handoffs = [];
  byStart.forEach((d, k) => {
    if (k >= limit && d.queued) handoffs.push(d.started - ends[k - limit]);
  });
  const queued = details.filter((d) => d.queued);
  const offers = queued.length; // admitted by the key object's offer (slotGranted), not by its own request
  return {
    ...out,
    wall_ms: Math.max(...details.map((d) => d.ended)) - gateOpenedAt,
    load_1m: load,
    at_gate: atGate,
    queued_at_start: queued.length,
    handoff_ms: latencySummary(handoffs),
    handoff_min_ms: handoffs.length ? Math.min(...handoffs) : null,
    samples: handoffs,
    // Admitted → its step under way, and its step done → its end (inside the execution, for context).
    admit_to_step_ms: median(queued.map((d) => d.stepStarted - d.startedEvent)),
    step_to_end_ms: median(queued.map((d) => d.ended - d.stepDone)),
    run_ms: median(queued.map((d) => d.ended - d.started)),
    grant_asks: offers / n,
    round_trips: out.key_calls === null ? null : out.key_calls + offers / n,
    key_rows_by_design: (KEY_ROWS_PER_EXECUTION * n + KEY_ROWS_PER_OFFER * offers + 1) / n,
  };
}

export const concurrency = {
  id: "concurrency",
  title: "Keyed concurrency: slot handoff",
  peer: false,
  /** The description, with the options the scenario ran with. */
  describe: (opts) =>
    `${opts.concurrencyExecutions} executions of a workflow with \`concurrency: { key, limit: ${opts.concurrencyLimit} }\`, all on one key, each one \`http\` step to a loopback upstream that answers after ${opts.concurrencyHoldMs} ± ${opts.concurrencyJitterMs} ms (uniformly random, so executions do not end in lockstep). ` +
    `The batch is started (10 start requests in flight); the first executions admitted wait at the upstream until every start has been answered (so all others are queued), then go through ${opts.concurrencyHoldMs / opts.concurrencyLimit} ms apart (mean hold ÷ limit, as in a steady state). ` +
    `Handoff: for each execution that was queued, its \`started_at\` minus the \`ended_at\` of the execution whose slot it took (the k-th to start, k > ${opts.concurrencyLimit}, takes the slot of the (k − ${opts.concurrencyLimit})-th to end). ` +
    "Wall time: from the upstream letting the first executions through to the last `ended_at`. While the key drains only `GET /v1/concurrency/{key}` is polled (every 250 ms): a read of a queued execution asks the key object for its position. " +
    "The same batch without a key gives what the lock adds: rows from each execution's last `execution.billed_rows` log line (mean over the batch), and calls to the key object (`key_calls`). Stepline only.",
  async setup({ client, opts, upstream }) {
    for (const v of VARIANTS) await requestOk(client.base, "POST", "/v1/workflows", { headers: client.auth, body: holdDefinition(v, upstream.base, opts) });
    return {};
  },
  async measure(ctx) {
    const out = {};
    for (const [i, v] of VARIANTS.entries()) {
      if (i > 0) await quiet();
      out[v.key] = await runVariant(v, ctx);
    }
    return out;
  },
  rows(results, opts) {
    const s = results.stepline ?? [];
    const k = (f) => field(s, (r) => f(r.keyed));
    const u = (f) => field(s, (r) => f(r.unkeyed));
    const pooled = latencySummary(s.flatMap((r) => r?.keyed?.samples ?? []));
    const loads = s.map((r) => r?.keyed?.load_1m).filter((x) => typeof x === "number");
    const how = `${opts.concurrencyExecutions} executions, limit ${opts.concurrencyLimit}, ${opts.concurrencyHoldMs} ± ${opts.concurrencyJitterMs} ms step`;
    const id = "concurrency";
    const rowsNote =
      "Durable Object rows here are the execution object's (its `execution.billed_rows`); the key object does not report its rows: " +
      `its count is by design from slot-book.ts's statements (${KEY_ROWS_PER_EXECUTION} table rows per execution, +${KEY_ROWS_PER_OFFER} for one admitted by an offer, +1 per key; index entries and alarm sets not counted)`;
    const callsNote =
      "Round trips: the execution's calls to the key object (measured `key_calls`: its slot request and its release) plus the key object's grant offer (`slotGranted`) to each execution that was queued (counted from the start answers)";
    return [
      row({ scenario: id, metric: `handoff p50 (${how})`, unit: "ms", better: "lower", stepline: k((r) => r?.handoff_ms?.p50), note: `pooled over ${pooled.n} handoffs: p50 ${pooled.p50?.toFixed(1)} ms, p99 ${pooled.p99?.toFixed(1)} ms, max ${pooled.max?.toFixed(1)} ms${loads.length ? `; machine load (1-min average) when each round's batch was let through: ${loads.map((x) => x.toFixed(2)).join(", ")}` : ""}` }),
      row({ scenario: id, metric: `handoff p99 (${how})`, unit: "ms", better: "lower", stepline: k((r) => r?.handoff_ms?.p99), goal: { text: "p99 handoff ≤ 50 ms", met: (r) => r.stepline.median <= 50 } }),
      row({ scenario: id, metric: "wall time, first executions let through → last end", unit: "ms", better: "lower", stepline: k((r) => r?.wall_ms) }),
      row({ scenario: id, metric: "run time of a queued execution (started → ended) p50", unit: "ms", better: "lower", stepline: k((r) => r?.run_ms) }),
      row({
        scenario: id, metric: "admitted → its step started (events `execution.started` → `step.started`) p50", unit: "ms", better: "lower", stepline: k((r) => r?.admit_to_step_ms),
        note: "After the handoff the slot is held while the admitted execution gets going: admitted → step started is part of every run time, not of the handoff",
      }),
      row({ scenario: id, metric: "with a key: Durable Object storage rows written per execution (execution object)", unit: "rows", better: "lower", stepline: k((r) => r?.storage_rows_written), note: rowsNote }),
      row({ scenario: id, metric: "without a key: Durable Object storage rows written per execution", unit: "rows", better: "lower", stepline: u((r) => r?.storage_rows_written) }),
      row({
        scenario: id, metric: "the lock's execution-object rows per execution (with − without)", unit: "rows", better: "lower",
        stepline: field(s, (r) => (r?.keyed?.storage_rows_written ?? NaN) - (r?.unkeyed?.storage_rows_written ?? NaN)),
      }),
      row({ scenario: id, metric: "the lock's key-object rows per execution (by design)", unit: "rows", better: "lower", stepline: k((r) => r?.key_rows_by_design) }),
      row({ scenario: id, metric: "with a key: D1 rows written per execution", unit: "rows", better: "lower", stepline: k((r) => r?.d1_rows_written) }),
      row({ scenario: id, metric: "without a key: D1 rows written per execution", unit: "rows", better: "lower", stepline: u((r) => r?.d1_rows_written) }),
      row({ scenario: id, metric: "calls to the key object per execution (key_calls)", unit: "calls", better: "lower", stepline: k((r) => r?.key_calls), note: callsNote }),
      row({ scenario: id, metric: "round trips between execution and key object per execution", unit: "calls", better: "lower", stepline: k((r) => r?.round_trips) }),
    ];
  },
};
