/**
 * `map` steps (SPEC §9), run by the object: the map step's attempt evaluates its items (kept in
 * `map_runs`), then a runner keeps at most `concurrency` items in flight, each an attempt of the
 * sub-step with `item` and `index` in scope, recorded in its one `map_items` row. What each move
 * records is decided in engine/map.ts and applied by `ExecutionRuntime.apply`; completions of pure
 * items are written in batches (they run again if the object dies first: they are pure).
 *
 * The runner is the map step's entry in `rt.inflight`, so the drive waits for it and a cancel
 * aborts it. After an eviction the map step is found `running` with no runner: `resume` starts one
 * over the rows (an item cut off mid-attempt runs again; an item waiting for its child keeps
 * waiting). A runner with nothing to run but children to wait for leaves; the children's ends
 * (`childEnded`) bring it back.
 */
import { itemStarted, decideItemCompleted, decideItemFailed, decideMapCompleted, cancelledItems, mapFailed, toleratedFailures, type MapItemRecord } from "../../engine/map";
import { itemScope, mapItemList } from "../../engine/steps/map";
import { StepError, toStepError } from "../../engine/errors";
import { evaluateExpression, renderTemplate } from "../../engine/evaluate";
import { decideFailure } from "../../engine/outcomes";
import { stepTimeoutMs } from "../../engine/retry";
import { kindOf } from "../../engine/steps/registry";
import type { StepContext, StepKind, StepOutcome } from "../../engine/steps/types";
import type { Decision } from "../../engine/decision";
import type { ChildEndedArgs } from "../../schemas/execution-rpc";
import type { MapStep } from "../../schemas/definition";
import { DEFAULT_PARALLELISM } from "../../schemas/limits";
import { childFailed, childSucceeded } from "../../engine/children";
import { log } from "../../lib/log";
import type { StepRecord } from "../storage/state-store";
import type { ExecutionRuntime, LoadedState } from "./runtime";
import { settlingOf } from "./loaded-state";

/** Completed pure items written per transaction at most. */
const MAX_ITEM_BATCH = 64;

/** What the runner needs of the attempts: a step context for one item's attempt. */
export interface ItemContexts {
  itemContext(s: LoadedState, stepId: string, attempt: number, index: number, scope: StepContext["scope"], signal: AbortSignal, deadlineAt: number | null): StepContext;
}

type ItemResult = { ok: true; outcome: StepOutcome } | { ok: false; error: StepError };

/** One map step's run, in memory while its runner is alive. */
interface Runner {
  stepId: string;
  def: MapStep;
  /** The sub-step's kind (undefined: its type does not run). */
  kind: StepKind | undefined;
  items: unknown[];
  rows: Map<number, MapItemRecord>;
  tolerated: number;
  limit: number;
  /** Item attempts in flight, by index. */
  active: Map<number, Promise<void>>;
  /** Decisions not written yet (completed pure items). */
  pending: Decision[];
  signal: AbortSignal;
  /** The next index that has never started. */
  next: number;
  /** Items that failed for good. */
  failed: MapItemRecord[];
  /** Started items with no attempt in flight: in backoff for a retry, or cut off mid-attempt. */
  due: Set<number>;
}

export class MapRuns {
  constructor(
    private readonly rt: ExecutionRuntime,
    private readonly contexts: ItemContexts,
  ) {}

  /** True when `stepId` is a map step (its running state belongs here, not to an attempt in flight). */
  isMap(s: LoadedState, stepId: string): boolean {
    return s.defs.get(stepId)?.type === "map";
  }

  /** The map step's attempt began (it is `running`): evaluate its items, keep them, start the runner. Returns true when it ended at once. */
  async begin(s: LoadedState, st: StepRecord, fail: (error: StepError) => void): Promise<boolean> {
    const def = s.defs.get(st.id) as MapStep;
    let items: unknown[];
    try {
      items = mapItemList(await renderTemplate(def.items, s.scope, undefined, "items"));
    } catch (err) {
      fail(toStepError(err, "EXPRESSION_ERROR"));
      return true;
    }
    if (s.execution.status !== "running" || st.status !== "running") return false;
    this.rt.apply(s, { mapRun: { stepId: st.id, attempt: st.attempts, items }, events: [] });
    this.start(s, st);
    return false;
  }

  /** A map step found `running` with no runner (the object restarted, or its runner left): true when a runner would do something now. */
  hasWork(s: LoadedState, st: StepRecord): boolean {
    const run = this.rt.maps.loadRun(st.id);
    if (!run) return true; // its items were never kept: the runner fails it
    const rows = this.rt.maps.loadItems(st.id);
    if (rows.length < run.items.length) return true; // items never started
    return rows.some((r) => r.status === "running") || rows.every((r) => r.status !== "waiting");
  }

  /** Starts a runner for a running map step that has none (see `hasWork`). */
  resume(s: LoadedState, st: StepRecord): void {
    if (!this.rt.inflight.has(st.id)) this.start(s, st);
  }

  private start(s: LoadedState, st: StepRecord): void {
    const controller = new AbortController();
    const done = this.run(s, st, controller.signal)
      .catch((err: unknown) => log("error", "map runner failed", { step_id: st.id, error: this.rt.maskForLog(err instanceof Error ? err.message : String(err)) }))
      .finally(() => {
        if (this.rt.inflight.get(st.id)?.controller === controller) this.rt.inflight.delete(st.id);
      });
    this.rt.inflight.set(st.id, { attempt: st.attempts, controller, done });
  }

  private async run(s: LoadedState, st: StepRecord, signal: AbortSignal): Promise<void> {
    const def = s.defs.get(st.id) as MapStep;
    const run = this.rt.maps.loadRun(st.id);
    if (!run) return this.failMap(s, st, new StepError("INTERRUPTED", "The map's items were not kept; the map cannot resume."), []);
    const r: Runner = {
      stepId: st.id,
      def,
      kind: kindOf(def.step.type, this.rt.deps.kinds),
      items: run.items,
      rows: new Map(this.rt.maps.loadItems(st.id).map((row) => [row.index, row])),
      tolerated: toleratedFailures(def.tolerated_failures, run.items.length),
      limit: def.concurrency ?? DEFAULT_PARALLELISM,
      failed: [],
      active: new Map(),
      pending: [],
      signal,
      next: 0,
      due: new Set(),
    };
    for (const row of r.rows.values()) {
      if (row.status === "failed") r.failed.push(row);
      if (row.status === "running") r.due.add(row.index);
    }
    const live = () => !signal.aborted && s.execution.status === "running" && st.status === "running";
    for (;;) {
      if (!live()) return this.write(s, r);
      if (r.failed.length > r.tolerated) {
        this.write(s, r);
        const open = [...r.rows.values()].filter((row) => row.status === "running" || row.status === "waiting");
        return this.failMap(s, st, mapFailed(st, r.failed.length, r.tolerated, r.failed[0]!.error), open);
      }
      const now = this.rt.deps.clock.now();
      let soonest: number | null = null;
      for (const index of this.startable(r, now, (at) => (soonest = soonest === null ? at : Math.min(soonest, at)))) {
        r.active.set(index, this.runItem(s, st, r, index).finally(() => r.active.delete(index)));
      }
      if (r.active.size === 0) {
        this.write(s, r);
        if (r.next >= r.items.length && [...r.rows.values()].every((row) => row.status === "completed" || row.status === "failed")) {
          if (r.rows.size === r.items.length) this.rt.apply(s, decideMapCompleted(st, [...r.rows.values()], r.items.length, this.rt.deps.clock.now()));
          return;
        }
        if (soonest === null) return; // only children to wait for: their ends bring the runner back
        await sleep(Math.max(0, soonest - this.rt.deps.clock.now()), signal);
        continue;
      }
      if (r.pending.length >= MAX_ITEM_BATCH || !r.kind?.pure) this.write(s, r);
      await Promise.race(r.active.values());
    }
  }

  /**
   * Indexes that may start now, while there is room in flight: items in backoff whose time has
   * come (`later` hears of the others), then items never started.
   */
  private *startable(r: Runner, now: number, later: (at: number) => void): Generator<number> {
    for (const index of r.due) {
      const at = r.rows.get(index)!.nextAttemptAt;
      if (at !== null && at > now) later(at);
      else if (r.active.size < r.limit) {
        r.due.delete(index); // due for a retry, or cut off mid-attempt (the object restarted)
        yield index;
      }
    }
    for (; r.next < r.items.length && r.active.size < r.limit; r.next++) {
      if (!r.rows.has(r.next)) yield r.next;
    }
  }

  /** One attempt of one item: its row (written first unless the sub-step is pure), the sub-step's run, its result. */
  private async runItem(s: LoadedState, st: StepRecord, r: Runner, index: number): Promise<void> {
    const sub = r.def.step;
    const startedAt = this.rt.deps.clock.now();
    const row = itemStarted(cutOff(r.rows.get(index) ?? null, startedAt), st.id, index, startedAt);
    r.rows.set(index, row);
    if (!r.kind?.pure) {
      this.write(s, r);
      this.rt.apply(s, { items: [row], events: [] });
    }
    const scope = itemScope(s.scope, r.items[index], index);
    const result = await this.attempt(s, st, r, row, scope, startedAt);
    if (r.signal.aborted || st.status !== "running" || r.rows.get(index) !== row) return; // the map ended or moved on meanwhile
    const now = this.rt.deps.clock.now();
    let d: Decision;
    if (!result.ok) d = decideItemFailed(row, result.error, sub, s.execution.definition, startedAt, now, this.rt.deps.random);
    else if (result.outcome.kind === "completed") d = decideItemCompleted(row, this.rt.mask(s, result.outcome.output), startedAt, now);
    else if (result.outcome.kind === "child") {
      d = { items: [{ ...row, status: "waiting", childId: result.outcome.start.id }], children: { start: [result.outcome.start] }, events: [] };
    } else {
      d = decideItemFailed(row, new StepError("UNSUPPORTED_STEP_TYPE", `A map item cannot wait (${result.outcome.kind}).`), sub, s.execution.definition, startedAt, now, this.rt.deps.random);
    }
    const moved = d.items![0]!;
    r.rows.set(index, moved);
    if (moved.status === "failed") r.failed.push(moved);
    if (moved.status === "running") r.due.add(index); // a retry is scheduled
    r.pending.push(d);
  }

  /**
   * The sub-step's run for one item: its `if`, then its kind under the attempt's timeout and the
   * map's abort. A pure kind (no I/O, nothing to abort) runs without either: a map of transforms
   * costs an evaluation per item, not a timer and two listeners.
   */
  private async attempt(s: LoadedState, st: StepRecord, r: Runner, row: MapItemRecord, scope: StepContext["scope"], startedAt: number): Promise<ItemResult> {
    const sub = r.def.step;
    const kind = r.kind;
    try {
      if (!kind) throw new StepError("UNSUPPORTED_STEP_TYPE", `Step type '${sub.type}' cannot run in a map item.`);
      if (sub.if !== undefined && !(await evaluateExpression(sub.if, scope))) return { ok: true, outcome: { kind: "completed", output: null } };
      if (kind.pure) return { ok: true, outcome: await kind.run(sub, this.contexts.itemContext(s, st.id, row.attempts, row.index, scope, r.signal, null)) };
    } catch (err) {
      return { ok: false, error: toStepError(err, "STEP_ERROR") };
    }
    const controller = new AbortController();
    const abort = () => controller.abort(r.signal.reason);
    r.signal.addEventListener("abort", abort, { once: true });
    const timeoutMs = kind.waitsFor ? null : stepTimeoutMs(sub, s.execution.definition.sla_class);
    const timer = timeoutMs === null ? undefined : setTimeout(() => controller.abort(new StepError("STEP_TIMEOUT", `The attempt ran past ${Math.round(timeoutMs / 1000)} s.`, { retryable: true })), timeoutMs);
    try {
      const ctx = this.contexts.itemContext(s, st.id, row.attempts, row.index, scope, controller.signal, timeoutMs === null ? null : startedAt + timeoutMs);
      const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true }));
      return { ok: true, outcome: await Promise.race([kind.run(sub, ctx), aborted]) };
    } catch (err) {
      return { ok: false, error: toStepError(err, "STEP_ERROR") };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      r.signal.removeEventListener("abort", abort);
    }
  }

  /** Writes the decisions the runner holds, in one transaction. */
  private write(s: LoadedState, r: Runner): void {
    if (r.pending.length === 0) return;
    const batch = r.pending;
    r.pending = [];
    if (s.execution.status === "running" || s.execution.status === "paused") this.rt.apply(s, batch);
  }

  /** The map fails (beyond its tolerance, or unrecoverable): its open items are cancelled with it. */
  private failMap(s: LoadedState, st: StepRecord, error: StepError, open: readonly MapItemRecord[]): void {
    if (st.status !== "running") return;
    const c = settlingOf(s, st, st.attempts, this.rt.deps.clock.now());
    const d = decideFailure(c, error, this.rt.deps.random);
    this.rt.apply(s, { ...d, items: cancelledItems(open, c.now), children: { cancel: open.filter((i) => i.childId !== null).map((i) => i.childId!) } });
  }

  /** A child of an item ended (see Children.ended): the item moves, once. Returns false when nothing waited for it. */
  childEnded(s: LoadedState | null, args: ChildEndedArgs & { item: number }): boolean {
    const st = s?.steps.get(args.stepId);
    const row = st?.status === "running" ? this.rt.maps.loadItem(args.stepId, args.item) : null;
    if (!s || !st || !row || row.status !== "waiting" || row.attempts !== args.attempt || row.childId !== args.childId) return false;
    const def = s.defs.get(st.id) as MapStep;
    const now = this.rt.deps.clock.now();
    const d = childSucceeded(args.status)
      ? decideItemCompleted(row, this.rt.mask(s, args.output ?? null), row.startedAt, now)
      : decideItemFailed(row, childFailed(args), def.step, s.execution.definition, row.startedAt, now, this.rt.deps.random);
    this.rt.apply(s, d);
    return true;
  }
}

/** An item found running with no attempt in flight or scheduled was cut off (the object restarted): that attempt is logged INTERRUPTED. */
function cutOff(prev: MapItemRecord | null, now: number): MapItemRecord | null {
  if (!prev || prev.status !== "running" || prev.nextAttemptAt !== null) return prev;
  const error = { code: "INTERRUPTED", message: "The attempt was interrupted (the object restarted while it ran).", attempt: prev.attempts };
  return { ...prev, log: [...prev.log, { attempt: prev.attempts, status: "failed", started_at: prev.startedAt, ended_at: now, error }] };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}
