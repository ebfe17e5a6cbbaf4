/**
 * Rows of `map` steps (SPEC §9) in the Durable Object's SQLite storage: one `map_runs` row per map
 * step (its evaluated items, fixed when its attempt began) and one `map_items` row per item that
 * has started (a pending item has no row). An item costs one row, rewritten as it moves, plus the
 * event of its end. Plain reads and writes: what happens is decided in engine/map.ts.
 */
import type { ErrorInfo } from "../../engine/errors";
import type { ItemAttempt, MapItemRecord, MapItemStatus } from "../../engine/map";
import type { Sql } from "./metered-sql";

type Row = Record<string, SqlStorageValue>;

const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const parse = (v: SqlStorageValue | undefined): unknown => (v === null || v === undefined ? undefined : JSON.parse(v as string));

/** A map step's run: the attempt that evaluated its items, and the items. */
export interface MapRun {
  stepId: string;
  attempt: number;
  items: unknown[];
}

function toItem(r: Row): MapItemRecord {
  return {
    stepId: r.step_id as string,
    index: r.idx as number,
    status: r.status as MapItemStatus,
    attempts: r.attempts as number,
    log: (parse(r.log) as ItemAttempt[] | undefined) ?? [],
    output: parse(r.output),
    error: (parse(r.error) as ErrorInfo | undefined) ?? null,
    startedAt: r.started_at as number,
    endedAt: (r.ended_at as number | null) ?? null,
    nextAttemptAt: (r.next_attempt_at as number | null) ?? null,
    childId: (r.child_id as string | null) ?? null,
  };
}

export class MapStore {
  constructor(private readonly sql: Sql) {}

  /** A map step's attempt began: its items, replacing an earlier run's (and that run's item rows). */
  saveRun(run: MapRun): void {
    this.sql.exec("DELETE FROM map_items WHERE step_id = ?", run.stepId);
    this.sql.exec("INSERT OR REPLACE INTO map_runs (step_id, attempt, items) VALUES (?, ?, ?)", run.stepId, run.attempt, JSON.stringify(run.items));
  }

  loadRun(stepId: string): MapRun | null {
    const r = this.sql.exec<Row>("SELECT step_id, attempt, items FROM map_runs WHERE step_id = ?", stepId).toArray()[0];
    return r ? { stepId, attempt: r.attempt as number, items: JSON.parse(r.items as string) as unknown[] } : null;
  }

  /** Writes items as they stand (a new row, or the item's row again). */
  saveItems(items: readonly MapItemRecord[]): void {
    for (const i of items) {
      this.sql.exec(
        `INSERT OR REPLACE INTO map_items (step_id, idx, status, attempts, log, output, error, started_at, ended_at, next_attempt_at, child_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        i.stepId,
        i.index,
        i.status,
        i.attempts,
        i.log.length > 0 ? JSON.stringify(i.log) : null,
        json(i.output),
        json(i.error ?? undefined),
        i.startedAt,
        i.endedAt,
        i.nextAttemptAt,
        i.childId,
      );
    }
  }

  /** The step's item rows in index order, from `after` (exclusive); all of them by default. */
  loadItems(stepId: string, after = -1, limit = -1): MapItemRecord[] {
    return this.sql.exec<Row>("SELECT * FROM map_items WHERE step_id = ? AND idx > ? ORDER BY idx LIMIT ?", stepId, after, limit).toArray().map(toItem);
  }

  loadItem(stepId: string, index: number): MapItemRecord | null {
    const r = this.sql.exec<Row>("SELECT * FROM map_items WHERE step_id = ? AND idx = ?", stepId, index).toArray()[0];
    return r ? toItem(r) : null;
  }

  /** Items that have not ended (running, in backoff, or waiting for a child). */
  openItems(stepId: string): MapItemRecord[] {
    return this.sql.exec<Row>("SELECT * FROM map_items WHERE step_id = ? AND status IN ('running', 'waiting') ORDER BY idx", stepId).toArray().map(toItem);
  }
}
