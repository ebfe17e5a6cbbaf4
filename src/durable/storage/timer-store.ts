/**
 * Many logical timers behind the one physical alarm: rows with a `due_at`. After every change the
 * alarm is re-armed to the earliest row (or deleted when there is none).
 *
 * The object is the only writer of its timers, so reads are served from an in-memory mirror
 * loaded once per instance: the drive asks for due timers after every step, and a statement costs
 * far more than a map lookup. A transaction that rolls back must call `forget()` so the mirror is
 * reloaded from storage.
 */
import type { TimerKind } from "../../schemas/vocabulary";
import type { Sql } from "./metered-sql";

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

/** A timer's row id: one timer of a kind per execution, or per step. */
function timerId(kind: TimerKind, stepId: string | null): string {
  return stepId === null ? kind : `${kind}:${stepId}`;
}

export class Timers {
  private mirror: Map<string, Timer> | null = null;

  constructor(private readonly sql: Sql) {}

  private all(): Map<string, Timer> {
    this.mirror ??= new Map(
      this.sql
        .exec<TimerRow>("SELECT id, kind, step_id, due_at FROM timers")
        .toArray()
        .map((r) => [r.id, { id: r.id, kind: r.kind, stepId: r.step_id, dueAt: r.due_at }]),
    );
    return this.mirror;
  }

  set(kind: TimerKind, dueAt: number, stepId: string | null = null): void {
    const id = timerId(kind, stepId);
    const mirror = this.all();
    if (mirror.get(id)?.dueAt === dueAt) return;
    this.sql.exec(
      "INSERT INTO timers (id, kind, step_id, due_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET due_at = excluded.due_at",
      id,
      kind,
      stepId,
      dueAt,
    );
    mirror.set(id, { id, kind, stepId, dueAt });
  }

  /** Sets the timer unless it is set already (a safety net keeps its first due time: a write saved per transition). */
  setIfUnset(kind: TimerKind, dueAt: number, stepId: string | null = null): void {
    if (!this.all().has(timerId(kind, stepId))) this.set(kind, dueAt, stepId);
  }

  clear(kind: TimerKind, stepId: string | null = null): void {
    const id = timerId(kind, stepId);
    const mirror = this.all();
    if (!mirror.has(id)) return;
    this.sql.exec("DELETE FROM timers WHERE id = ?", id);
    mirror.delete(id);
  }

  clearAllExcept(kind: TimerKind): void {
    const mirror = this.all();
    if ([...mirror.values()].every((t) => t.kind === kind)) return;
    this.sql.exec("DELETE FROM timers WHERE kind != ?", kind);
    for (const [id, t] of mirror) if (t.kind !== kind) mirror.delete(id);
  }

  /** When that timer is due, if it is set. */
  dueAt(kind: TimerKind, stepId: string | null = null): number | undefined {
    return this.all().get(timerId(kind, stepId))?.dueAt;
  }

  /** Timers due at `now`, earliest first. */
  due(now: number): Timer[] {
    return [...this.all().values()].filter((t) => t.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt);
  }

  earliest(): number | null {
    let min: number | null = null;
    for (const t of this.all().values()) if (min === null || t.dueAt < min) min = t.dueAt;
    return min;
  }

  /** Drops the mirror (after a rolled-back transaction): the next read reloads it from storage. */
  forget(): void {
    this.mirror = null;
  }
}
