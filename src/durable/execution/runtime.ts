/**
 * The execution's runtime inside the Durable Object: it loads the execution's state, keeps the
 * in-memory caches, and applies every transition as ONE SQLite transaction (`tx`: the transition's
 * rows, events, timers and outbox rows commit together or not at all) — most as a `Decision`
 * decided in src/engine (`apply`). The object's other parts —
 * commands, human waits, the drive, attempts, the read model — are small classes constructed with
 * it (see execution-object.ts).
 *
 * Invariants (see ARCHITECTURE.md in src/durable/):
 * - Transitions are checked against the pure tables in src/engine/state-machine.ts; an illegal
 *   request changes nothing.
 * - The in-memory mirror (`state`) is only a cache of SQLite: it is rebuilt from storage after an
 *   eviction, and dropped if a transaction throws.
 * - Steps are at-least-once, transitions exactly-once: a step found `running` with no attempt in
 *   flight in this instance was cut off (eviction, crash, alarm that threw) and is re-attempted.
 * - Fast steps run back to back in one invocation; sleeps, retry backoff, deadlines and failed
 *   index flushes are rows in `timers` behind the single alarm.
 */
import type { StepError } from "../../engine/errors";
import { isTerminalExecution, transitionExecution, transitionStep, type ExecutionCommand, type StepCommand } from "../../engine/state-machine";
import type { LlmEndpoint, StepKinds } from "../../engine/steps/types";
import type { Clock } from "../../engine/clock";
import type { Decision } from "../../engine/decision";
import { masked } from "../../engine/outcomes";
import type { ExecutionEvent } from "../../schemas/executions";
import { TransitionLog, type EventSpec } from "../storage/transition-log";
import { StateStore, stepsAsDeclared, type ExecutionRecord, type FinishedAttempt, type StepRecord } from "../storage/state-store";
import { Outbox } from "../storage/outbox";
import type { CreateExecutionArgs } from "../../schemas/execution-rpc";
import { ensureSchema, hasSchema } from "../storage/sqlite-schema";
import { MeteredSql } from "../storage/metered-sql";
import { isoTime } from "../../lib/time";
import { allowedPrivateHosts, llmSettings } from "../../lib/worker-env";
import { Timers } from "../storage/timer-store";
import { ExecutionBudgets } from "./budgets";
import { loadedState, type LoadedState } from "./loaded-state";
import type { ConcurrencyRpc } from "../concurrency/client";
import type { ExecutionRpc } from "./client";
import { releasesSlot } from "../../engine/slots";
import { OwedMessages } from "./owed-messages";
import { MapStore } from "../storage/map-store";
import { cancelledItems } from "../../engine/map";
import { IndexFeed } from "./index-feed";

export type { LoadedState };

/**
 * What the runtime runs on besides its own storage. Read at each use (never copied), so a
 * dependency replaced on a live object takes effect at once: tests run an object on their own
 * clock, or against a D1 that refuses batches, this way (see ARCHITECTURE.md, "Dependencies").
 */
export interface RuntimeDeps {
  sql: SqlStorage;
  storage: DurableObjectStorage;
  env: Env;
  /** Step kinds by type (`stepKinds` in production). */
  kinds: StepKinds;
  fetch: typeof fetch;
  /** Every time the runtime reads or records; the alarm is set at `clock.toWallTime(due)`. */
  clock: Clock;
  /** The D1 database the outbox flushes the index and audit rows to (`env.DB`). */
  d1: D1Database;
  random: () => number;
  /** A concurrency key's object (`concurrencyRpc` in production; tests drop or delay its calls). */
  concurrency: (tenant: string, key: string) => ConcurrencyRpc;
  /** Another execution's object: a child's, the parent's (`executionRpc` in production; tests drop its calls). */
  executions: (id: string) => ExecutionRpc;
}

/**
 * What `create` needs: the RPC arguments, validated by the object. The RPC arguments and results
 * are in `schemas/execution-rpc.ts`, shared with the Worker's side (`client.ts`).
 */
export type CreateRequest = CreateExecutionArgs;

export interface InFlight {
  attempt: number;
  controller: AbortController;
  done: Promise<void>;
}

function isDecisionList(d: Decision | readonly Decision[]): d is readonly Decision[] {
  return Array.isArray(d);
}

/** Applies commands to a step in memory, checked against the step table; the caller writes it. */
export function applyStepCommands(step: StepRecord, commands: readonly StepCommand[], patch: Partial<StepRecord>): void {
  let status = step.status;
  for (const command of commands) {
    const t = transitionStep(status, command);
    if (!t.ok) throw new Error(`illegal step transition ${step.id}: ${status} --${command}-->`);
    status = t.to;
  }
  Object.assign(step, patch, { status });
}

export class ExecutionRuntime {
  readonly store: StateStore;
  /** Events and steps, one row per transaction. */
  readonly log: TransitionLog;
  readonly timers: Timers;
  readonly outbox: Outbox;
  /** Map steps' items (`map_runs`, `map_items`). */
  readonly maps: MapStore;
  /** Messages owed to other objects (slots, children, the parent), enqueued by the moves that owe them. */
  readonly owed: OwedMessages;
  /** Rows owed to D1: the index row, usage records, inbox items. */
  private readonly feed: IndexFeed;
  /** Storage rows this object has written since it started (see `billedRows`). */
  readonly sql: MeteredSql;
  state: LoadedState | null = null;
  /**
   * False until an execution is created here: an object nobody created has no schema and writes
   * none, so a read of an id that was never created (a probe) leaves nothing stored.
   */
  schemaReady: boolean;
  readonly inflight = new Map<string, InFlight>();
  /** Pure steps completed but not written yet (see `flushBurst`). */
  burst: { steps: StepRecord[]; attempts: FinishedAttempt[]; events: EventSpec[] } | null = null;
  /** Events of the transaction under way (see `tx`). */
  pendingEvents: EventSpec[] | null = null;
  /** Steps the transaction under way changed, written with its events (see `tx`). */
  private pendingSteps: Map<string, StepRecord> | null = null;
  readonly waiters = new Set<() => void>();
  readonly listeners = new Set<(events: ExecutionEvent[]) => void>();

  /** Reservations against the execution's own budget and the shared ones (see budgets.ts). */
  readonly budgets: ExecutionBudgets;

  /** Where llm steps' calls go (LLM_BASE_URL, LLM_API_KEY, the AI binding). */
  readonly llm: LlmEndpoint;

  /** ALLOWED_PRIVATE_HOSTS, parsed once: the same array every attempt, so the SSRF guard's cache holds. */
  readonly allowedPrivateHosts: readonly string[];

  constructor(readonly deps: RuntimeDeps) {
    this.sql = new MeteredSql(deps.sql);
    // An execution stored by older code is upgraded as it loads (the version gate); an object with
    // no execution stays empty until `create` makes its schema.
    this.schemaReady = hasSchema(this.sql);
    if (this.schemaReady) deps.storage.transactionSync(() => ensureSchema(this.sql)); // all of a migration or none of it
    this.allowedPrivateHosts = allowedPrivateHosts(deps.env);
    this.llm = llmSettings(deps.env);
    this.budgets = new ExecutionBudgets(deps);
    this.store = new StateStore(this.sql);
    this.log = new TransitionLog(this.sql);
    this.timers = new Timers(this.sql);
    this.outbox = new Outbox(this.sql);
    this.maps = new MapStore(this.sql);
    this.owed = new OwedMessages(this.outbox, this.timers);
    this.feed = new IndexFeed(this.outbox, this.timers, this.store);
  }

  // ------------------------------------------------------------------ state

  load(): LoadedState | null {
    if (this.state) return this.state;
    if (!this.schemaReady) return null; // nothing was ever created here
    const execution = this.store.loadExecution();
    if (!execution) return null;
    this.state = loadedState(execution, stepsAsDeclared(execution.definition.steps, this.log.steps()), this.deps.env);
    return this.state;
  }

  /** True once an execution is stored in this object. */
  exists(): boolean {
    return this.load() !== null;
  }

  owned(tenant: string): LoadedState | null {
    this.flushBurst(); // what a caller reads or changes is written first
    const s = this.load();
    return s && s.execution.tenant === tenant ? s : null;
  }

  /**
   * Runs `fn` as one SQLite transaction. Events appended inside are published to live listeners
   * only after the commit. If it throws, storage rolls back and the cache is dropped.
   */
  /** `at`: when the transition happened, if not now (the events' time; e.g. when an attempt ended). */
  private tx<T>(fn: (emit: (e: EventSpec) => void) => T, at?: number): T {
    // A transition inside another joins it: its events stay in call order and commit together.
    if (this.pendingEvents) return fn((e) => this.pendingEvents!.push(e));
    this.flushBurst(); // completed pure steps come first, in the log as in time
    const pending: EventSpec[] = (this.pendingEvents = []);
    const steps = (this.pendingSteps = new Map());
    const now = at ?? this.deps.clock.now();
    let appended: ExecutionEvent[] = [];
    try {
      const result = this.deps.storage.transactionSync(() => {
        const r = fn((e) => pending.push(e));
        appended = this.log.append(now, pending, [...steps.values()]); // one row for the transition's events and steps
        return r;
      });
      this.pendingEvents = null;
      this.pendingSteps = null;
      if (appended.length > 0) for (const l of this.listeners) l(appended);
      return result;
    } catch (err) {
      this.pendingEvents = null;
      this.pendingSteps = null;
      this.state = null;
      this.timers.forget();
      this.log.forget();
      this.outbox.forget();
      throw err;
    }
  }

  /**
   * Applies a decision (engine/decision.ts) — or several, one after the other — as one transaction,
   * or as part of the one under way. Each is written in the decision's order: execution created, timers cleared,
   * finished attempts, step moves, started attempts, opened gates, execution moves, timers set,
   * outbox rows, events. The one place a decided transition is written.
   */
  apply(s: LoadedState, d: Decision | readonly Decision[]): void {
    if (isDecisionList(d)) {
      this.tx((emit) => {
        for (const one of d) this.write(s, one, emit);
      });
    } else {
      this.tx((emit) => this.write(s, d, emit), d.at);
    }
  }

  private write(s: LoadedState, d: Decision, emit: (e: EventSpec) => void): void {
    if (d.created) {
      if (!this.schemaReady) ensureSchema(this.sql); // the first write this object ever makes, in the creating transaction
      this.store.insertExecution(d.created);
      const now = this.deps.clock.now();
      this.feed.indexed(d.created, now);
      if (d.created.status === "queued") this.owed.slot(d.created, "slot_acquire", now);
    }
    if (d.decidedGates) for (const g of d.decidedGates) Object.assign(s.execution.approvals[g.index]!, g.patch);
    const timers = d.timers;
    if (timers?.clear) for (const t of timers.clear) this.timers.clear(t.kind, t.stepId);
    if (d.finished) for (const a of d.finished) this.store.finishAttempt(a.stepId, a.attempt, a.status, a.endedAt, a.output, a.error);
    if (d.kept && d.kept.length > 0) this.store.insertFinishedAttempts(d.kept, true);
    if (d.steps) {
      for (const m of d.steps) {
        const st = s.steps.get(m.stepId)!;
        if (m.command === "cancel") this.closeStep(s, st);
        this.moveStep(st, m.command, m.patch);
      }
    }
    if (d.mapRun) this.maps.saveRun(d.mapRun);
    if (d.items) this.maps.saveItems(d.items);
    if (d.children?.start) for (const start of d.children.start) this.owed.childStart(start, this.deps.clock.now());
    if (d.children?.cancel) for (const childId of d.children.cancel) this.owed.childCancel(s.execution.tenant, childId, this.deps.clock.now());
    if (d.started) for (const a of d.started) this.store.insertAttempt(a.stepId, a.attempt, a.startedAt);
    if (d.gates) {
      for (const g of d.gates) s.execution.approvals.push(g);
      this.store.saveApprovals(s.execution);
    }
    if (d.budget) {
      s.execution.budget = d.budget;
      this.store.saveExecution(s.execution);
    }
    if (d.execution) for (const m of d.execution) this.moveExecution(s, m.command, m.patch);
    if (d.usage && d.usage.length > 0) this.feed.usage(s, d.usage, this.deps.clock.now());
    if (timers?.set) for (const t of timers.set) this.timers.set(t.kind, t.dueAt, t.stepId);
    if (d.outbox) for (const o of d.outbox) this.outbox.enqueueAudit(o.audit, o.at);
    if (d.signals?.keep) for (const k of d.signals.keep) this.store.keepSignal(k);
    if (d.signals?.take) for (const seq of d.signals.take) this.store.takeSignal(seq);
    for (const e of d.events) emit(e);
    this.feed.inbox(s, d, this.deps.clock.now());
  }

  /**
   * A step cancelled while it had work out (its execution ended or was cancelled): a child it waits
   * for is cancelled too (unless `parent_close: abandon`), and a map's open items are cancelled,
   * their children with them. Inside a tx, before the step's move.
   */
  private closeStep(s: LoadedState, st: StepRecord): void {
    const now = this.deps.clock.now();
    const def = s.defs.get(st.id);
    if (def?.type === "workflow") this.owed.closeChild(s, st, now);
    if (def?.type !== "map" || st.status !== "running") return;
    const open = this.maps.openItems(st.id);
    this.maps.saveItems(cancelledItems(open, now));
    if (def.step.type === "workflow" && def.step.parent_close === "abandon") return;
    for (const item of open) if (item.childId !== null) this.owed.childCancel(s.execution.tenant, item.childId, now);
  }

  /** Execution-level transition inside a transaction: status, patch, version, index row. */
  moveExecution(s: LoadedState, command: ExecutionCommand, patch: Partial<ExecutionRecord> = {}): boolean {
    const t = transitionExecution(s.execution.status, command);
    if (!t.ok) return false;
    const now = this.deps.clock.now();
    const from = s.execution.status;
    Object.assign(s.execution, patch, { status: t.to, stateVersion: s.execution.stateVersion + 1 });
    // `waiting_for` describes a waiting execution only: any other status drops it unless set here.
    if (t.to !== "waiting" && patch.waitingFor === undefined) s.execution.waitingFor = null;
    if (isTerminalExecution(t.to)) {
      s.execution.endedAt = now;
      // A gate nobody decided before the execution ended (cancelled, timed out) is closed, not left pending.
      for (const g of s.execution.approvals) if (g.status === "pending") Object.assign(g, { status: "cancelled", decided_at: isoTime(now) });
    }
    this.store.saveExecution(s.execution);
    if (patch.input !== undefined) this.store.saveInput(s.execution);
    this.feed.indexed(s.execution, now, s.steps);
    if (isTerminalExecution(t.to)) this.timers.clearAllExcept("outbox_flush");
    // Flow control: a move into `queued` asks the key's object for a slot; an end gives it back.
    if (t.to === "queued" && t.changed) this.owed.slot(s.execution, "slot_acquire", now);
    if (releasesSlot(from, t.to)) this.owed.slot(s.execution, "slot_release", now);
    // A child's end goes to its parent, whatever the end (the parent decides what it means).
    if (isTerminalExecution(t.to) && t.changed && s.execution.parent) this.owed.childEnded(s.execution, now);
    return true;
  }

  /** Writes fields of the execution that no status move carries (a queued execution's position). */
  patchExecution(s: LoadedState, patch: Partial<ExecutionRecord>): void {
    this.tx(() => {
      Object.assign(s.execution, patch);
      this.store.saveExecution(s.execution);
    });
  }

  /**
   * `value` with every value of every secret the definition names masked (`***`). Every value
   * that enters the execution's records — attempt outcomes and errors, the execution's output,
   * answers and comments people send — passes through here before it is kept, in memory or in
   * storage, so it is masked in outputs, errors, events, step traces and logs alike, whichever
   * step or attempt resolved the secret (or received it from an upstream).
   */
  mask<T>(s: LoadedState, value: T): T {
    return masked(s.secretValues, value);
  }

  /** A message for the log, masked as recorded values are. */
  maskForLog(text: string): string {
    const s = this.state;
    return s ? this.mask(s, text) : text;
  }

  /** Applies a command to a step and writes it. Inside a tx. */
  moveStep(step: StepRecord, command: StepCommand, patch: Partial<StepRecord> = {}): void {
    applyStepCommands(step, [command], patch);
    this.stepChanged(step);
  }

  /** The step is written as it stands when the transaction under way commits. Inside a tx. */
  private stepChanged(step: StepRecord): void {
    if (!this.pendingSteps) throw new Error(`step ${step.id} changed outside a transaction`);
    this.pendingSteps.set(step.id, step);
  }

  notifyIfEnded(s: LoadedState): void {
    if (!isTerminalExecution(s.execution.status)) return;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  abortAll(reason: StepError): void {
    for (const f of this.inflight.values()) f.controller.abort(reason);
  }

  /**
   * Writes the pure steps completed since the last write, in one transaction with a few multi-row
   * statements, and publishes their events. Called before any other transition (so the log stays
   * in order), before the drive waits or ends, and before anyone reads the execution — nothing
   * unwritten is ever shown. If the object dies first, the steps are simply run again: they are pure.
   */
  flushBurst(): void {
    const burst = this.burst;
    if (!burst) return;
    this.burst = null;
    this.tx((emit) => {
      for (const st of burst.steps) this.stepChanged(st);
      this.store.insertFinishedAttempts(burst.attempts);
      for (const e of burst.events) emit(e);
    });
  }

  /**
   * What this object has written since it started — Durable Object storage rows and D1 rows — the
   * units both are billed in. (Counted in memory: an object restarted mid-run reports only the rest.)
   */
  billedRows(): { storage_rows_written: number; d1_rows_written: number; budget_calls: number } {
    return { storage_rows_written: this.sql.rowsWritten, d1_rows_written: this.outbox.d1RowsWritten, budget_calls: this.budgets.budgetCalls };
  }
}
