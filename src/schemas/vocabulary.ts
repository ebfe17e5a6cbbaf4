/**
 * The words every layer shares: execution and step statuses, timer kinds. Plain `as const` lists so
 * that the zod schemas (`executions.ts`), the state machine (`engine/state-machine.ts`, which owns
 * what may follow what) and the SQLite `CHECK` constraints (`durable/storage/sqlite-schema.ts`) name the
 * same values. Imports nothing: `schemas/` is the bottom layer.
 */

export const EXECUTION_STATUSES = [
  "pending_approval",
  "queued",
  "running",
  "waiting",
  "paused",
  "completed",
  "partial",
  "failed",
  "cancelled",
  "timed_out",
  "rejected",
] as const;

export const STEP_STATUSES = ["pending", "running", "waiting", "completed", "failed", "skipped", "cancelled"] as const;

/**
 * The logical timers behind an execution object's one alarm (`durable/storage/timer-store.ts`); the `timers`
 * table's `CHECK` constraint lists the same kinds.
 */
export const TIMER_KINDS = ["execution_timeout", "step_retry", "step_wake", "outbox_flush", "approval_expiry", "queue_timeout"] as const;
export type TimerKind = (typeof TIMER_KINDS)[number];
