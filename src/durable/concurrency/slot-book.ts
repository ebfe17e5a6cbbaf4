/**
 * A concurrency key's slots and queue, in the key object's SQLite storage (SPEC §8). The object is
 * their only writer, and every change is one transaction: a release and the admissions it allows
 * commit together, so a slot is never given twice or lost between two writes.
 *
 * - `holders`: executions holding a slot. `ask_at` says when the object next asks the holder's
 *   execution about it: at once after a grant (`told = 0`: the execution does not know yet), then
 *   every SWEEP_MS (the sweep: an execution that ended without its release landing gives its slot
 *   back when asked).
 * - `queue`: executions waiting, in admission order: priority (higher first), then `seq`.
 *
 * An object nobody asked for a slot has no tables: reading it (GET /v1/concurrency/{key}) writes
 * nothing.
 */
import type { Sql } from "../storage/metered-sql";
import type { AcquireArgs, AcquireResult, ConcurrencyState } from "../../schemas/concurrency";
import { isoTime } from "../../lib/time";
import { MAX_LISTED_QUEUE } from "../../schemas/limits";

/** How often a holder is asked whether its execution still holds the slot. */
export const SWEEP_MS = 60_000;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60_000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS slot_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    tenant     TEXT NOT NULL,
    key        TEXT NOT NULL,
    slot_limit INTEGER NOT NULL CHECK (slot_limit >= 1),
    next_seq   INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS holders (
    execution_id TEXT NOT NULL PRIMARY KEY,
    since        INTEGER NOT NULL,
    told         INTEGER NOT NULL CHECK (told IN (0, 1)),
    ask_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS queue (
    execution_id TEXT NOT NULL PRIMARY KEY,
    priority     INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    since        INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS queue_order ON queue (priority DESC, seq);`;

/** A holder to ask about its slot: `told` false for a grant its execution has not heard of. */
export interface Ask {
  executionId: string;
  told: boolean;
  attempts: number;
}

export class SlotBook {
  private ready: boolean;

  constructor(
    private readonly sql: Sql,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {
    this.ready = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'slot_key'").toArray().length > 0;
  }

  /** A slot now, or a place in the queue; asked again, the same answer (idempotent). */
  acquire(a: AcquireArgs, now: number): AcquireResult {
    return this.transaction(() => {
      if (!this.ready) {
        this.sql.exec(SCHEMA);
        this.ready = true;
      }
      this.sql.exec(
        `INSERT INTO slot_key (id, tenant, key, slot_limit, next_seq) VALUES (1, ?, ?, ?, 1)
         ON CONFLICT (id) DO UPDATE SET slot_limit = excluded.slot_limit WHERE slot_limit <> excluded.slot_limit`,
        a.tenant,
        a.key,
        a.limit,
      );
      const held = this.sql.exec<{ told: number }>("SELECT told FROM holders WHERE execution_id = ?", a.executionId).toArray()[0];
      if (held) {
        // Asked again (a retried request): the answer tells it, so no offer needs to follow.
        if (held.told === 0) this.sql.exec("UPDATE holders SET told = 1, ask_at = ?, attempts = 0 WHERE execution_id = ?", now + SWEEP_MS, a.executionId);
        return { granted: true };
      }
      if (this.queuedAt(a.executionId) === null) {
        if (this.freeWithNoQueue(a.limit)) {
          // A slot is free and nobody waits: held at once, without passing through the queue.
          this.sql.exec("INSERT INTO holders (execution_id, since, told, ask_at) VALUES (?, ?, 1, ?)", a.executionId, now, now + SWEEP_MS);
          return { granted: true };
        }
        const seq = this.sql.exec<{ next_seq: number }>("UPDATE slot_key SET next_seq = next_seq + 1 RETURNING next_seq").one().next_seq - 1;
        this.sql.exec("INSERT INTO queue (execution_id, priority, seq, since) VALUES (?, ?, ?, ?)", a.executionId, a.priority, seq, now);
      }
      const admitted = this.admitDue(now, a.executionId);
      if (admitted) return { granted: true };
      return { granted: false, position: this.queuedAt(a.executionId)! };
    });
  }

  private freeWithNoQueue(limit: number): boolean {
    if (this.sql.exec("SELECT 1 FROM queue LIMIT 1").toArray().length > 0) return false;
    return this.holderCount() < limit;
  }

  private holderCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM holders").one().n;
  }

  /** The execution gave its slot back, or left the queue: the next in line are admitted. Idempotent. */
  release(executionId: string, now: number): void {
    if (!this.ready) return;
    this.transaction(() => {
      const gone =
        this.sql.exec("DELETE FROM holders WHERE execution_id = ?", executionId).rowsWritten +
        this.sql.exec("DELETE FROM queue WHERE execution_id = ?", executionId).rowsWritten;
      if (gone > 0) this.admitDue(now);
    });
  }

  /**
   * While slots are free, the next in line becomes a holder, to be told (`told = 0`, asked now) —
   * except `caller`, who learns it from the answer to its own request. True when `caller` was admitted.
   */
  private admitDue(now: number, caller?: string): boolean {
    const { slot_limit: limit } = this.sql.exec<{ slot_limit: number }>("SELECT slot_limit FROM slot_key").one();
    let held = this.holderCount();
    let callerAdmitted = false;
    while (held < limit) {
      const next = this.sql.exec<{ execution_id: string }>("SELECT execution_id FROM queue ORDER BY priority DESC, seq LIMIT 1").toArray()[0];
      if (!next) break;
      const id = next.execution_id;
      const told = id === caller;
      this.sql.exec("DELETE FROM queue WHERE execution_id = ?", id);
      this.sql.exec("INSERT INTO holders (execution_id, since, told, ask_at) VALUES (?, ?, ?, ?)", id, now, told ? 1 : 0, told ? now + SWEEP_MS : now);
      if (told) callerAdmitted = true;
      held += 1;
    }
    return callerAdmitted;
  }

  /** The execution's place in the queue (1 is next in line), or null when it is not queued. */
  queuedAt(executionId: string): number | null {
    if (!this.ready) return null;
    const row = this.sql.exec<{ priority: number; seq: number }>("SELECT priority, seq FROM queue WHERE execution_id = ?", executionId).toArray()[0];
    if (!row) return null;
    return (
      1 +
      this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM queue WHERE priority > ? OR (priority = ? AND seq < ?)", row.priority, row.priority, row.seq).one().n
    );
  }

  /** Holders to ask now: grants not yet told, and holders due for the sweep. */
  due(now: number): Ask[] {
    if (!this.ready) return [];
    return this.sql
      .exec<{ execution_id: string; told: number; attempts: number }>("SELECT execution_id, told, attempts FROM holders WHERE ask_at <= ? ORDER BY ask_at", now)
      .toArray()
      .map((r) => ({ executionId: r.execution_id, told: r.told === 1, attempts: r.attempts }));
  }

  /** The execution holds its slot (it took the grant, or still runs): asked again at the next sweep. */
  confirmed(executionId: string, now: number): void {
    this.sql.exec("UPDATE holders SET told = 1, ask_at = ?, attempts = 0 WHERE execution_id = ?", now + SWEEP_MS, executionId);
  }

  /** The execution does not hold the slot (it ended, or never asked): the slot goes to the next in line. */
  refused(executionId: string, now: number): void {
    this.transaction(() => {
      if (this.sql.exec("DELETE FROM holders WHERE execution_id = ?", executionId).rowsWritten > 0) this.admitDue(now);
    });
  }

  /** The execution could not be asked: asked again later, with backoff (a doubt keeps the slot held). */
  unreachable(ask: Ask, now: number): void {
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** ask.attempts);
    this.sql.exec("UPDATE holders SET attempts = attempts + 1, ask_at = ? WHERE execution_id = ?", now + delay, ask.executionId);
  }

  /** The key's text, as its first request named it (null before any). */
  keyText(): string | null {
    if (!this.ready) return null;
    return this.sql.exec<{ key: string }>("SELECT key FROM slot_key").toArray()[0]?.key ?? null;
  }

  /** When the next holder is to be asked, or null. */
  nextAskAt(): number | null {
    if (!this.ready) return null;
    return this.sql.exec<{ at: number | null }>("SELECT MIN(ask_at) AS at FROM holders").one().at;
  }

  /** The key as `tenant` sees it: another tenant's object (impossible by its name) or an idle key shows nothing. */
  state(tenant: string, key: string): ConcurrencyState {
    const idle: ConcurrencyState = { key, limit: null, running: [], queued: [] };
    if (!this.ready) return idle;
    const k = this.sql.exec<{ tenant: string; slot_limit: number }>("SELECT tenant, slot_limit FROM slot_key").toArray()[0];
    if (!k || k.tenant !== tenant) return idle;
    const running = this.sql
      .exec<{ execution_id: string; since: number }>("SELECT execution_id, since FROM holders ORDER BY since, execution_id")
      .toArray()
      .map((r) => ({ execution_id: r.execution_id, since: isoTime(r.since)! }));
    const queued = this.sql
      .exec<{ execution_id: string; priority: number; since: number }>("SELECT execution_id, priority, since FROM queue ORDER BY priority DESC, seq LIMIT ?", MAX_LISTED_QUEUE)
      .toArray()
      .map((r, i) => ({ execution_id: r.execution_id, priority: r.priority, since: isoTime(r.since)!, position: i + 1 }));
    if (running.length === 0 && queued.length === 0) return idle;
    return { key, limit: k.slot_limit, running, queued };
  }
}
