/**
 * Rows owed to D1 — the execution's index row, the audit rows of the requests that changed it, and
 * its usage ledger records — and messages owed to other objects: to its concurrency key's, a request
 * for a slot and the slot given back (`slot_acquire`, `slot_release`; sent by
 * durable/execution/slots.ts); to a child, its start and its cancel; to its parent, its end
 * (`child_*`; sent by durable/execution/children.ts). Each message is removed only once the other
 * object acknowledged it, so a release or an end is retried until it lands.
 * A transition enqueues them in the same SQLite transaction, so they are durable before the
 * request is acknowledged; `flush` sends everything pending to D1 in one batch (version-guarded
 * upserts, idempotent audit inserts) and removes the rows only after D1 accepted them. A failed
 * flush stays queued and is retried by timer. Flushes never overlap: a flush requested while one
 * runs waits for it and then sends what is left.
 */
import { OneAtATime } from "../../lib/one-at-a-time";
import type { Sql } from "./metered-sql";
import type { AuditRow } from "../../schemas/audit";
import type { ChildEndedArgs } from "../../schemas/execution-rpc";
import { auditInsertStatement } from "../../store/audit";
import { executionIndexStatements, type ExecutionIndexRow } from "../../store/executions";
import { usageInsertStatement, type UsageIndexRow } from "../../store/usage";
import { inboxStatements, type InboxRow } from "../../store/inbox";

type D1Kind = "execution_index" | "audit" | "usage" | "inbox";
export type SlotMessageKind = "slot_acquire" | "slot_release";
/** To a child: start it, cancel it; to a parent: the child ended. */
export type ChildMessageKind = "child_start" | "child_cancel" | "child_ended";
type OutboxKind = D1Kind | SlotMessageKind | ChildMessageKind;

/** What a slot message carries: who asks, for which key, under which limit and priority. */
export interface SlotPayload {
  tenant: string;
  key: string;
  executionId: string;
  limit: number;
  priority: number;
}

/** What a `child_cancel` carries. */
export interface CancelPayload {
  tenant: string;
  childId: string;
}

/** What a `child_ended` carries: the child's end, and the parent it goes to. */
export type EndedPayload = ChildEndedArgs & { parentId: string };

/** A message to another object (a concurrency key's, a child's, the parent's), in the order it was enqueued. */
export interface ObjectMessage<K extends SlotMessageKind | ChildMessageKind> {
  seq: number;
  kind: K;
  payload: string;
}
export type SlotMessage = ObjectMessage<SlotMessageKind>;
export type ChildMessage = ObjectMessage<ChildMessageKind>;

interface OutboxRow {
  seq: number;
  kind: OutboxKind;
  payload: string;
  [key: string]: SqlStorageValue;
}

const D1_ROWS = "kind IN ('execution_index', 'audit', 'usage', 'inbox')";

export class Outbox {
  /** D1 rows written by this object's flushes since it started (D1 reports them per statement). */
  d1RowsWritten = 0;
  private readonly flushing = new OneAtATime<boolean>();
  /** Rows queued, mirrored in memory (this object is the only writer); null: count them again. */
  private queued: number | null = null;
  /** The seq of the index row queued and not being sent (0: none); null: look it up again. */
  private indexSeq: number | null = null;
  /** The last seq of the rows a flush is sending (0: none is). */
  private sendingUpTo = 0;

  constructor(private readonly sql: Sql) {}

  /** After a rolled-back transaction: what it enqueued is gone, so the mirrors are read again. */
  forget(): void {
    this.queued = null;
    this.indexSeq = null;
  }

  /**
   * Call inside the transition's transaction. Only the newest index row matters (D1 keeps the
   * newest version), so one queued and not yet being sent is rewritten in place: a transition
   * costs one row here and the flush deletes one, however many transitions came between flushes.
   */
  enqueueIndex(row: ExecutionIndexRow, now: number): void {
    this.indexSeq ??= this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM outbox WHERE kind = 'execution_index'").one().seq ?? 0;
    if (this.indexSeq > this.sendingUpTo) {
      this.sql.exec("UPDATE outbox SET payload = ?, created_at = ? WHERE seq = ?", JSON.stringify(row), now, this.indexSeq);
      return;
    }
    this.enqueue("execution_index", row, now);
    this.indexSeq = this.sql.exec<{ seq: number }>("SELECT last_insert_rowid() AS seq").one().seq;
  }

  /** Call inside the transition's transaction. */
  enqueueAudit(row: AuditRow, now: number): void {
    this.enqueue("audit", row, now);
  }

  /** Call inside the transition's transaction. */
  enqueueInbox(row: InboxRow, now: number): void {
    this.enqueue("inbox", row, now);
  }

  /** Call inside the transaction that ends the attempt the record belongs to. */
  enqueueUsage(row: UsageIndexRow, now: number): void {
    this.enqueue("usage", row, now);
  }

  /** Call inside the transition's transaction. */
  enqueueSlot(kind: SlotMessageKind, payload: SlotPayload, now: number): void {
    this.enqueue(kind, payload, now);
  }

  /** Call inside the transition's transaction. */
  enqueueChild(kind: ChildMessageKind, payload: unknown, now: number): void {
    this.enqueue(kind, payload, now);
  }

  /** Slot messages not yet acknowledged, oldest first. */
  slotMessages(): SlotMessage[] {
    return this.messages<SlotMessageKind>("'slot_acquire', 'slot_release'");
  }

  /** Child messages (starts, cancels, an end) not yet acknowledged, oldest first. */
  childMessages(): ChildMessage[] {
    return this.messages<ChildMessageKind>("'child_start', 'child_cancel', 'child_ended'");
  }

  private messages<K extends SlotMessageKind | ChildMessageKind>(kinds: string): ObjectMessage<K>[] {
    if (this.pending() === 0) return [];
    return this.sql.exec<OutboxRow>(`SELECT seq, kind, payload FROM outbox WHERE kind IN (${kinds}) ORDER BY seq`).toArray() as unknown as ObjectMessage<K>[];
  }

  /**
   * Sends `messages` to their objects in order through `send`, removing each once it was sent;
   * resolves false at the first that fails (it and the rest stay queued for the retry).
   */
  async sendInOrder<M extends { seq: number }>(messages: readonly M[], send: (message: M) => Promise<void>): Promise<boolean> {
    for (const m of messages) {
      try {
        await send(m);
      } catch {
        return false;
      }
      this.acknowledged(m.seq);
    }
    return true;
  }

  /** The other object acknowledged the message. */
  acknowledged(seq: number): void {
    if (this.sql.exec("DELETE FROM outbox WHERE seq = ?", seq).rowsWritten > 0 && this.queued !== null) this.queued -= 1;
  }

  private enqueue(kind: OutboxKind, payload: unknown, now: number): void {
    this.sql.exec("INSERT INTO outbox (kind, payload, created_at) VALUES (?, ?, ?)", kind, JSON.stringify(payload), now);
    if (this.queued !== null) this.queued += 1;
  }

  pending(): number {
    this.queued ??= this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
    return this.queued;
  }

  /** Sends every D1 row queued; resolves false when D1 refused (rows stay queued). */
  async flush(db: D1Database, now: number): Promise<boolean> {
    return this.flushing.run(() => this.send(db, now));
  }

  private async send(db: D1Database, now: number): Promise<boolean> {
    if (this.pending() === 0) return true;
    const rows = this.sql.exec<OutboxRow>(`SELECT seq, kind, payload FROM outbox WHERE ${D1_ROWS} ORDER BY seq`).toArray();
    if (rows.length === 0) return true;
    // Only the newest state of each execution matters; older ones would be ignored by the guard anyway.
    const latest = new Map<string, ExecutionIndexRow>();
    const audits: AuditRow[] = [];
    const usage: UsageIndexRow[] = [];
    const inbox: InboxRow[] = [];
    for (const r of rows) {
      if (r.kind === "inbox") {
        inbox.push(JSON.parse(r.payload) as InboxRow);
        continue;
      }
      if (r.kind === "audit") {
        audits.push(JSON.parse(r.payload) as AuditRow);
        continue;
      }
      if (r.kind === "usage") {
        usage.push(JSON.parse(r.payload) as UsageIndexRow);
        continue;
      }
      const row = JSON.parse(r.payload) as ExecutionIndexRow;
      const prev = latest.get(row.id);
      // The last one enqueued of the newest version: a cost change re-sends the row at its version.
      if (!prev || row.stateVersion >= prev.stateVersion) latest.set(row.id, row);
    }
    const last = rows[rows.length - 1]!.seq;
    // Rows enqueued from here on are not in this batch: an index row is no longer rewritten in place.
    this.sendingUpTo = last;
    try {
      const results = await db.batch([
        ...executionIndexStatements(db, [...latest.values()], now),
        ...audits.map((a) => auditInsertStatement(db, a)),
        ...usage.map((u) => usageInsertStatement(db, u)),
        // In the order they were enqueued: an item opens before it closes.
        ...inboxStatements(db, inbox),
      ]);
      for (const r of results) this.d1RowsWritten += r.meta.rows_written;
    } catch {
      return false;
    } finally {
      this.sendingUpTo = 0;
    }
    this.sql.exec(`DELETE FROM outbox WHERE seq <= ? AND ${D1_ROWS}`, last);
    if (this.queued !== null) this.queued -= rows.length;
    if (this.indexSeq !== null && this.indexSeq <= last) this.indexSeq = 0;
    return true;
  }
}
