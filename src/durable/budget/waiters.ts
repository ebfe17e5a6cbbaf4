/**
 * Executions paused on a budget (a `pause` budget refused their reservation), and the notices that
 * its limit changed (raised, lowered, deleted). A notice is durable: `markAll` flags every waiter in
 * the same transaction as the change, and a flagged waiter stays until its execution answered
 * `budgetChanged` — sent at once, then retried by the object's alarm with backoff — so a change is
 * never lost to an object that dies midway. A spurious notice is harmless (the execution finds
 * nothing waiting); a lost one would strand an execution, so every doubt resolves to "keep".
 */
import type { Sql } from "../storage/metered-sql";

/** After this many failed notices a waiter is dropped (and logged): its execution is gone or broken. */
export const MAX_NOTICE_ATTEMPTS = 12;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 5 * 60 * 1000;

export interface Waiter {
  executionId: string;
  token: string;
  attempts: number;
}

interface WaiterRow {
  execution_id: string;
  token: string;
  attempts: number;
  [key: string]: SqlStorageValue;
}

export class Waiters {
  constructor(private readonly sql: Sql) {}

  /**
   * The execution waits for this budget. Registered again (another step, or a retry after a notice
   * in flight), it gets a new token and keeps a pending notice: the notice wakes every step of the
   * execution that waits for this budget.
   */
  register(executionId: string, now: number): void {
    this.sql.exec(
      `INSERT INTO waiters (execution_id, token, since) VALUES (?, ?, ?)
       ON CONFLICT (execution_id) DO UPDATE SET token = excluded.token, since = excluded.since`,
      executionId,
      crypto.randomUUID(),
      now,
    );
  }

  /** The limit changed: every waiter is to be told, from `now`. */
  markAll(now: number): void {
    this.sql.exec("UPDATE waiters SET notify = 1, notify_at = ?, attempts = 0", now);
  }

  /** Waiters whose notice is due at `now`. */
  due(now: number): Waiter[] {
    return this.sql
      .exec<WaiterRow>("SELECT execution_id, token, attempts FROM waiters WHERE notify = 1 AND notify_at <= ? ORDER BY notify_at", now)
      .toArray()
      .map((r) => ({ executionId: r.execution_id, token: r.token, attempts: r.attempts }));
  }

  /**
   * The execution answered the notice. The row goes, unless the execution registered again while
   * the notice was in flight (a new token): then it stays as a waiter for the next change.
   */
  notified(w: Waiter): void {
    const deleted = this.sql.exec("DELETE FROM waiters WHERE execution_id = ? AND token = ?", w.executionId, w.token).rowsWritten;
    if (deleted === 0) this.sql.exec("UPDATE waiters SET notify = 0, notify_at = NULL, attempts = 0 WHERE execution_id = ?", w.executionId);
  }

  /** The notice failed: retried later with backoff; false when the waiter was given up on (and dropped). */
  failed(w: Waiter, now: number): boolean {
    const attempts = w.attempts + 1;
    if (attempts >= MAX_NOTICE_ATTEMPTS) {
      this.sql.exec("DELETE FROM waiters WHERE execution_id = ? AND token = ?", w.executionId, w.token);
      return false;
    }
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempts - 1));
    this.sql.exec("UPDATE waiters SET attempts = ?, notify_at = ? WHERE execution_id = ? AND notify = 1", attempts, now + delay, w.executionId);
    return true;
  }

  /** When the next notice is due, or null. */
  nextNoticeAt(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MIN(notify_at) AS at FROM waiters WHERE notify = 1").one().at;
  }

  /** Execution ids waiting (for tests and the state's readers). */
  list(): { executionId: string; notify: boolean }[] {
    return this.sql
      .exec<{ execution_id: string; notify: number }>("SELECT execution_id, notify FROM waiters ORDER BY since, execution_id")
      .toArray()
      .map((r) => ({ executionId: r.execution_id, notify: r.notify === 1 }));
  }
}
