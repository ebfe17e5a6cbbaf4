/* global performance */
// Seeds the executions index of a local D1 database directly (node:sqlite, one transaction), while
// no server has it open. Statuses, creation times, durations, costs and the steps' outcomes an
// ended execution carries are varied like a real index's. The seeded days are sealed first
// (migration 0012), so the telemetry rollups' triggers fire for every row, as they do for the rows
// the outbox writes to a day that a read has already sealed: the rollups are complete before the
// server starts, and no telemetry read has to build 90 days of them from the rows.
import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";

// Weighted status mix of an index that has been running a while.
const STATUS_MIX = [
  ["completed", 70], ["failed", 8], ["partial", 3], ["cancelled", 4], ["timed_out", 2], ["rejected", 1],
  ["running", 5], ["waiting", 4], ["queued", 2], ["paused", 1],
];
const STATUSES = STATUS_MIX.flatMap(([s, w]) => Array(w).fill(s));
const DAY = 86_400_000;
const STEP_IDS = ["fetch", "classify", "enrich", "decide", "notify"];

/** Inserts `rows` executions for `tenant`, created over the `days` before `now`; returns ms taken. */
export function seedExecutions(file, { tenant, rows, now = Date.now(), days = 90 }) {
  const t0 = performance.now();
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;");
  const insert = db.prepare(
    `INSERT INTO executions (tenant, id, workflow_id, workflow_version, status, labels, error_code, cost_usd,
       created_at, started_at, ended_at, state_version, updated_at, input_tokens, output_tokens, steps)
     VALUES (?, ?, ?, 1, ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const rand = randomBytes(rows * 2);
  const seal = db.prepare("INSERT OR IGNORE INTO rollup_days (tenant, day, sealed_at) VALUES (?, ?, ?)");
  db.exec("BEGIN");
  try {
    for (let day = Math.floor((now - days * DAY) / DAY); day <= Math.floor(now / DAY); day++) seal.run(tenant, day, now);
    for (let i = 0; i < rows; i++) {
      const status = STATUSES[(rand[2 * i] * STATUSES.length) >> 8];
      const created = now - Math.floor(((i + rand[2 * i + 1] / 256) / rows) * days * DAY);
      const live = ["running", "waiting", "queued", "paused"].includes(status);
      // Durations from 200 ms to about 20 s, most of them short; each step takes its share ± 50 %.
      const ms = Math.round(200 + 20_000 * Math.random() ** 3);
      const ended = live ? null : created + 5 + ms;
      const steps = live ? null : JSON.stringify(STEP_IDS.map((id, k) => ({
        id,
        status: status === "failed" && k === STEP_IDS.length - 1 ? "failed" : "completed",
        attempts: 1,
        duration_ms: Math.round((ms / STEP_IDS.length) * (0.5 + Math.random())),
      })));
      insert.run(tenant, `ex_${randomBytes(16).toString("hex")}`, `wf-${i % 20}`, status, status === "failed" ? "STEP_FAILED" : null,
        live ? null : Math.round(Math.random() * 1e6) / 1e8, created, created + 5, ended, 3, ended ?? created + 5,
        live ? null : 400 + (i % 200), live ? null : 100 + (i % 50), steps);
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  } finally {
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
  }
  return performance.now() - t0;
}
