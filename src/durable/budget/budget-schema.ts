/**
 * The budget Durable Object's SQLite schema, created idempotently behind a version gate (STYLE 7):
 * a shipped migration is never edited, a new one is appended. CHECK constraints mirror the
 * TypeScript unions (schemas/budgets.ts). Amounts are USD as REAL, rounded to 1e-10 on every write.
 */
import type { Sql } from "../storage/metered-sql";

/** Each entry upgrades the schema by one version; never edit a shipped entry, append a new one. */
export const BUDGET_MIGRATIONS: readonly string[] = [
  `CREATE TABLE budget (
     id          TEXT NOT NULL PRIMARY KEY,
     tenant      TEXT NOT NULL,
     scope       TEXT NOT NULL CHECK (scope IN ('tenant', 'workflow')),
     workflow_id TEXT,
     period      TEXT NOT NULL CHECK (period IN ('day', 'month')),
     max_usd     REAL NOT NULL CHECK (max_usd > 0),
     on_exceed   TEXT NOT NULL CHECK (on_exceed IN ('pause', 'fail', 'warn')),
     created_at  INTEGER NOT NULL,
     updated_at  INTEGER NOT NULL,
     deleted_at  INTEGER,
     CHECK ((scope = 'workflow') = (workflow_id IS NOT NULL))
   ) WITHOUT ROWID;
   -- Spending per period (its first instant); warned: the 80 % warning of that period was sent.
   CREATE TABLE periods (
     start     INTEGER NOT NULL PRIMARY KEY,
     spent_usd REAL NOT NULL DEFAULT 0,
     warned    INTEGER NOT NULL DEFAULT 0 CHECK (warned IN (0, 1))
   ) WITHOUT ROWID;
   -- Reservations outstanding: capacity held for a call in flight until it is settled or released,
   -- or until it expires (then it is spent at its amount).
   CREATE TABLE reservations (
     id           TEXT NOT NULL PRIMARY KEY,
     execution_id TEXT NOT NULL,
     amount_usd   REAL NOT NULL CHECK (amount_usd >= 0),
     over         INTEGER NOT NULL DEFAULT 0 CHECK (over IN (0, 1)),
     expires_at   INTEGER NOT NULL,
     created_at   INTEGER NOT NULL
   ) WITHOUT ROWID;
   -- Reservation ids that are done with, so a retried reserve, settle or release counts once.
   -- expired: spent at amount_usd in period_start until a late settle replaces it by the actual cost.
   CREATE TABLE closed (
     id           TEXT NOT NULL PRIMARY KEY,
     kind         TEXT NOT NULL CHECK (kind IN ('settled', 'released', 'expired')),
     amount_usd   REAL NOT NULL DEFAULT 0,
     period_start INTEGER,
     closed_at    INTEGER NOT NULL
   ) WITHOUT ROWID;
   -- Executions paused on this budget. notify = 1: the limit changed and they are still to be told
   -- (kept until told, retried by the alarm at notify_at). token changes at every registration, so
   -- a wait registered while a notice was in flight outlives that notice.
   CREATE TABLE waiters (
     execution_id TEXT NOT NULL PRIMARY KEY,
     token        TEXT NOT NULL,
     since        INTEGER NOT NULL,
     notify       INTEGER NOT NULL DEFAULT 0 CHECK (notify IN (0, 1)),
     notify_at    INTEGER,
     attempts     INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID;`,
];

export const BUDGET_SCHEMA_VERSION = BUDGET_MIGRATIONS.length;

/** True when the object has a schema (it was configured). A catalogue read: writes nothing. */
export function hasBudgetSchema(sql: Sql): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_schema'").toArray().length > 0;
}

/** Creates or upgrades the schema. Run it inside a transaction: all of a migration or none of it. */
export function ensureBudgetSchema(sql: Sql): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  const from = row?.version ?? 0;
  if (from >= BUDGET_SCHEMA_VERSION) return;
  for (let v = from; v < BUDGET_SCHEMA_VERSION; v++) sql.exec(BUDGET_MIGRATIONS[v]!);
  if (row) sql.exec("UPDATE _schema SET version = ?", BUDGET_SCHEMA_VERSION);
  else sql.exec("INSERT INTO _schema (version) VALUES (?)", BUDGET_SCHEMA_VERSION);
}
