/**
 * Index writes owed to D1. A transition enqueues its index row in the same SQLite transaction;
 * `flush` sends the pending rows to D1 in one batch of version-guarded upserts and removes them
 * only after D1 accepted them. A failed flush stays queued and is retried by timer.
 */
import { upsertExecutionIndex, type ExecutionIndexRow } from "../store/executions";

interface OutboxRow {
  seq: number;
  payload: string;
  [key: string]: SqlStorageValue;
}

export class Outbox {
  /** Test hook: make the next N flushes fail as if D1 were unreachable (fault injection, not a mock). */
  failNextFlushes = 0;

  constructor(private readonly sql: SqlStorage) {}

  /** Call inside the transition's transaction. */
  enqueue(row: ExecutionIndexRow, now: number): void {
    this.sql.exec("INSERT INTO outbox (payload, created_at) VALUES (?, ?)", JSON.stringify(row), now);
  }

  pending(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }

  /** Sends everything queued; returns false when D1 refused (rows stay queued). */
  async flush(db: D1Database, now: number): Promise<boolean> {
    const rows = this.sql.exec<OutboxRow>("SELECT seq, payload FROM outbox ORDER BY seq").toArray();
    if (rows.length === 0) return true;
    // Only the newest state of each execution matters; older ones would be ignored by the guard anyway.
    const latest = new Map<string, ExecutionIndexRow>();
    for (const r of rows) {
      const row = JSON.parse(r.payload) as ExecutionIndexRow;
      const prev = latest.get(row.id);
      if (!prev || row.stateVersion > prev.stateVersion) latest.set(row.id, row);
    }
    try {
      if (this.failNextFlushes > 0) {
        this.failNextFlushes -= 1;
        throw new Error("injected D1 failure");
      }
      await upsertExecutionIndex(db, [...latest.values()], now);
    } catch {
      return false;
    }
    const maxSeq = rows[rows.length - 1]!.seq;
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", maxSeq);
    return true;
  }
}
