/**
 * The execution's event log: every transition appends its events here, in the same transaction.
 * `seq` is the SQLite rowid of a table that is never deleted from, so it is gapless and
 * increasing: clients resume from a seq with no gap and no duplicate.
 */
import type { Sql } from "./metered-sql";
import type { EventType, ExecutionEvent } from "../schemas/executions";

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
    time: new Date(row.time).toISOString(),
    type: row.type,
    ...(row.step_id !== null ? { step_id: row.step_id } : {}),
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

export class EventLog {
  constructor(private readonly sql: Sql) {}

  /** Call inside the transition's transaction. */
  append(time: number, type: EventType, stepId: string | null, data: Record<string, unknown>): ExecutionEvent {
    const row = this.sql
      .exec<EventRow>(
        "INSERT INTO events (time, type, step_id, data) VALUES (?, ?, ?, ?) RETURNING seq, time, type, step_id, data",
        time,
        type,
        stepId,
        JSON.stringify(data),
      )
      .one();
    return toEvent(row);
  }

  after(seq: number, limit: number): ExecutionEvent[] {
    return this.sql
      .exec<EventRow>("SELECT seq, time, type, step_id, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit)
      .toArray()
      .map(toEvent);
  }

  lastSeq(): number {
    return this.sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM events").one().s ?? 0;
  }
}
