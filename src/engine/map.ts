/**
 * `map` steps (SPEC §9), decided in pure code: the item list, the tolerance, and what each item's
 * attempt and the map's end record. The Durable Object runs the items (durable/execution/map-runs.ts)
 * and applies these decisions; an item is one row (`MapItemRecord`) plus, when it ends, one event.
 *
 * - Items come from a literal list or one `{{ expr }}` (a single value is a list of one, no value
 *   an empty list); more than MAX_MAP_ITEMS fail the step `MAP_TOO_LARGE`.
 * - Each item runs the sub-step with `item` and `index` in scope, through the sub-step's own retry
 *   policy; an item that fails for good counts against `tolerated_failures` (a count, or a
 *   percentage of the items rounded down). Beyond it the map fails `MAP_FAILED` (items in flight
 *   are cancelled); within it the map completes with `null` in place of each failed item's output,
 *   and its `error` says how many failed (the execution then ends `partial`).
 */
import type { Decision } from "./decision";
import { NonRetriableError, type ErrorInfo, type StepError } from "./errors";
import type { MapItemRecord, StepRecord } from "./model";
export type { ItemAttempt, MapItemRecord, MapItemStatus } from "./model";
import { resolveRetryPolicy, retryDelayMs, shouldRetry } from "./retry";
import type { MapStep, WorkflowDefinition } from "../schemas/definition";

/** How many items may fail for good before the map fails: a count, or a percentage of `count` rounded down. */
export function toleratedFailures(spec: MapStep["tolerated_failures"], count: number): number {
  if (spec === undefined) return 0;
  if (typeof spec === "number") return spec;
  return Math.floor((count * Number(spec.slice(0, -1))) / 100);
}

/** An item's attempt begins (a new row, or its row again for a retry). */
export function itemStarted(prev: MapItemRecord | null, stepId: string, index: number, now: number): MapItemRecord {
  return prev
    ? { ...prev, status: "running", attempts: prev.attempts + 1, nextAttemptAt: null, error: null }
    : { stepId, index, status: "running", attempts: 1, log: [], output: undefined, error: null, startedAt: now, endedAt: null, nextAttemptAt: null, childId: null };
}

/** An item's attempt succeeded: the item completes (event `map.item.completed`, the index, not the output). */
export function decideItemCompleted(item: MapItemRecord, output: unknown, attemptStartedAt: number, now: number): Decision {
  const row: MapItemRecord = {
    ...item,
    status: "completed",
    output,
    error: null,
    endedAt: now,
    childId: null,
    // A first attempt that succeeded is the row itself: its log stays empty (a row, not a row per attempt).
    log: item.log.length === 0 ? [] : [...item.log, { attempt: item.attempts, status: "completed", started_at: attemptStartedAt, ended_at: now }],
  };
  return { items: [row], events: [{ type: "map.item.completed", stepId: item.stepId, data: { index: item.index, attempt: item.attempts } }] };
}

/**
 * An item's attempt failed: retried after the sub-step's policy's delay (no event: its row says
 * so), or the item fails for good (`map.item.failed`).
 */
export function decideItemFailed(
  item: MapItemRecord,
  err: StepError,
  sub: MapStep["step"],
  workflow: Pick<WorkflowDefinition, "sla_class">,
  attemptStartedAt: number,
  now: number,
  random: () => number,
): Decision {
  const error: ErrorInfo = { ...err.toInfo(), attempt: item.attempts };
  const log = [...item.log, { attempt: item.attempts, status: "failed" as const, started_at: attemptStartedAt, ended_at: now, error }];
  const policy = resolveRetryPolicy(sub.retry, workflow.sla_class);
  if (shouldRetry(policy, err, item.attempts)) {
    const retryAt = now + retryDelayMs(policy, item.attempts, random, err.retryAfterMs);
    return { items: [{ ...item, log, error, nextAttemptAt: retryAt, childId: null }], events: [] };
  }
  return {
    items: [{ ...item, status: "failed", log, error, endedAt: now, childId: null }],
    events: [{ type: "map.item.failed", stepId: item.stepId, data: { index: item.index, attempt: item.attempts, error } }],
  };
}

/** Items still open when the map ends (cut short, cancelled): cancelled, their attempts closed. */
export function cancelledItems(open: readonly MapItemRecord[], now: number): MapItemRecord[] {
  return open.map((item) => ({
    ...item,
    status: "cancelled",
    endedAt: now,
    nextAttemptAt: null,
    childId: null,
    log: item.nextAttemptAt !== null ? item.log : [...item.log, { attempt: item.attempts, status: "cancelled", started_at: item.startedAt, ended_at: now }],
  }));
}

/** The error of a map beyond its tolerance. */
export function mapFailed(step: Pick<StepRecord, "id" | "attempts">, failed: number, tolerated: number, firstError: ErrorInfo | null): StepError {
  return new NonRetriableError("MAP_FAILED", `${failed} item${failed === 1 ? "" : "s"} failed; the map tolerates ${tolerated}.`, {
    failed,
    tolerated,
    ...(firstError ? { first_error: firstError } : {}),
  });
}

/**
 * All items ended within the tolerance: the map completes with the outputs in item order (`null`
 * for a failed item). With failures its `error` stays set (what was tolerated), so the execution
 * ends `partial`.
 */
export function decideMapCompleted(step: Readonly<StepRecord>, items: readonly MapItemRecord[], count: number, now: number): Decision {
  const outputs: unknown[] = new Array(count).fill(null);
  let failed = 0;
  for (const item of items) {
    if (item.status === "completed") outputs[item.index] = item.output ?? null;
    else failed += 1;
  }
  const tolerated: ErrorInfo | null = failed === 0 ? null : { code: "MAP_ITEMS_FAILED", message: `${failed} of ${count} items failed (tolerated).`, step_id: step.id, attempt: step.attempts, details: { failed } };
  return {
    finished: [{ stepId: step.id, attempt: step.attempts, status: "completed", endedAt: now, output: outputs, error: tolerated }],
    steps: [{ stepId: step.id, command: "complete", patch: { output: outputs, endedAt: now, error: tolerated } }],
    events: [{ type: "step.completed", stepId: step.id, data: { attempt: step.attempts, items: count, failed, ...(tolerated ? { tolerated: true } : {}) } }],
  };
}
