/**
 * The execution's event log: every transition appends its events here, in the same transaction.
 * `seq` is the SQLite rowid of a table that is never deleted from, so it is gapless and
 * increasing: clients resume from a seq with no gap and no duplicate.
 */
import { isoTime } from "../../lib/time";
import { insertRows, type Sql } from "./metered-sql";
import type { EventType, ExecutionEvent } from "../../schemas/executions";
import type { EventSpec } from "../../engine/model";

interface EventRow {
  seq: number;
  time: number;
  type: EventType;
  step_id: string | null;
  data: string;
  [key: string]: SqlStorageValue;
}

function toEvent(row: EventRow): ExecutionEvent {
  return {
    seq: row.seq,
    time: isoTime(row.time),
    type: row.type,
    ...(row.step_id !== null ? { step_id: row.step_id } : {}),
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

export type { EventSpec };

export class EventLog {
  /** The last seq written, known after the first read (the object is the log's only writer). */
  private last: number | null = null;

  constructor(private readonly sql: Sql) {}

  /**
   * Appends a transaction's events with one statement (seqs follow the last one). Call inside the
   * transition's transaction; if it rolls back, call `forget()`.
   */
  append(time: number, specs: readonly EventSpec[]): ExecutionEvent[] {
    if (specs.length === 0) return [];
    let seq = this.lastSeq();
    const events = specs.map((e): ExecutionEvent => {
      seq += 1;
      const at = e.time ?? time;
      return { seq, time: isoTime(at), type: e.type, ...(e.stepId !== undefined ? { step_id: e.stepId } : {}), data: e.data ?? {} };
    });
    insertRows(
      this.sql,
      "INSERT INTO events (seq, time, type, step_id, data)",
      "(?, ?, ?, ?, ?)",
      specs.map((e, k) => [events[k]!.seq, e.time ?? time, e.type, e.stepId ?? null, JSON.stringify(e.data ?? {})]),
    );
    this.last = seq;
    return events;
  }

  /** Drops what it knows (after a rolled-back transaction): the next append reads the log again. */
  forget(): void {
    this.last = null;
  }

  after(seq: number, limit: number): ExecutionEvent[] {
    return this.sql
      .exec<EventRow>("SELECT seq, time, type, step_id, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit)
      .toArray()
      .map(toEvent);
  }

  lastSeq(): number {
    this.last ??= this.sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM events").one().s ?? 0;
    return this.last;
  }
}
