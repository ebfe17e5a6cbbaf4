/**
 * The execution Durable Object's SQLite schema. Created idempotently behind a version gate; a
 * shipped migration is never edited, a new one is appended. CHECK constraints mirror the
 * TypeScript unions.
 */
import type { Sql } from "./metered-sql";
import { TRANSITION_LOG_TABLE, moveLegacyRowsIntoLog } from "./transition-log";
const STATUS_CHECK = `'pending_approval','queued','running','waiting','paused','completed','partial','failed','cancelled','timed_out','rejected'`;
const STEP_STATUS_CHECK = `'pending','running','waiting','completed','failed','skipped','cancelled'`;

// Tables as version 1 created them, shared by its migration and the fresh schema so that each
// table is said once.
const EXECUTION_COLUMNS_V1 = `     id               TEXT PRIMARY KEY,
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
     state_version    INTEGER NOT NULL`;
/** The steps' columns after `id` (version 4 made `id` NOT NULL and the table WITHOUT ROWID). */
const STEP_COLUMNS_V1 = `     idx             INTEGER NOT NULL,
     status          TEXT NOT NULL CHECK (status IN (${STEP_STATUS_CHECK})),
     attempts        INTEGER NOT NULL DEFAULT 0,
     output          TEXT,
     error           TEXT,
     started_at      INTEGER,
     ended_at        INTEGER,
     next_attempt_at INTEGER`;
const ATTEMPT_COLUMNS_V1 = `     step_id    TEXT NOT NULL,
     attempt    INTEGER NOT NULL,
     status     TEXT NOT NULL CHECK (status IN ('running','completed','failed','cancelled')),
     started_at INTEGER NOT NULL,
     ended_at   INTEGER,
     output     TEXT,
     error      TEXT,
     PRIMARY KEY (step_id, attempt)`;
const EVENTS_V1 = `CREATE TABLE events (
     seq     INTEGER PRIMARY KEY,
     time    INTEGER NOT NULL,
     type    TEXT NOT NULL,
     step_id TEXT,
     data    TEXT NOT NULL
   );`;

// The tables version 4 rebuilt, shared by its migration and the fresh schema.
const STEPS_V4 = `CREATE TABLE steps (
     id              TEXT NOT NULL PRIMARY KEY,
${STEP_COLUMNS_V1}
   ) WITHOUT ROWID;`;
const ATTEMPTS_V4 = `CREATE TABLE attempts (
${ATTEMPT_COLUMNS_V1}
   ) WITHOUT ROWID;`;
const TIMERS_V4 = `CREATE TABLE timers (
     id      TEXT NOT NULL PRIMARY KEY,
     kind    TEXT NOT NULL CHECK (kind IN ('execution_timeout','step_retry','step_wake','outbox_flush','approval_expiry')),
     step_id TEXT,
     due_at  INTEGER NOT NULL
   ) WITHOUT ROWID;`;
const OUTBOX_V4 = `CREATE TABLE outbox (
     seq        INTEGER PRIMARY KEY,
     kind       TEXT NOT NULL DEFAULT 'execution_index' CHECK (kind IN ('execution_index', 'audit')),
     payload    TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`;

// Version 5: the usage ledger, and usage rows in the outbox.
const USAGE_V5 = `CREATE TABLE usage (
     step_id       TEXT NOT NULL,
     item          INTEGER NOT NULL DEFAULT -1,
     attempt       INTEGER NOT NULL,
     call          INTEGER NOT NULL,
     model         TEXT,
     input_tokens  INTEGER NOT NULL,
     output_tokens INTEGER NOT NULL,
     cost_usd      REAL,
     price         TEXT,
     time          INTEGER NOT NULL,
     PRIMARY KEY (step_id, item, attempt, call)
   ) WITHOUT ROWID;`;
const OUTBOX_V5 = `CREATE TABLE outbox (
     seq        INTEGER PRIMARY KEY,
     kind       TEXT NOT NULL DEFAULT 'execution_index' CHECK (kind IN ('execution_index', 'audit', 'usage')),
     payload    TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`;

// Version 7: flow control — queue timeouts, and slot requests and releases in the outbox (sent to
// the concurrency key's object, not to D1).
const TIMERS_V7 = `CREATE TABLE timers (
     id      TEXT NOT NULL PRIMARY KEY,
     kind    TEXT NOT NULL CHECK (kind IN ('execution_timeout','step_retry','step_wake','outbox_flush','approval_expiry','queue_timeout')),
     step_id TEXT,
     due_at  INTEGER NOT NULL
   ) WITHOUT ROWID;`;
const OUTBOX_V7 = `CREATE TABLE outbox (
     seq        INTEGER PRIMARY KEY,
     kind       TEXT NOT NULL DEFAULT 'execution_index' CHECK (kind IN ('execution_index', 'audit', 'usage', 'slot_acquire', 'slot_release')),
     payload    TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`;

// Version 8: signals kept for event steps that do not wait yet (SPEC §9), taken first in, first out.
const SIGNALS_V8 = `CREATE TABLE signals (
     seq         INTEGER PRIMARY KEY,
     event       TEXT NOT NULL,
     data        TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     via         TEXT NOT NULL CHECK (via IN ('signal', 'callback'))
   );`;

// Version 9: child executions — starts and cancels sent to children, and a child's end sent to its
// parent, through the outbox (each retried until the other object acknowledged it).
const OUTBOX_V9 = `CREATE TABLE outbox (
     seq        INTEGER PRIMARY KEY,
     kind       TEXT NOT NULL DEFAULT 'execution_index' CHECK (kind IN ('execution_index', 'audit', 'usage', 'slot_acquire', 'slot_release', 'child_start', 'child_cancel', 'child_ended')),
     payload    TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`;

// Version 10: map steps — the evaluated items of each map step, and one row per item that started.
const MAP_RUNS_V10 = `CREATE TABLE map_runs (
     step_id TEXT NOT NULL PRIMARY KEY,
     attempt INTEGER NOT NULL,
     items   TEXT NOT NULL
   ) WITHOUT ROWID;`;
const MAP_ITEMS_V10 = `CREATE TABLE map_items (
     step_id         TEXT NOT NULL,
     idx             INTEGER NOT NULL,
     status          TEXT NOT NULL CHECK (status IN ('running','waiting','completed','failed','cancelled')),
     attempts        INTEGER NOT NULL,
     log             TEXT,
     output          TEXT,
     error           TEXT,
     started_at      INTEGER NOT NULL,
     ended_at        INTEGER,
     next_attempt_at INTEGER,
     child_id        TEXT,
     PRIMARY KEY (step_id, idx)
   ) WITHOUT ROWID;`;

// Version 11: inbox changes in the outbox (sent to D1 with the index rows).
const OUTBOX_V11 = `CREATE TABLE outbox (
     seq        INTEGER PRIMARY KEY,
     kind       TEXT NOT NULL DEFAULT 'execution_index' CHECK (kind IN ('execution_index', 'audit', 'usage', 'inbox', 'slot_acquire', 'slot_release', 'child_start', 'child_cancel', 'child_ended')),
     payload    TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`;

// Version 12: the execution row WITHOUT ROWID (one b-tree: a write costs one row, not two).
const EXECUTION_V12 = `CREATE TABLE execution (
${EXECUTION_COLUMNS_V1},
     plan_hash        TEXT,
     approvals        TEXT NOT NULL DEFAULT '[]',
     prices           TEXT NOT NULL DEFAULT '{}',
     budget           TEXT,
     budget_ids       TEXT NOT NULL DEFAULT '[]',
     concurrency      TEXT,
     origin           TEXT,
     parent           TEXT,
     depth            INTEGER NOT NULL DEFAULT 1,
     child_versions   TEXT NOT NULL DEFAULT '{}'
   ) WITHOUT ROWID;`;
const EXECUTION_COLUMNS_V12 =
  "id, tenant, workflow_id, workflow_version, definition_hash, definition, input, labels, request_hash, status, paused_from, waiting_for, output, error, attempt, created_at, started_at, ended_at, deadline_at, state_version, plan_hash, approvals, prices, budget, budget_ids, concurrency, origin, parent, depth, child_versions";

/** A migration: SQL, or code where rows must be reshaped (it runs inside the same transaction). */
export type Migration = string | ((sql: Sql) => void);

/**
 * SQLite changes a table's keys or CHECKs only by rebuilding it: the new table under a temporary
 * name, the rows copied (those matching `where`), the old table dropped, the new one renamed.
 */
function rebuildTable(name: string, create: string, columns: string, where?: string): string {
  const temporary = `${name}_rebuilt`;
  return `${create.replace(`CREATE TABLE ${name} (`, `CREATE TABLE ${temporary} (`)}
   INSERT INTO ${temporary} (${columns}) SELECT ${columns} FROM ${name}${where ? ` WHERE ${where}` : ""};
   DROP TABLE ${name};
   ALTER TABLE ${temporary} RENAME TO ${name};`;
}

/** Each entry upgrades the schema by one version; never edit a shipped entry, append a new one. */
export const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE execution (
${EXECUTION_COLUMNS_V1}
   );
   CREATE TABLE steps (
     id              TEXT PRIMARY KEY,
${STEP_COLUMNS_V1}
   );
   CREATE TABLE attempts (
${ATTEMPT_COLUMNS_V1}
   );
   CREATE TABLE timers (
     id      TEXT PRIMARY KEY,
     kind    TEXT NOT NULL CHECK (kind IN ('execution_timeout','step_retry','step_wake','outbox_flush')),
     step_id TEXT,
     due_at  INTEGER NOT NULL
   );
   CREATE INDEX timers_by_due ON timers (due_at);
   ${EVENTS_V1}
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
  // 4: rows are written only for steps that have started (a pending step is its definition), and
  // keyed tables are WITHOUT ROWID: one b-tree each instead of a table plus a key index, so a row
  // costs one write, not two. The outbox drops AUTOINCREMENT (its sqlite_sequence write per
  // insert); reusing a sequence number once every row is gone is harmless there. Timers lose their
  // due_at index: the object reads them all once and keeps them in memory.
  [
    rebuildTable("steps", STEPS_V4, "id, idx, status, attempts, output, error, started_at, ended_at, next_attempt_at", "status <> 'pending' OR attempts > 0"),
    rebuildTable("attempts", ATTEMPTS_V4, "step_id, attempt, status, started_at, ended_at, output, error"),
    rebuildTable("timers", TIMERS_V4, "id, kind, step_id, due_at"),
    rebuildTable("outbox", OUTBOX_V4, "seq, kind, payload, created_at"),
  ].join("\n"),
  // 5: costs — the prices the execution pinned at start, its usage ledger, and ledger rows in the
  // outbox (flushed to D1 under their unique key).
  [
    "ALTER TABLE execution ADD COLUMN prices TEXT NOT NULL DEFAULT '{}';",
    USAGE_V5,
    rebuildTable("outbox", OUTBOX_V5, "seq, kind, payload, created_at"),
  ].join("\n"),
  // 6: budgets — the execution's own, and the ids of the shared ones that apply to it.
  `ALTER TABLE execution ADD COLUMN budget TEXT;
   ALTER TABLE execution ADD COLUMN budget_ids TEXT NOT NULL DEFAULT '[]';`,
  // 7: flow control — the execution's concurrency key, limit and priority; queue timeouts; slot
  // messages in the outbox.
  [
    "ALTER TABLE execution ADD COLUMN concurrency TEXT;",
    rebuildTable("timers", TIMERS_V7, "id, kind, step_id, due_at"),
    rebuildTable("outbox", OUTBOX_V7, "seq, kind, payload, created_at"),
  ].join("\n"),
  // 8: signals kept for event steps, and the origin callback URLs point at.
  [SIGNALS_V8, "ALTER TABLE execution ADD COLUMN origin TEXT;"].join("\n"),
  // 9: child executions — the parent link, the depth, the child versions pinned at start; child
  // messages in the outbox.
  [
    "ALTER TABLE execution ADD COLUMN parent TEXT;",
    "ALTER TABLE execution ADD COLUMN depth INTEGER NOT NULL DEFAULT 1;",
    "ALTER TABLE execution ADD COLUMN child_versions TEXT NOT NULL DEFAULT '{}';",
    rebuildTable("outbox", OUTBOX_V9, "seq, kind, payload, created_at"),
  ].join("\n"),
  // 10: map steps' items.
  [MAP_RUNS_V10, MAP_ITEMS_V10].join("\n"),
  // 11: inbox changes in the outbox.
  rebuildTable("outbox", OUTBOX_V11, "seq, kind, payload, created_at"),
  // 12: one row per transition — its events and the steps it changed — instead of a row per event
  // and per step (storage/transition-log.ts); the execution row WITHOUT ROWID.
  (sql) => {
    sql.exec(TRANSITION_LOG_TABLE);
    moveLegacyRowsIntoLog(sql);
    sql.exec(rebuildTable("execution", EXECUTION_V12, EXECUTION_COLUMNS_V12));
  },
];

/** Runs migration `v` (0-based: it upgrades version v to v + 1). */
export function migrate(sql: Sql, v: number): void {
  const m = MIGRATIONS[v]!;
  if (typeof m === "string") sql.exec(m);
  else m(sql);
}

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The current schema in one pass, for a new object (almost every object is new: one per
 * execution). Replaying every migration would create tables only to rebuild them; a test keeps
 * this identical to the migrated schema.
 */
export const FRESH_SCHEMA = `${EXECUTION_V12}
   ${ATTEMPTS_V4}
   ${TIMERS_V7}
   ${TRANSITION_LOG_TABLE}
   ${OUTBOX_V11}
   ${USAGE_V5}
   ${SIGNALS_V8}
   ${MAP_RUNS_V10}
   ${MAP_ITEMS_V10}`;

/**
 * True when the object has a schema: an execution was created in it (by this code or older code).
 * A read of SQLite's catalogue: it writes nothing, so asking about an id nobody created costs no
 * storage.
 */
export function hasSchema(sql: Sql): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_schema'").toArray().length > 0;
}

/**
 * Creates the schema (a new execution) or upgrades it to the current version (an object stored by
 * older code). Run it inside a transaction: all of a migration or none of it.
 */
export function ensureSchema(sql: Sql): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  if (!row) {
    sql.exec(FRESH_SCHEMA);
    sql.exec("INSERT INTO _schema (version) VALUES (?)", SCHEMA_VERSION);
    return;
  }
  if (row.version >= SCHEMA_VERSION) return;
  for (let v = row.version; v < SCHEMA_VERSION; v++) migrate(sql, v);
  sql.exec("UPDATE _schema SET version = ?", SCHEMA_VERSION);
}