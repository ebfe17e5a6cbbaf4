/* global performance */
// What a case checks once every execution it must account for has ended, reading each one over
// the API (its own object: status, event log, step trace) beside the effects upstream's counts,
// and the D1 listing against the objects.
import { pool, sleep } from "../lib/http.mjs";
import { TERMINAL } from "./client.mjs";

const EXAMPLES = 10;

/**
 * @param {ReturnType<import("./client.mjs").countingClient>} client
 * @param {{ id: string, n: number }[]} execs  executions that must exist and end `completed`
 * @param {object} o
 * @param {string} [o.httpStepId]  the http step whose request is the counted side effect
 * @param {string[]} [o.httpStepIds]  or several (none: no effect is counted)
 * @param {(n: number, stepId: string) => string} [o.tagOf]  the `tag` the step's request body carries:
 *   every delivery filed under it (effects.keysOfTag) must carry the step's own Idempotency-Key
 * @param {{ sendsOf: (key: string) => number, keysOfTag: (tag: string) => (string|null)[] }} o.effects
 * @param {(n: number) => unknown} o.expectedOutput
 * @param {{ at: string }[]} [o.kills]  executions created before a kill and ended after it are counted
 */
export async function verifyExecutions(client, execs, { httpStepId, httpStepIds = httpStepId ? [httpStepId] : [], tagOf, effects, expectedOutput, kills = [], concurrency = 8 }) {
  const r = {
    checked: execs.length,
    completed: 0,
    lost: 0,
    absent: 0,
    never_terminal: 0,
    not_completed: 0,
    wrong_output: 0,
    seq_gaps: 0,
    events_checked: 0,
    duplicated_steps: 0,
    duplicated_effects: 0,
    missing_effects: 0,
    resent_effects: 0,
    deliveries: 0,
    key_mismatches: 0,
    interrupted_attempts: 0,
    executions_interrupted: 0,
    live_across_kill: 0,
    examples: [],
  };
  const statusById = new Map();
  const example = (what, id, detail) => {
    if (r.examples.length < EXAMPLES) r.examples.push({ what, id, ...detail });
  };
  const killTimes = kills.map((k) => Date.parse(k.at));
  await pool(execs.length, concurrency, async (i) => {
    const { id, n } = execs[i];
    const st = await client.call("GET", `/v1/executions/${id}`);
    if (st.status === 404) {
      r.lost++;
      r.absent++;
      return example("absent", id, { n });
    }
    if (st.status !== 200) throw new Error(`GET /v1/executions/${id} -> ${st.status || st.error}`);
    const ex = st.json;
    statusById.set(id, { status: ex.status, ended_at: ex.ended_at ?? null, created_at: ex.created_at, cost: ex.cost ?? null });
    if (!TERMINAL.has(ex.status)) {
      r.lost++;
      r.never_terminal++;
      example("never terminal", id, { status: ex.status, waiting_for: ex.waiting_for });
    } else if (ex.status !== "completed") {
      r.not_completed++;
      example("not completed", id, { status: ex.status, error: ex.error });
    } else {
      r.completed++;
      if (JSON.stringify(ex.output) !== JSON.stringify(expectedOutput(n))) {
        r.wrong_output++;
        example("wrong output", id, { output: ex.output, expected: expectedOutput(n) });
      }
    }
    const created = Date.parse(ex.created_at);
    const ended = ex.ended_at ? Date.parse(ex.ended_at) : Infinity;
    if (killTimes.some((t) => created < t && t < ended)) r.live_across_kill++;

    // The event log: seq 1..n, no gap, no repeat; each step completed at most once; one end.
    const { items, terminal } = await client.events(id);
    r.events_checked += items.length;
    const gap = items.findIndex((e, k) => e.seq !== k + 1);
    const last = items.at(-1);
    const ends = items.filter((e) => e.type.startsWith("execution.") && TERMINAL.has(e.type.slice("execution.".length)));
    if (gap >= 0 || (TERMINAL.has(ex.status) && (!terminal || ends.length !== 1 || last !== ends[0]))) {
      r.seq_gaps++;
      example("event log", id, { at: gap, seqs: items.map((e) => e.seq).slice(Math.max(0, gap - 2), gap + 3), ends: ends.length, terminal });
    }
    const completions = new Map();
    for (const e of items) if (e.type === "step.completed") completions.set(e.step_id, (completions.get(e.step_id) ?? 0) + 1);
    const twice = [...completions].filter(([, c]) => c > 1);
    if (twice.length > 0 || ends.length > 1) {
      r.duplicated_steps++;
      example("step completed twice", id, { steps: twice, ends: ends.length });
    }

    // The side effect: sent at most once per attempt the trace records, and at least once.
    const steps = await client.ok("GET", `/v1/executions/${id}/steps`);
    let interrupted = 0;
    for (const s of steps.json.items) for (const a of s.attempts ?? []) if (a.error?.code === "INTERRUPTED") interrupted++;
    r.interrupted_attempts += interrupted;
    if (interrupted > 0) r.executions_interrupted++;
    for (const stepId of httpStepIds) {
      const http = steps.json.items.find((s) => s.id === stepId);
      const attempts = http?.attempts?.length ?? 0;
      const key = `${id}:${stepId}`;
      const sends = effects.sendsOf(key);
      r.deliveries += sends;
      if (sends > attempts) {
        r.duplicated_effects++;
        example("effect sent more often than attempted", id, { step: stepId, sends, attempts });
      }
      if (ex.status === "completed" && sends === 0) {
        r.missing_effects++;
        example("completed without its effect", id, { step: stepId });
      }
      if (sends > 1) r.resent_effects++;
      // Every delivery of the step's request (found by its body's tag, not its key) named its key.
      const keys = tagOf ? effects.keysOfTag(tagOf(n, stepId)) : [];
      if (keys.some((k) => k !== key)) {
        r.key_mismatches++;
        example("a delivery with another Idempotency-Key", id, { step: stepId, keys: [...new Set(keys)] });
      }
    }
  });
  return { result: r, statusById };
}

/**
 * The D1 listing of `workflowId` against what each object said (`expected`: id -> { status,
 * ended_at }): rows missing, rows whose status or end differs, rows of executions nobody expects.
 * Read again until they agree, for at most `maxWaitMs` (the outbox flushes asynchronously).
 */
export async function checkIndex(client, workflowId, expected, { maxWaitMs = 30_000 } = {}) {
  const t0 = performance.now();
  for (;;) {
    const rows = await client.listing(workflowId);
    const missing = [...expected.keys()].filter((id) => !rows.has(id));
    const stale = [...expected].filter(([id, e]) => rows.has(id) && (rows.get(id).status !== e.status || (rows.get(id).ended_at ?? null) !== e.ended_at));
    const extra = [...rows.keys()].filter((id) => !expected.has(id));
    const mismatches = missing.length + stale.length + extra.length;
    if (mismatches === 0 || performance.now() - t0 > maxWaitMs) {
      return {
        rows: rows.size,
        expected: expected.size,
        missing: missing.length,
        stale: stale.length,
        extra: extra.length,
        mismatches,
        converged_ms: mismatches === 0 ? Math.round(performance.now() - t0) : null,
        examples: [
          ...missing.slice(0, 3).map((id) => ({ what: "missing from listing", id })),
          ...stale.slice(0, 3).map(([id, e]) => ({ what: "listing differs", id, listing: { status: rows.get(id).status, ended_at: rows.get(id).ended_at }, object: e })),
          ...extra.slice(0, 3).map((id) => ({ what: "unexpected row", id, status: rows.get(id).status })),
        ],
      };
    }
    await sleep(1_000);
  }
}
