/**
 * Decisions on concurrency slots (SPEC §8), in pure code (see engine/decision.ts). An execution
 * whose workflow has a concurrency key does not run when it may start (created without a gate, its
 * gate approved, retried): it waits `queued` for a slot of its key (`waiting_for.kind: slot`), and
 * runs when the key's object grants one (`decideAdmit`). One without a key is admitted at once.
 * Asking for the slot and giving it back are the runtime's (an outbox row on every move into
 * `queued` and out of a status that holds or wants a slot: durable/execution/runtime.ts), so no
 * decision can forget either.
 */
import type { Decision, ExecutionMove, TimerSet } from "./decision";
import type { ErrorInfo } from "./errors";
import type { EventSpec, ExecutionRecord } from "./model";
import { isTerminalExecution } from "./state-machine";
import type { ExecutionStatus, WaitingFor } from "../schemas/executions";
import type { WorkflowDefinition } from "../schemas/definition";
import type { ExecutionConcurrency } from "../schemas/concurrency";
import { DEFAULT_PRIORITY, MAX_CONCURRENCY_KEY_LENGTH } from "../schemas/limits";
import { interpolate, renderTemplate } from "./evaluate";

/** What a queued execution waits for (its position is filled in once its key's object has answered). */
export function slotWaitingFor(key: string, position?: number): WaitingFor {
  return { kind: "slot", key, ...(position !== undefined ? { position } : {}) };
}

/** Statuses in which an execution with a key holds its slot (or, `queued`, waits for one). */
const WITH_SLOT = new Set<ExecutionStatus>(["queued", "running", "waiting", "paused"]);

/** True when an execution moving `from` → `to` gives back its slot, or its place in the queue: it ends. */
export function releasesSlot(from: ExecutionStatus, to: ExecutionStatus): boolean {
  return isTerminalExecution(to) && WITH_SLOT.has(from);
}

/** True when the execution holds its key's slot now (admitted and not ended). */
export function holdsSlot(e: Pick<ExecutionRecord, "status" | "concurrency">, key: string): boolean {
  return e.concurrency?.key === key && e.status !== "queued" && WITH_SLOT.has(e.status);
}

/**
 * The execution may start: it is admitted now (`execution.started`), or, with a concurrency key,
 * waits `queued` for a slot (`execution.queued`), for at most its queue's TTL. `entry`: the move
 * that brings it to `queued` (approve, retry), patched with what it waits for; `admit`: its
 * admission when it has no key.
 */
export function queueOrAdmit(
  e: Readonly<ExecutionRecord>,
  entry: ExecutionMove,
  admit: ExecutionMove,
  attempt: number,
  now: number,
): Pick<Decision, "execution" | "timers" | "events"> {
  const c = e.concurrency;
  if (!c) {
    return {
      execution: [entry, admit],
      events: [{ type: "execution.started", data: { attempt } }],
    };
  }
  const waitingFor = slotWaitingFor(c.key);
  return {
    execution: [{ ...entry, patch: { ...entry.patch, waitingFor } }],
    ...queueTimer(c.queueTtlSeconds, now),
    events: [queuedEvent(waitingFor, c.priority)],
  };
}

export function queuedEvent(waitingFor: WaitingFor, priority: number): EventSpec {
  return { type: "execution.queued", data: { waiting_for: waitingFor, priority } };
}

/** The queue's TTL as the execution's own timer (a queued execution that waits longer times out). */
export function queueTimer(ttlSeconds: number | null, now: number): { timers?: { set: TimerSet[] } } {
  return ttlSeconds === null ? {} : { timers: { set: [{ kind: "queue_timeout", stepId: null, dueAt: now + ttlSeconds * 1000 }] } };
}

/** The key's object granted the slot: the queued execution runs (`execution.started`). */
export function decideAdmit(e: Readonly<ExecutionRecord>, now: number): Decision {
  return {
    execution: [{ command: "admit", patch: { startedAt: e.startedAt ?? now } }],
    timers: { clear: [{ kind: "queue_timeout", stepId: null }] },
    events: [{ type: "execution.started", data: { attempt: e.attempt } }],
  };
}

/** Why a queued execution that waited past its queue's TTL ended `timed_out`. */
export const QUEUE_TIMEOUT: ErrorInfo = { code: "QUEUE_TIMEOUT", message: "The execution waited longer than its queue_ttl_seconds for a concurrency slot." };

/** Why a workflow's concurrency key cannot be made from an input (the start is refused, or the child not started). */
export class ConcurrencyKeyProblem extends Error {}

/**
 * The execution's concurrency: its workflow's key rendered over the start's input and the
 * execution (SPEC §8), its limit and queue TTL, and the start's priority; null without a key.
 * Throws `ConcurrencyKeyProblem` when the key cannot be rendered, or renders empty or too long.
 */
export async function renderConcurrency(
  def: WorkflowDefinition,
  input: unknown,
  execution: { id: string; workflow_id: string; workflow_version: number },
  priority: number | undefined,
): Promise<ExecutionConcurrency | null> {
  const c = def.concurrency;
  if (!c) return null;
  let key: string;
  try {
    key = interpolate(await renderTemplate(c.key, { input, steps: {}, execution: { ...execution, attempt: 1, started_at: null } }, undefined, "concurrency.key"));
  } catch (err) {
    throw new ConcurrencyKeyProblem(err instanceof Error ? err.message : String(err));
  }
  if (key === "") throw new ConcurrencyKeyProblem("concurrency.key renders to an empty key");
  if (key.length > MAX_CONCURRENCY_KEY_LENGTH) throw new ConcurrencyKeyProblem(`concurrency.key renders to ${key.length} characters (at most ${MAX_CONCURRENCY_KEY_LENGTH})`);
  return { key, limit: c.limit, priority: priority ?? DEFAULT_PRIORITY, queueTtlSeconds: c.queue_ttl_seconds ?? null };
}
