/**
 * Many logical timers behind the one physical alarm: rows with a `due_at`. After every change the
 * alarm is re-armed to the earliest row (or deleted when there is none).
 */
import type { Sql } from "./metered-sql";
export type TimerKind = "execution_timeout" | "step_retry" | "step_wake" | "outbox_flush" | "approval_expiry";

export interface Timer {
  id: string;
  kind: TimerKind;
  stepId: string | null;
  dueAt: number;
}

interface TimerRow {
  id: string;
  kind: TimerKind;
  step_id: string | null;
  due_at: number;
  [key: string]: SqlStorageValue;
}

export class Timers {
  constructor(private readonly sql: Sql) {}

  set(kind: TimerKind, dueAt: number, stepId: string | null = null): void {
    const id = stepId === null ? kind : `${kind}:${stepId}`;
    this.sql.exec(
      "INSERT INTO timers (id, kind, step_id, due_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET due_at = excluded.due_at",
      id,
      kind,
      stepId,
      dueAt,
    );
  }

  clear(kind: TimerKind, stepId: string | null = null): void {
    this.sql.exec("DELETE FROM timers WHERE id = ?", stepId === null ? kind : `${kind}:${stepId}`);
  }

  clearAllExcept(kind: TimerKind): void {
    this.sql.exec("DELETE FROM timers WHERE kind != ?", kind);
  }

  due(now: number): Timer[] {
    return this.sql
      .exec<TimerRow>("SELECT id, kind, step_id, due_at FROM timers WHERE due_at <= ? ORDER BY due_at", now)
      .toArray()
      .map((r) => ({ id: r.id, kind: r.kind, stepId: r.step_id, dueAt: r.due_at }));
  }

  earliest(): number | null {
    return this.sql.exec<{ d: number | null }>("SELECT MIN(due_at) AS d FROM timers").one().d;
  }
}
