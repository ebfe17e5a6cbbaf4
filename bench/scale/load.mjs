/* global performance */
// The load of `npm run scale`: executions' outbox flushes, sent to the simulation Worker over
// loopback by concurrent loops, each request carrying the flushes of several executions.
//
// An execution is indexed the way a chain of trivial steps is (src/durable/execution/runtime.ts,
// index-row.ts): its first flush carries its index row (running, no steps) and the audit row of
// the request that started it; its last carries the ended row with every step's outcome (what the
// telemetry triggers of migrations 0007/0009 count). Each loop's request sends the first flushes
// of `perRequest` new executions and the last flushes of the ones it started in its previous
// request, so inserts and the updates that end them are interleaved as in a steady state.
import { randomBytes } from "node:crypto";
import { request } from "../lib/http.mjs";
import { shardOf } from "./shard.mjs";

const TENANTS = 64;

/** A new execution; with `shard`, one the hash (./shard.mjs) places on that shard of `shards`. */
function newExecution(steps, now, shard = null, shards = 1) {
  for (;;) {
    const tenant = `t${String(Math.floor(Math.random() * TENANTS)).padStart(2, "0")}`;
    const e = { tenant, id: `ex_${randomBytes(16).toString("hex")}`, workflowId: `chain-${steps}`, steps, createdAt: now };
    if (shard === null || shardOf(tenant, e.id, shards) === shard) return e;
  }
}

function indexRow(e, fields) {
  return {
    tenant: e.tenant,
    id: e.id,
    workflowId: e.workflowId,
    workflowVersion: 1,
    labels: {},
    errorCode: null,
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    createdAt: e.createdAt,
    startedAt: e.createdAt + 1,
    parent: null,
    ...fields,
  };
}

/** The first flush: the index row of the started execution and the start request's audit row. */
export function startFlush(e) {
  const audit = {
    id: `au_${randomBytes(12).toString("hex")}`,
    time: e.createdAt,
    tenant: e.tenant,
    actor: "key_bench",
    action: "execution.start",
    target: e.id,
    result: "success",
    status: 201,
    requestId: `req_${randomBytes(8).toString("hex")}`,
    detail: { workflow_id: e.workflowId, workflow_version: 1 },
  };
  return { tenant: e.tenant, executionId: e.id, index: [indexRow(e, { status: "running", endedAt: null, stateVersion: 2 })], audit: [audit] };
}

/** The last flush: the ended row, with each step's outcome. */
export function endFlush(e, now) {
  const steps = Array.from({ length: e.steps }, (_, i) => ({ id: `s${i + 1}`, status: "completed", attempts: 1, duration_ms: Math.floor(Math.random() * 4) }));
  const row = indexRow(e, { status: "completed", endedAt: Math.max(now, e.createdAt + 2), stateVersion: 2 + 2 * e.steps, steps });
  return { tenant: e.tenant, executionId: e.id, index: [row], audit: [] };
}

const emptyTally = (shards) => ({
  requests: 0,
  failed_requests: [],
  flushes: 0,
  flushes_ok: 0,
  executions_ended: 0,
  index_rows: 0,
  audit_rows: 0,
  rows_written: 0,
  failed_batches: [],
  latencies: [],
  per_shard: Array.from({ length: shards }, () => ({ batches: 0, statements: 0, index_rows: 0, audit_rows: 0, rows_written: 0, sql_ms: 0 })),
});

/**
 * Adds one answer to the tally. `shard` is the global shard of a server holding one database (mode
 * processes: its answer's shard 0); null when the server holds every shard and answers per shard.
 */
function add(t, res, ended, shard = null) {
  t.requests += 1;
  if (res.status !== 200) {
    t.failed_requests.push(`HTTP ${res.status}${shard === null ? "" : ` (shard ${shard})`}: ${JSON.stringify(res.json).slice(0, 200)}`);
    return;
  }
  const b = res.json;
  t.flushes += b.flushes;
  t.flushes_ok += b.flushes_ok;
  if (b.failed.length === 0) t.executions_ended += ended;
  t.failed_batches.push(...b.failed.map((f) => (shard === null ? f : { ...f, shard })));
  b.per_shard.forEach((p, s) => {
    for (const k of Object.keys(p)) t.per_shard[shard ?? s][k] += p[k];
  });
  for (const p of b.per_shard) {
    t.index_rows += p.index_rows;
    t.audit_rows += p.audit_rows;
    t.rows_written += p.rows_written;
  }
}

/** One POST of flushes; a refused connection counts as a failed request, not a crash. */
async function post(base, body) {
  try {
    return await request(base, "POST", "/flush", { body });
  } catch (err) {
    return { status: 0, json: { error: String(err?.message ?? err) }, ms: 0 };
  }
}

/**
 * Sends the first flushes of `fresh` and the last flushes of `ending` executions. With one server
 * (`bases` of length 1) in one request, the server routing each flush to its shard; with one
 * server per shard (mode processes), each flush goes to the server of its shard by the same hash
 * (./shard.mjs), one request per server at once. Adds the answers to `tally`; returns the
 * executions still to be ended (those of a failed request are sent again).
 */
async function send(tally, { bases, shards, mode }, fresh, ending, now) {
  const parts = bases.length === 1
    ? [{ base: bases[0], shard: null, fresh, ending }]
    : bases.map((base, shard) => ({ base, shard, fresh: [], ending: [] }));
  if (bases.length > 1) {
    for (const e of fresh) parts[shardOf(e.tenant, e.id, shards)].fresh.push(e);
    for (const e of ending) parts[shardOf(e.tenant, e.id, shards)].ending.push(e);
  }
  const sent = parts.filter((p) => p.fresh.length + p.ending.length > 0);
  const answers = await Promise.all(sent.map((p) => post(p.base, { mode, flushes: [...p.fresh.map(startFlush), ...p.ending.map((e) => endFlush(e, now))] })));
  return sent.flatMap((p, i) => {
    add(tally, answers[i], p.ending.length, p.shard);
    return answers[i].status === 200 ? p.fresh : [...p.ending, ...p.fresh];
  });
}

/**
 * Runs `concurrency` loops against `bases` (see send) for `seconds`; with one server per shard,
 * loop i writes to server i mod N (`concurrency` / N loops per server). `carry` (one array per loop) holds the
 * executions each loop started and has not ended yet; it is kept between calls, so a warm-up hands
 * its unfinished executions to the measurement. Returns the tally and the wall time: from the
 * first request to the last answer (the loops stop sending at the deadline).
 */
export async function drive({ bases, shards, seconds, concurrency, perRequest, steps, mode, carry }) {
  const tally = emptyTally(shards);
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      carry[loop] ??= [];
      while (performance.now() < until) {
        const now = Date.now();
        // One server per shard: loop i sends to server i mod N only the executions the hash puts
        // there, so every request carries `perRequest` executions whatever N (none is split).
        const fresh = Array.from({ length: perRequest }, () => (bases.length > 1 ? newExecution(steps, now, loop % bases.length, shards) : newExecution(steps, now)));
        const t = performance.now();
        carry[loop] = await send(tally, { bases, shards, mode }, fresh, carry[loop], now);
        tally.latencies.push(performance.now() - t);
      }
    }),
  );
  return { tally, wallMs: performance.now() - t0 };
}

/**
 * D1 rows written per execution, first flush and last flush, for `count` executions of `steps`
 * steps (sent after one another, one request each way): the per-start figure a shard count is
 * computed from, as this simulation writes it.
 */
export async function probe({ bases, shards, steps, count = 20 }) {
  const now = Date.now();
  const exes = Array.from({ length: count }, () => newExecution(steps, now));
  const first = emptyTally(shards);
  await send(first, { bases, shards, mode: "object" }, exes, [], now);
  const last = emptyTally(shards);
  await send(last, { bases, shards, mode: "object" }, [], exes, Date.now());
  const failed = [...first.failed_requests, ...last.failed_requests, ...[...first.failed_batches, ...last.failed_batches].map((f) => f.error)];
  return {
    steps,
    executions: count,
    d1_rows_first_flush: first.rows_written / count,
    d1_rows_last_flush: last.rows_written / count,
    d1_rows_per_execution: (first.rows_written + last.rows_written) / count,
    outbox_rows_per_execution: (first.index_rows + first.audit_rows + last.index_rows + last.audit_rows) / count,
    failed,
  };
}
