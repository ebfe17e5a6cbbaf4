/**
 * What the object shows of its execution: the snapshot, the step trace, pages of the event log,
 * live listeners, and the wait for the end. Reads write nothing, except the pure steps completed
 * but not yet written (`owned` flushes them first, so nothing unwritten is ever shown).
 */
import { estimatedRerunCost, redrivePlan, repeatedSideEffects } from "../../engine/redrive";
import { allowedExecutionCommands, isTerminalExecution, transitionExecution } from "../../engine/state-machine";
import type { MapItem, MapItemsResult, MapItemWindow } from "../../schemas/map-items";
import type { MapItemRecord } from "../../engine/map";
import type { ExecutionCosts } from "../../schemas/costs";
import type { Execution, ExecutionEvent, StepTrace } from "../../schemas/executions";
import type { AttemptRecord, ExecutionRecord, StepRecord } from "../storage/state-store";
import type { EventPage, ExistingExecution, RetryPreviewResult } from "../../schemas/execution-rpc";
import { isoTime } from "../../lib/time";
import type { ExecutionRuntime } from "./runtime";

/**
 * The execution a start found already here: the same request (`requestHash`) is a replay, another
 * one reuses the Idempotency-Key. Both the look-up before a start and `create` answer with it.
 */
export function asExisting(e: ExecutionRecord, requestHash: string | null): ExistingExecution {
  return { kind: "existing", execution: toExecution(e), sameRequest: e.requestHash === requestHash };
}

export function toExecution(e: ExecutionRecord): Execution {
  return {
    id: e.id,
    workflow_id: e.workflowId,
    workflow_version: e.workflowVersion,
    definition_hash: e.definitionHash,
    status: e.status,
    ...(e.waitingFor ? { waiting_for: e.waitingFor } : {}),
    ...(e.planHash ? { plan_hash: e.planHash } : {}),
    ...(e.approvals.length > 0 ? { approvals: e.approvals } : {}),
    input: e.input,
    ...(e.output !== undefined ? { output: e.output } : {}),
    ...(e.error ? { error: e.error } : {}),
    labels: e.labels,
    attempt: e.attempt,
    created_at: isoTime(e.createdAt),
    ...(e.startedAt !== null ? { started_at: isoTime(e.startedAt) } : {}),
    ...(e.endedAt !== null ? { ended_at: isoTime(e.endedAt) } : {}),
    cost: { ...e.cost },
    ...(e.budget ? { budget: { ...e.budget } } : {}),
    ...(e.parent ? { parent: { execution_id: e.parent.executionId, step_id: e.parent.stepId } } : {}),
  };
}

/** An item as the API shows it: its attempts from its row's log, plus the one under way. */
function mapItem(r: MapItemRecord): MapItem {
  const attempts: MapItem["attempts"] = r.log.map((a) => ({
    attempt: a.attempt,
    status: a.status,
    started_at: isoTime(a.started_at),
    ended_at: isoTime(a.ended_at),
    ...(a.error ? { error: a.error } : {}),
  }));
  const last = attempts.at(-1)?.attempt ?? 0;
  if (r.attempts > last) {
    // The attempt under way (or a first one that completed: the row itself is its record).
    const status = r.status === "completed" ? "completed" : r.status === "cancelled" ? "cancelled" : "running";
    attempts.push({ attempt: r.attempts, status, ...(last === 0 ? { started_at: isoTime(r.startedAt) } : {}), ...(r.endedAt !== null ? { ended_at: isoTime(r.endedAt) } : {}) });
  }
  return {
    index: r.index,
    status: r.status,
    attempts,
    ...(r.status === "completed" ? { output: r.output ?? null } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(r.nextAttemptAt !== null && r.status === "running" ? { next_attempt_at: isoTime(r.nextAttemptAt) } : {}),
    ...(r.childId !== null ? { child_execution_id: r.childId } : {}),
  };
}

/** The attempt of a step that succeeded at its first attempt and kept no attempt row (a pure step's). */
function onlyAttempt(st: StepRecord): AttemptRecord {
  return { stepId: st.id, attempt: 1, status: "completed", startedAt: st.startedAt!, endedAt: st.endedAt, output: st.output, error: null };
}

export class ReadModel {
  constructor(private readonly rt: ExecutionRuntime) {}

  snapshot(tenant: string): Execution | null {
    const s = this.rt.owned(tenant);
    return s ? toExecution(s.execution) : null;
  }

  trace(tenant: string): StepTrace[] | null {
    const s = this.rt.owned(tenant);
    if (!s) return null;
    const byStep = new Map<string, AttemptRecord[]>();
    for (const a of this.rt.store.loadAttempts()) {
      const list = byStep.get(a.stepId) ?? [];
      list.push(a);
      byStep.set(a.stepId, list);
    }
    return [...s.steps.values()].map((st) => {
      const def = s.defs.get(st.id)!;
      const attempts = byStep.get(st.id) ?? (st.status === "completed" && st.attempts === 1 && st.startedAt !== null ? [onlyAttempt(st)] : []);
      return {
        id: st.id,
        type: def.type,
        ...(def.name ? { name: def.name } : {}),
        status: st.status,
        attempts: attempts.map((a) => ({
          attempt: a.attempt,
          status: a.status,
          started_at: isoTime(a.startedAt),
          ...(a.endedAt !== null ? { ended_at: isoTime(a.endedAt) } : {}),
          ...(a.output !== undefined ? { output: a.output } : {}),
          ...(a.error ? { error: a.error } : {}),
        })),
        ...(st.startedAt !== null ? { started_at: isoTime(st.startedAt) } : {}),
        ...(st.endedAt !== null ? { ended_at: isoTime(st.endedAt) } : {}),
        ...(st.nextAttemptAt !== null ? { next_attempt_at: isoTime(st.nextAttemptAt) } : {}),
        ...(st.output !== undefined ? { output: st.output } : {}),
        ...(st.error ? { error: st.error } : {}),
      };
    });
  }

  /**
   * A page of a map step's items in index order (one more than asked when another follows): an item
   * with no row has not started (`pending`).
   */
  items(tenant: string, w: MapItemWindow): MapItemsResult {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    const def = s.defs.get(w.stepId);
    if (!def) return { ok: false, reason: "step_not_found" };
    if (def.type !== "map") return { ok: false, reason: "not_a_map" };
    const count = this.rt.maps.loadRun(w.stepId)?.items.length ?? 0;
    const rows = new Map(this.rt.maps.loadItems(w.stepId, w.after).map((r) => [r.index, r]));
    const items: MapItem[] = [];
    for (let index = w.after + 1; index < count && items.length <= w.limit; index++) {
      const row = rows.get(index);
      const item = row ? mapItem(row) : { index, status: "pending" as const, attempts: [] };
      if (w.status === undefined || item.status === w.status) items.push(item);
    }
    return { ok: true, items };
  }

  /**
   * What a retry would run again (see engine/redrive.ts): a plain retry needs an execution that may
   * be retried (failed, timed out); a retry from a step, any that ended.
   */
  retryPreview(tenant: string, fromStep: string | undefined): RetryPreviewResult {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    if (fromStep !== undefined && !s.defs.has(fromStep)) return { ok: false, reason: "step_not_found" };
    const status = s.execution.status;
    const allowed = fromStep === undefined ? transitionExecution(status, "retry").ok : isTerminalExecution(status);
    if (!allowed) return { ok: false, reason: "invalid_state", status, allowed: allowedExecutionCommands(status, "user") };
    const { rerun, kept } = redrivePlan(s.plan, s.steps, fromStep);
    return {
      ok: true,
      preview: {
        rerun,
        kept,
        repeats_side_effects: repeatedSideEffects(rerun, s.defs, s.steps),
        estimated_cost_usd: estimatedRerunCost(rerun, s.steps, this.rt.store.loadUsage()),
      },
    };
  }

  /** The usage ledger, oldest first, and its totals. */
  costs(tenant: string): ExecutionCosts | null {
    const s = this.rt.owned(tenant);
    if (!s) return null;
    const items = this.rt.store.loadUsage().map((u) => ({
      step_id: u.stepId,
      attempt: u.attempt,
      ...(u.item !== null ? { item: u.item } : {}),
      call: u.call,
      model: u.model,
      input_tokens: u.input_tokens,
      output_tokens: u.output_tokens,
      cost_usd: u.cost_usd,
      price: u.price,
      time: isoTime(u.time),
    }));
    return { execution_id: s.execution.id, ...s.execution.cost, items };
  }

  eventPage(tenant: string, after: number, limit: number): EventPage | null {
    const s = this.rt.owned(tenant);
    if (!s) return null;
    const items = this.rt.log.after(after, limit);
    const last = items[items.length - 1]?.seq ?? after;
    return { items, terminal: isTerminalExecution(s.execution.status) && last >= this.rt.log.lastSeq() };
  }

  /** Live listener for new events (after commit, in seq order). Returns the unsubscribe function. */
  subscribe(listener: (events: ExecutionEvent[]) => void): () => void {
    this.rt.listeners.add(listener);
    return () => this.rt.listeners.delete(listener);
  }

  /** Resolves when the execution is terminal or after `ms`, with its snapshot. */
  async waitForEnd(tenant: string, ms: number): Promise<Execution | null> {
    const s = this.rt.owned(tenant);
    if (!s) return null;
    if (!isTerminalExecution(s.execution.status) && ms > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.rt.waiters.add(done);
      });
    }
    return this.snapshot(tenant);
  }

  /**
   * The execution stored here, for a request with an Idempotency-Key that may repeat the one that
   * created it (`sameRequest`), or null when there is none. Writes nothing: the Worker asks before
   * it resolves the definition, so a replay does not depend on what became of the workflow since.
   */
  existing(tenant: string, requestHash: string): ExistingExecution | null {
    const s = this.rt.owned(tenant);
    return s ? asExisting(s.execution, requestHash) : null;
  }
}
