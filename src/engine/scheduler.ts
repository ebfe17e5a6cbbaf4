/**
 * Pure DAG scheduling: given the plan's steps and the current step statuses, what to do next.
 *
 * The execution Durable Object calls `planNext` after every transition (a step ended, a retry
 * came due, the execution resumed) and applies the answer through the state machine: skip the
 * steps in `skip`, start those in `start`, fail the execution when `failedBy` is set, end it when
 * `done` is set, and arm the alarm at `nextWakeAt`.
 *
 * Cost: `compilePlan` does the graph work once per execution (indexes of needs and dependents,
 * a topological order, on_error flags); `planNext` is then one pass over steps and edges,
 * O(steps + edges), whatever the shape of the graph.
 *
 * Rules (SPEC §2):
 * - A need is *met* when it ended `completed` or `skipped`, or `failed`/`cancelled` with
 *   `on_error: continue` (a tolerated failure). A step starts when it is `pending`, every need
 *   is met and its retry backoff (`nextAttemptAt`) is absent or ≤ now.
 * - A `pending` step whose needs are all `skipped` (at least one need) is skipped; so is, in the
 *   same call, every step that only needs skipped steps (the closure is computed in one pass in
 *   topological order). A step with some skipped and some completed needs runs. A step without
 *   needs is never skipped by this rule (its own `if` is evaluated by the caller at start).
 * - Parallelism counts `running` steps only: `waiting` steps (sleeps, humans, held gates, child
 *   executions) take no slot. `start` is in declaration order, at most `parallelism − running`.
 * - A `cancelled` step counts as a failure (tolerated under `on_error: continue`): outside an
 *   execution-wide cancel, a step is only cancelled when its work was stopped, and an execution
 *   whose work was not done must not end `completed` — nor wait forever on a need that will
 *   never be met.
 * - `failedBy` is the first declared step that failed (or was cancelled) without
 *   `on_error: continue`: the execution must fail. Nothing new is proposed then: `start` is empty
 *   and `nextWakeAt` is null (`skip` is still reported; skipping is a fact, not new work).
 * - `done` is set when every step has ended (completed, skipped, failed, cancelled), counting the
 *   skips of this call: `failed` with an untolerated failure, `partial` with a tolerated one,
 *   else `completed`.
 * - `nextWakeAt` is the earliest `nextAttemptAt` later than now among pending steps whose needs
 *   are met (a retry in backoff), for the alarm; null when there is none.
 * - A step with no entry in `states` is `pending` (a plan the caller has not written rows for yet).
 */
import type { StepStatus } from "../schemas/executions";
import { topologicalIndexes } from "./graph";

/** The only fields of a step the scheduler reads. */
export interface PlanStep {
  readonly id: string;
  readonly needs?: readonly string[] | undefined;
  readonly on_error?: "fail" | "continue" | undefined;
}

export interface StepRuntimeState {
  readonly status: StepStatus;
  /** A `completed` step with an error tolerated failures of its own (a map's items): the execution ends `partial`. */
  readonly error?: unknown;
  /** Epoch ms before which the next attempt must not start (retry backoff); absent or null: now. */
  readonly nextAttemptAt?: number | null | undefined;
}

/** A plan prepared once per execution; `planNext` is linear in its size. */
export interface CompiledPlan {
  /** Step ids in declaration order; the index of a step in this list is its number below. */
  readonly ids: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
  /** Direct needs of each step (deduplicated), by step number. */
  readonly needs: readonly (readonly number[])[];
  /** Steps that directly need each step, in declaration order, by step number. */
  readonly dependents: readonly (readonly number[])[];
  /** Step numbers in an order where every step comes after its needs. */
  readonly topological: readonly number[];
  /** `on_error: continue`, by step number. */
  readonly tolerated: readonly boolean[];
  readonly edgeCount: number;
}

export interface PlanOptions {
  readonly now: number;
  /** Most steps `running` at once (≥ 1). */
  readonly parallelism: number;
}

export interface PlanDecision {
  /** Steps to start now, in declaration order. */
  start: string[];
  /** Steps to mark skipped (the full cascade), in declaration order. */
  skip: string[];
  /** A step whose failure the execution does not tolerate: the execution must fail. */
  failedBy: string | null;
  /** Every step has ended: how the execution ends. */
  done: null | "completed" | "partial" | "failed";
  /** When the alarm must next run for a retry in backoff (epoch ms), or null. */
  nextWakeAt: number | null;
}

/** A plan that cannot be scheduled: the definition validator should have refused it. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanError";
  }
}

/**
 * Indexes the steps once. Throws `PlanError` on a duplicate id, a need naming no step, or a
 * cycle: registration refuses all three, so meeting one here is a bug, not a user error.
 */
export function compilePlan(steps: readonly PlanStep[]): CompiledPlan {
  const ids: string[] = [];
  const indexOf = new Map<string, number>();
  for (const step of steps) {
    if (indexOf.has(step.id)) throw new PlanError(`step '${step.id}' is declared twice`);
    indexOf.set(step.id, ids.length);
    ids.push(step.id);
  }
  const needs: number[][] = [];
  const dependents: number[][] = ids.map(() => []);
  let edgeCount = 0;
  steps.forEach((step, i) => {
    const own: number[] = [];
    for (const need of step.needs ?? []) {
      const j = indexOf.get(need);
      if (j === undefined) throw new PlanError(`step '${step.id}' needs unknown step '${need}'`);
      if (own.includes(j)) continue;
      own.push(j);
      (dependents[j] as number[]).push(i);
      edgeCount++;
    }
    needs.push(own);
  });

  const topological = topologicalIndexes(needs, dependents);
  if (topological.length !== ids.length) {
    const placed = new Set(topological);
    const stuck = ids.filter((_, i) => !placed.has(i));
    throw new PlanError(`the steps form a cycle through: ${stuck.join(", ")}`);
  }

  return {
    ids,
    indexOf,
    needs,
    dependents,
    topological,
    tolerated: steps.map((s) => s.on_error === "continue"),
    edgeCount,
  };
}

function isCompiled(plan: CompiledPlan | readonly PlanStep[]): plan is CompiledPlan {
  return !Array.isArray(plan);
}

/**
 * What to do next. Takes the compiled plan (the Durable Object keeps one per execution); a list of
 * steps is accepted too and compiled on the spot, for tests and one-off callers.
 */
export function planNext(
  plan: CompiledPlan | readonly PlanStep[],
  states: ReadonlyMap<string, StepRuntimeState>,
  opts: PlanOptions,
): PlanDecision {
  const compiled = isCompiled(plan) ? plan : compilePlan(plan);
  const { ids, needs, tolerated, topological } = compiled;
  const n = ids.length;

  // Current statuses, then the skip closure applied in topological order.
  let anyTolerated = false;
  const status: StepStatus[] = new Array<StepStatus>(n);
  const nextAttemptAt: Array<number | null> = new Array<number | null>(n);
  let running = 0;
  for (let i = 0; i < n; i++) {
    const state = states.get(ids[i] as string);
    const s = state?.status ?? "pending";
    status[i] = s;
    nextAttemptAt[i] = state?.nextAttemptAt ?? null;
    if (s === "completed" && state?.error) anyTolerated = true;
    if (s === "running") running++;
  }

  const skipped = new Array<boolean>(n).fill(false);
  const ready = new Array<boolean>(n).fill(false);
  for (const i of topological) {
    if (status[i] !== "pending") continue;
    const own = needs[i] as readonly number[];
    let allSkipped = own.length > 0;
    let allMet = true;
    for (const j of own) {
      const s = status[j] as StepStatus;
      if (s !== "skipped") allSkipped = false;
      if (!(s === "completed" || s === "skipped" || ((s === "failed" || s === "cancelled") && tolerated[j] === true))) {
        allMet = false;
      }
    }
    if (allSkipped) {
      status[i] = "skipped";
      skipped[i] = true;
    } else if (allMet) {
      ready[i] = true;
    }
  }

  let failedBy: string | null = null;
  let allEnded = true;
  for (let i = 0; i < n; i++) {
    const s = status[i] as StepStatus;
    if (s === "failed" || s === "cancelled") {
      if (tolerated[i] === true) anyTolerated = true;
      else failedBy ??= ids[i] as string;
    } else if (s !== "completed" && s !== "skipped") {
      allEnded = false;
    }
  }

  const skip: string[] = [];
  for (let i = 0; i < n; i++) if (skipped[i]) skip.push(ids[i] as string);

  const start: string[] = [];
  let nextWakeAt: number | null = null;
  if (failedBy === null) {
    let slots = Math.max(0, Math.floor(opts.parallelism) - running);
    for (let i = 0; i < n; i++) {
      if (!ready[i]) continue;
      const at = nextAttemptAt[i] ?? null;
      if (at !== null && at > opts.now) {
        if (nextWakeAt === null || at < nextWakeAt) nextWakeAt = at;
      } else if (slots > 0) {
        start.push(ids[i] as string);
        slots--;
      }
    }
  }

  const done = allEnded ? (failedBy !== null ? "failed" : anyTolerated ? "partial" : "completed") : null;
  return { start, skip, failedBy, done, nextWakeAt };
}
