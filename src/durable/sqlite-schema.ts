/**
 * The execution Durable Object's SQLite schema. Created idempotently behind a version gate;
 * migrations are additive only. CHECK constraints mirror the TypeScript unions.
 */
import type { Sql } from "./metered-sql";
const STATUS_CHECK = `'pending_approval','queued','running','waiting','paused','completed','partial','failed','cancelled','timed_out','rejected'`;
const STEP_STATUS_CHECK = `'pending','running','waiting','completed','failed','skipped','cancelled'`;

/** Each entry upgrades the schema by one version; never edit a shipped entry, append a new one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE execution (
     id               TEXT PRIMARY KEY,
     tenant           TEXT NOT NULL,
     workflow_id      TEXT NOT NULL,
     workflow_version INTEGER NOT NULL,
     definition_hash  TEXT NOT NULL,
     definition       TEXT NOT NULL,
     input            TEXT NOT NULL,
     labels           TEXT NOT NULL,
     request_hash     TEXT,
     status           TEXT NOT NULL CHECK (status IN (${STATUS_CHECK})),
     paused_from      TEXT CHECK (paused_from IS NULL OR paused_from IN (${STATUS_CHECK})),
     waiting_for      TEXT,
     output           TEXT,
     error            TEXT,
     attempt          INTEGER NOT NULL DEFAULT 1,
     created_at       INTEGER NOT NULL,
     started_at       INTEGER,
     ended_at         INTEGER,
     deadline_at      INTEGER,
     state_version    INTEGER NOT NULL
   );
   CREATE TABLE steps (
     id              TEXT PRIMARY KEY,
     idx             INTEGER NOT NULL,
     status          TEXT NOT NULL CHECK (status IN (${STEP_STATUS_CHECK})),
     attempts        INTEGER NOT NULL DEFAULT 0,
     output          TEXT,
     error           TEXT,
     started_at      INTEGER,
     ended_at        INTEGER,
     next_attempt_at INTEGER
   );
   CREATE TABLE attempts (
     step_id    TEXT NOT NULL,
     attempt    INTEGER NOT NULL,
     status     TEXT NOT NULL CHECK (status IN ('running','completed','failed','cancelled')),
     started_at INTEGER NOT NULL,
     ended_at   INTEGER,
     output     TEXT,
     error      TEXT,
     PRIMARY KEY (step_id, attempt)
   );
   CREATE TABLE timers (
     id      TEXT PRIMARY KEY,
     kind    TEXT NOT NULL CHECK (kind IN ('execution_timeout','step_retry','step_wake','outbox_flush')),
     step_id TEXT,
     due_at  INTEGER NOT NULL
   );
   CREATE INDEX timers_by_due ON timers (due_at);
   CREATE TABLE events (
     seq     INTEGER PRIMARY KEY,
     time    INTEGER NOT NULL,
     type    TEXT NOT NULL,
     step_id TEXT,
     data    TEXT NOT NULL
   );
   CREATE TABLE outbox (
     seq        INTEGER PRIMARY KEY AUTOINCREMENT,
     payload    TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`,
  // 2: the outbox also carries audit rows, flushed to D1 in the same batch as index rows.
  `ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'execution_index' CHECK (kind IN ('execution_index', 'audit'));`,
  // 3: approvals — the plan hash and the gates on the execution; approval expiry timers (the CHECK
  // on timers.kind can only change by rebuilding the table).
  `ALTER TABLE execution ADD COLUMN plan_hash TEXT;
   ALTER TABLE execution ADD COLUMN approvals TEXT NOT NULL DEFAULT '[]';
   CREATE TABLE timers_v3 (
     id      TEXT PRIMARY KEY,
     kind    TEXT NOT NULL CHECK (kind IN ('execution_timeout','step_retry','step_wake','outbox_flush','approval_expiry')),
     step_id TEXT,
     due_at  INTEGER NOT NULL
   );
   INSERT INTO timers_v3 (id, kind, step_id, due_at) SELECT id, kind, step_id, due_at FROM timers;
   DROP TABLE timers;
   ALTER TABLE timers_v3 RENAME TO timers;
   CREATE INDEX timers_by_due ON timers (due_at);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function ensureSchema(sql: Sql): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  const current = row?.version ?? 0;
  if (current >= SCHEMA_VERSION) return;
  for (let v = current; v < SCHEMA_VERSION; v++) sql.exec(MIGRATIONS[v]!);
  if (row) sql.exec("UPDATE _schema SET version = ?", SCHEMA_VERSION);
  else sql.exec("INSERT INTO _schema (version) VALUES (?)", SCHEMA_VERSION);
}
