/**
 * A bulk action's record, in its object's SQLite storage (SPEC §10). The object is the only writer.
 *
 * - `bulk`: one row — who asked what, the frozen filter, the keyset cursor of the D1 listing (the
 *   position after the last execution claimed), whether the listing is exhausted, and the counts.
 * - `targets`: one row per execution the bulk matched. A page's executions are claimed (`claimed`)
 *   in the same transaction that moves the cursor, so a page is taken once; each then settles
 *   (`done`, `skipped`, `failed`) in one transaction with its count. An execution with a row is
 *   never claimed again, and a settled one never acted on again. `tries` counts calls made: a claim
 *   with tries > 0 may have landed before the object was cut off, so it is looked at before it is
 *   acted on (engine/bulk.ts `bulkActionLanded`). `ended_at` is the execution's end as listed.
 *
 * An object nobody created has no tables: reading an unknown bulk id writes nothing.
 */
import type { Sql } from "../storage/metered-sql";
import { isoTime } from "../../lib/time";
import type { Bulk, BulkAction, BulkFilter, CreateBulkArgs, CreateBulkResult } from "../../schemas/bulk";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bulk (
    one               INTEGER PRIMARY KEY CHECK (one = 1),
    id                TEXT NOT NULL,
    tenant            TEXT NOT NULL,
    action            TEXT NOT NULL CHECK (action IN ('cancel', 'retry')),
    filter            TEXT NOT NULL,
    request_hash      TEXT NOT NULL,
    actor             TEXT NOT NULL,
    request_id        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    cursor_created_at INTEGER,
    cursor_id         TEXT,
    exhausted         INTEGER NOT NULL DEFAULT 0 CHECK (exhausted IN (0, 1)),
    matched           INTEGER NOT NULL DEFAULT 0,
    done              INTEGER NOT NULL DEFAULT 0,
    skipped           INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS targets (
    execution_id TEXT NOT NULL PRIMARY KEY,
    outcome      TEXT NOT NULL CHECK (outcome IN ('claimed', 'done', 'skipped', 'failed')),
    tries        INTEGER NOT NULL DEFAULT 0,
    ended_at     INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS targets_claimed ON targets (execution_id) WHERE outcome = 'claimed';`;

export type Settled = "done" | "skipped" | "failed";
/** The count column each outcome adds to (never interpolated from outside). */
const COUNT_COLUMN: Record<Settled, string> = { done: "done", skipped: "skipped", failed: "failed" };

/** The bulk as its run reads it. */
export interface BulkRecord {
  id: string;
  tenant: string;
  action: BulkAction;
  filter: BulkFilter;
  actor: string;
  requestId: string;
  cursor: { createdAt: number; id: string } | null;
  exhausted: boolean;
  finished: boolean;
}

/** An execution claimed and not settled yet. */
export interface Claim {
  executionId: string;
  tries: number;
  endedAt: number | null;
}

interface BulkRow {
  id: string;
  tenant: string;
  action: BulkAction;
  filter: string;
  request_hash: string;
  actor: string;
  request_id: string;
  created_at: number;
  finished_at: number | null;
  cursor_created_at: number | null;
  cursor_id: string | null;
  exhausted: number;
  matched: number;
  done: number;
  skipped: number;
  failed: number;
}

export class BulkBook {
  private ready: boolean;

  constructor(
    private readonly sql: Sql,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {
    this.ready = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'bulk'").toArray().length > 0;
  }

  /** Records the bulk; an existing one is a replay of the same request, or another request under its id. */
  create(a: CreateBulkArgs): CreateBulkResult {
    return this.transaction(() => {
      const existing = this.row();
      if (existing) return existing.request_hash === a.requestHash ? { kind: "replay", bulk: toBulk(existing) } : { kind: "request_differs" };
      this.sql.exec(SCHEMA);
      this.ready = true;
      this.sql.exec(
        `INSERT INTO bulk (one, id, tenant, action, filter, request_hash, actor, request_id, created_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)`,
        a.id,
        a.tenant,
        a.action,
        JSON.stringify(a.filter),
        a.requestHash,
        a.actor,
        a.requestId,
        a.createdAt,
      );
      return { kind: "created", bulk: toBulk(this.row()!) };
    });
  }

  /** The bulk as `tenant` sees it: another tenant's (or no) bulk is null. */
  view(tenant: string): Bulk | null {
    const r = this.row();
    return r && r.tenant === tenant ? toBulk(r) : null;
  }

  record(): BulkRecord | null {
    const r = this.row();
    if (!r) return null;
    return {
      id: r.id,
      tenant: r.tenant,
      action: r.action,
      filter: JSON.parse(r.filter) as BulkFilter,
      actor: r.actor,
      requestId: r.request_id,
      cursor: r.cursor_created_at !== null && r.cursor_id !== null ? { createdAt: r.cursor_created_at, id: r.cursor_id } : null,
      exhausted: r.exhausted === 1,
      finished: r.finished_at !== null,
    };
  }

  claims(): Claim[] {
    if (!this.ready) return [];
    return this.sql
      .exec<{ execution_id: string; tries: number; ended_at: number | null }>("SELECT execution_id, tries, ended_at FROM targets WHERE outcome = 'claimed' ORDER BY execution_id")
      .toArray()
      .map((r) => ({ executionId: r.execution_id, tries: r.tries, endedAt: r.ended_at }));
  }

  /**
   * A page of the listing, claimed: its executions not seen before become claims, and the cursor
   * moves past the page (`next` null: the listing is exhausted) — one transaction.
   */
  claimPage(executions: readonly { id: string; endedAt: number | null }[], next: { createdAt: number; id: string } | null): void {
    this.transaction(() => {
      for (const e of executions) this.sql.exec("INSERT OR IGNORE INTO targets (execution_id, outcome, ended_at) VALUES (?, 'claimed', ?)", e.id, e.endedAt);
      this.sql.exec(
        `UPDATE bulk SET matched = (SELECT COUNT(*) FROM targets), exhausted = ?,
           cursor_created_at = COALESCE(?, cursor_created_at), cursor_id = COALESCE(?, cursor_id)`,
        next === null ? 1 : 0,
        next?.createdAt ?? null,
        next?.id ?? null,
      );
    });
  }

  /** A call is about to be made for the claim (so a cut-off call is known to maybe have landed); the tries now. */
  calling(executionId: string): number {
    return this.sql.exec<{ tries: number }>("UPDATE targets SET tries = tries + 1 WHERE execution_id = ? RETURNING tries", executionId).one().tries;
  }

  /** The claim's outcome and its count, together; a claim already settled is left as it is. */
  settle(executionId: string, outcome: Settled): void {
    this.transaction(() => {
      const changed = this.sql.exec("UPDATE targets SET outcome = ? WHERE execution_id = ? AND outcome = 'claimed'", outcome, executionId).rowsWritten;
      if (changed > 0) this.sql.exec(`UPDATE bulk SET ${COUNT_COLUMN[outcome]} = ${COUNT_COLUMN[outcome]} + 1`);
    });
  }

  finish(now: number): void {
    this.sql.exec("UPDATE bulk SET finished_at = ? WHERE finished_at IS NULL", now);
  }

  private row(): BulkRow | null {
    if (!this.ready) return null;
    return this.sql.exec<BulkRow & Record<string, SqlStorageValue>>("SELECT * FROM bulk").toArray()[0] ?? null;
  }
}

function toBulk(r: BulkRow): Bulk {
  return {
    id: r.id,
    action: r.action,
    status: r.finished_at === null ? "running" : "completed",
    filter: JSON.parse(r.filter) as BulkFilter,
    matched: r.matched,
    done: r.done,
    skipped: r.skipped,
    failed: r.failed,
    created_at: isoTime(r.created_at),
    ...(r.finished_at !== null ? { finished_at: isoTime(r.finished_at) } : {}),
  };
}
