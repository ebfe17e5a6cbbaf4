/* global performance */
// The load: `concurrency` clients each starting executions back to back (`POST /v1/executions`)
// until stopped or `count` starts were made. Every start is recorded: its Idempotency-Key (when
// the case gives one), its answer's status and execution id, or the error when no answer came.
//
// A start is "acknowledged" when it got a 2xx: that execution must survive anything. A start that
// got no answer because the server was killed under it was "in flight": its execution may or may
// not exist.

/**
 * @param {object} o
 * @param {ReturnType<import("./client.mjs").countingClient>} o.client
 * @param {number} o.concurrency
 * @param {(i: number) => { body: object, key?: string }} o.make  the i-th start's body and key
 * @param {number} [o.count]  stop after this many starts (default: until `stop()`)
 * @param {number} [o.offset]  the first start's index
 */
export function startLoad({ client, concurrency, make, count = Infinity, offset = 0 }) {
  const records = [];
  let stopped = false;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (!stopped && next < count) {
      const i = offset + next++;
      const { body, key } = make(i);
      const rec = { i, key, n: body.input?.n, t: Math.round(performance.now() - t0) };
      records.push(rec);
      const res = await client.call("POST", "/v1/executions", { headers: key ? { "idempotency-key": key } : {}, body });
      rec.status = res.status;
      rec.ms = Math.round(res.ms ?? 0);
      if (res.status >= 200 && res.status < 300) {
        rec.id = res.json.id;
        rec.replayed = res.headers.get("idempotent-replayed") === "true";
      } else if (res.status === 0) rec.error = res.error;
      else rec.code = res.json?.code;
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker)).then(() => ({ records, ms: performance.now() - t0 }));
  return {
    done,
    records,
    /** No new start is made after this; the ones in flight finish (or fail). */
    stop() {
      stopped = true;
    },
  };
}

/** Counts of a load's records: acknowledged (2xx), in flight (no answer), refused (other statuses, by status). */
export function summarizeLoad(records) {
  const acked = records.filter((r) => r.status >= 200 && r.status < 300);
  const noAnswer = records.filter((r) => r.status === 0);
  const refused = {};
  for (const r of records) if (r.status >= 300) refused[r.status] = (refused[r.status] ?? 0) + 1;
  return { starts: records.length, acked: acked.length, no_answer: noAnswer.length, refused };
}
