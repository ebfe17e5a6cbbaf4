/**
 * The execution's transition log: every transaction appends ONE row (rarely a few) holding the
 * events it emits and the steps it changed, as they stood when it committed. Storage is billed by
 * the row written, so a burst of 20 pure steps costs one row here, not 20 step rows and 40 event
 * rows. The events are the execution's event log (`seq` gapless and increasing: clients resume
 * from a seq with no gap and no duplicate); a step's current record is the last one written for it
 * (`steps`, read once when the object loads).
 *
 * Rows are keyed `(seq, part)`: `seq` is the last event seq written when the row was (the row's
 * events end there); `part` orders rows written at the same seq — a transaction that changed steps
 * without an event, or one split because its rows would pass `ROW_CHARS`.
 */
import { isoTime } from "../../lib/time";
import { insertRows, type Sql } from "./metered-sql";
import type { EventType, ExecutionEvent } from "../../schemas/executions";
import type { EventSpec, StepRecord } from "../../engine/model";
import type { ErrorInfo } from "../../engine/errors";

export type { EventSpec };

/** A step's record as the log keeps it: its position comes from the definition. */
export type StoredStep = Omit<StepRecord, "idx">;

/**
 * At most this many JSON characters in one row (UTF-8 takes up to 3 bytes per character: under
 * the 2 MB a Durable Object row may hold). A single larger event or step gets a row of its own.
 */
export const ROW_CHARS = 600_000;

export const TRANSITION_LOG_TABLE = `CREATE TABLE transition_log (
     seq    INTEGER NOT NULL,
     part   INTEGER NOT NULL,
     events TEXT,
     steps  TEXT,
     PRIMARY KEY (seq, part)
   ) WITHOUT ROWID;`;

interface Row {
  seq: number;
  part: number;
  events: string[];
  steps: string[];
}

function storedStep(s: StepRecord | StoredStep): StoredStep {
  const { id, status, attempts, output, error, startedAt, endedAt, nextAttemptAt } = s;
  return { id, status, attempts, output, error, startedAt, endedAt, nextAttemptAt };
}

/** An event as clients read it (`step_id` only when it concerns a step). */
function eventOf(seq: number, time: number, type: EventType, stepId: string | null | undefined, data: Record<string, unknown>): ExecutionEvent {
  return { seq, time: isoTime(time), type, ...(stepId != null ? { step_id: stepId } : {}), data };
}

const jsonArray = (items: readonly string[]): string | null => (items.length > 0 ? `[${items.join(",")}]` : null);

/**
 * Packs a transaction's events and steps into rows of at most `ROW_CHARS` (one row unless they
 * are large). Rows with events are keyed by their last event; rows with steps only follow at the
 * transaction's last seq, from `nextPart` on.
 */
export function packRows(events: readonly ExecutionEvent[], steps: readonly StoredStep[], lastSeq: number, nextPart: () => number): Row[] {
  const rows: Row[] = [];
  let row: Row | null = null;
  let chars = 0;
  const place = (json: string, seq: number | null) => {
    if (row && chars + json.length > ROW_CHARS) row = null;
    if (!row) {
      row = { seq: seq ?? lastSeq, part: seq === null ? nextPart() : 0, events: [], steps: [] };
      rows.push(row);
      chars = 0;
    }
    if (seq !== null) {
      row.events.push(json);
      row.seq = seq;
    } else row.steps.push(json);
    chars += json.length;
  };
  for (const e of events) place(JSON.stringify(e), e.seq);
  for (const s of steps) place(JSON.stringify(s), null);
  return rows;
}

export class TransitionLog {
  /** The last seq written, known after the first read (the object is the log's only writer). */
  private last: number | null = null;

  constructor(private readonly sql: Sql) {}

  /**
   * Appends a transaction's events (seqs follow the last one) and the steps it changed, in one
   * statement. Call inside the transaction; if it rolls back, call `forget()`.
   */
  append(time: number, specs: readonly EventSpec[], steps: readonly StepRecord[] = []): ExecutionEvent[] {
    if (specs.length === 0 && steps.length === 0) return [];
    let seq = this.lastSeq();
    const events = specs.map((e): ExecutionEvent => {
      seq += 1;
      return eventOf(seq, e.time ?? time, e.type, e.stepId, e.data ?? {});
    });
    // Rows of steps alone after this transaction's events follow its events' row (part 0) at their
    // last seq; without events, they follow whatever is already written at the current seq.
    let part: number | null = events.length > 0 ? 0 : null;
    const nextPart = () => (part = part === null ? this.nextPartAt(seq) : part + 1);
    const rows = packRows(events, steps.map(storedStep), seq, nextPart);
    insertRows(
      this.sql,
      "INSERT INTO transition_log (seq, part, events, steps)",
      "(?, ?, ?, ?)",
      rows.map((r) => [r.seq, r.part, jsonArray(r.events), jsonArray(r.steps)]),
    );
    this.last = seq;
    return events;
  }

  /** Drops what it knows (after a rolled-back transaction): the next append reads the log again. */
  forget(): void {
    this.last = null;
  }

  /** Up to `limit` events after `seq`, in order. Every row read holds one at least. */
  after(seq: number, limit: number): ExecutionEvent[] {
    const out: ExecutionEvent[] = [];
    const rows = this.sql.exec<{ events: string }>("SELECT events FROM transition_log WHERE seq > ? AND events IS NOT NULL ORDER BY seq, part LIMIT ?", seq, limit);
    for (const r of rows) {
      for (const e of JSON.parse(r.events) as ExecutionEvent[]) if (e.seq > seq && out.length < limit) out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  lastSeq(): number {
    this.last ??= this.sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM transition_log").one().s ?? 0;
    return this.last;
  }

  /** Each step's last written record (steps that never started have none). */
  steps(): Map<string, StoredStep> {
    const out = new Map<string, StoredStep>();
    for (const r of this.sql.exec<{ steps: string }>("SELECT steps FROM transition_log WHERE steps IS NOT NULL ORDER BY seq, part")) {
      for (const s of JSON.parse(r.steps) as StoredStep[]) out.set(s.id, { ...s, error: s.error ?? null });
    }
    return out;
  }

  private nextPartAt(seq: number): number {
    return (this.sql.exec<{ p: number | null }>("SELECT MAX(part) AS p FROM transition_log WHERE seq = ?", seq).one().p ?? -1) + 1;
  }
}

/**
 * Schema 12 moved the `events` and `steps` tables of an object stored by older code into the log:
 * each event its own row, then every started step in one row after them (the state they left).
 */
export function moveLegacyRowsIntoLog(sql: Sql): void {
  for (const r of sql.exec<{ seq: number; time: number; type: EventType; step_id: string | null; data: string }>("SELECT seq, time, type, step_id, data FROM events ORDER BY seq")) {
    const event = eventOf(r.seq, r.time, r.type, r.step_id, JSON.parse(r.data) as Record<string, unknown>);
    sql.exec("INSERT INTO transition_log (seq, part, events, steps) VALUES (?, 0, ?, NULL)", r.seq, JSON.stringify([event]));
  }
  const parse = (v: SqlStorageValue | undefined): unknown => (v === null || v === undefined ? undefined : JSON.parse(v as string));
  const steps = sql
    .exec<Record<string, SqlStorageValue>>("SELECT * FROM steps ORDER BY idx")
    .toArray()
    .map(
      (r): StoredStep => ({
        id: r.id as string,
        status: r.status as StoredStep["status"],
        attempts: r.attempts as number,
        output: parse(r.output),
        error: (parse(r.error) as ErrorInfo | undefined) ?? null,
        startedAt: r.started_at as number | null,
        endedAt: r.ended_at as number | null,
        nextAttemptAt: r.next_attempt_at as number | null,
      }),
    );
  if (steps.length > 0) {
    const last = sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM transition_log").one().s ?? 0;
    sql.exec("INSERT INTO transition_log (seq, part, events, steps) VALUES (?, 1, NULL, ?)", last, JSON.stringify(steps));
  }
  sql.exec("DROP TABLE events");
  sql.exec("DROP TABLE steps");
}
