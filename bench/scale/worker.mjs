/* global Response, URL */
// The Worker of `npm run scale`: an outbox flush without the Durable Object around it. It takes
// flushes (each one execution's pending D1 rows: its index row and its audit rows, as
// src/durable/storage/outbox.ts sends them), routes each to its shard by a hash of
// "tenant/execution id" (./shard.mjs), and writes it with the production statements
// (src/store/executions.ts, src/store/audit.ts) in one D1 batch per flush, all flushes at once —
// as many execution objects flushing together would. With mode "queue", the flushes of one
// request are grouped into one batch per shard instead (a Queue consumer's batching, docs/SCALE.md).
//
// Bindings SHARD_0 … SHARD_{N-1} are the N local D1 databases of the generated wrangler config.
// Answers what was written, from D1's own result meta (rows_written, duration), per shard.
import { auditInsertStatement } from "../../src/store/audit";
import { executionIndexStatements } from "../../src/store/executions";
import { shardOf } from "./shard.mjs";

const shardsOf = (env) =>
  Object.keys(env)
    .filter((k) => /^SHARD_\d+$/.test(k))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((k) => env[k]);

/** A flush's statements: the outbox's order (index rows, then audit rows). */
const statementsOf = (db, flush, now) => [
  ...executionIndexStatements(db, flush.index, now),
  ...flush.audit.map((a) => auditInsertStatement(db, a)),
];

async function write(shards, mode, flushes, now) {
  const per = shards.map(() => ({ batches: 0, statements: 0, index_rows: 0, audit_rows: 0, rows_written: 0, sql_ms: 0 }));
  const failed = [];
  const batches = [];
  if (mode === "queue") {
    const grouped = shards.map(() => []);
    for (const f of flushes) grouped[shardOf(f.tenant, f.executionId, shards.length)].push(f);
    grouped.forEach((fs, s) => fs.length && batches.push({ shard: s, flushes: fs }));
  } else {
    for (const f of flushes) batches.push({ shard: shardOf(f.tenant, f.executionId, shards.length), flushes: [f] });
  }
  await Promise.all(
    batches.map(async ({ shard, flushes: fs }) => {
      const db = shards[shard];
      const statements = fs.flatMap((f) => statementsOf(db, f, now));
      try {
        const results = await db.batch(statements);
        const p = per[shard];
        p.batches += 1;
        p.statements += statements.length;
        for (const f of fs) {
          p.index_rows += f.index.length;
          p.audit_rows += f.audit.length;
        }
        for (const r of results) {
          p.rows_written += r.meta.rows_written ?? 0;
          p.sql_ms += r.meta.duration ?? 0;
        }
      } catch (err) {
        failed.push({ shard, flushes: fs.length, error: String(err?.message ?? err).slice(0, 200) });
      }
    }),
  );
  const ok = flushes.length - failed.reduce((n, f) => n + f.flushes, 0);
  return { flushes: flushes.length, flushes_ok: ok, per_shard: per, failed };
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/health") return new Response("ok");
    if (pathname !== "/flush" || request.method !== "POST") return new Response("not found", { status: 404 });
    const shards = shardsOf(env);
    const { mode = "object", flushes } = await request.json();
    const out = await write(shards, mode, flushes, Date.now());
    return Response.json({ shards: shards.length, ...out });
  },
};
