/**
 * The execution engine inside the Durable Object: it owns the execution's state, applies every
 * transition as ONE SQLite transaction (state + events + outbox row together), and drives steps.
 *
 * Invariants (see ARCHITECTURE.md beside this file):
 * - Transitions are checked against the pure tables in src/engine/state-machine.ts; an illegal
 *   request changes nothing.
 * - The in-memory mirror (`this.state`) is only a cache of SQLite: it is rebuilt from storage
 *   after an eviction, and dropped if a transaction throws.
 * - Steps are at-least-once, transitions exactly-once: a step found `running` with no attempt in
 *   flight in this instance was cut off (eviction, crash, alarm that threw) and is re-attempted.
 * - Fast steps run back to back in one invocation; sleeps, retry backoff, deadlines and failed
 *   index flushes are rows in `timers` behind the single alarm.
 */
import { checkAnswers, defaultAnswers } from "../engine/answers";
import { checkDecision, executionGateLevel, gateExpiryMs, stepsNeedApproval } from "../engine/approvals";
import { StepError, toStepError, type ErrorInfo } from "../engine/errors";
import { evaluateExpression, maskSecrets } from "../engine/evaluate";
import { referencedSecrets } from "../engine/expressions";
import { executionTimeoutMs, resolveRetryPolicy, retryDelayMs, shouldRetry, stepTimeoutMs } from "../engine/retry";
import { compilePlan, planNext, type CompiledPlan } from "../engine/scheduler";
import {
  allowedExecutionCommands,
  isTerminalExecution,
  transitionExecution,
  transitionStep,
  type ExecutionCommand,
  type StepCommand,
} from "../engine/state-machine";
import { kindOf } from "../engine/steps/registry";
import type { ExpressionScope, SecretResolver, StepContext, StepKind, StepKinds, StepOutcome } from "../engine/steps/types";
import { DEFAULT_PARALLELISM } from "../schemas/limits";
import type { Clock } from "../engine/clock";
import type { Step } from "../schemas/definition";
import type { ApprovalGate, EventType, Execution, ExecutionEvent, StepTrace, WaitingFor } from "../schemas/executions";
import type { ExecutionIndexRow } from "../store/executions";
import { EventLog, type EventSpec } from "./event-log";
import { ExecutionStore, pendingStep, type AttemptRecord, type ExecutionRecord, type FinishedAttempt, type StepRecord } from "./execution-store";
import { Outbox } from "./outbox";
import type { AuditRow } from "../schemas/audit";
import type {
  AnswerResult,
  CommandResult,
  CreateExecutionArgs,
  CreateResult,
  DecisionArgs,
  DecisionResult,
  EventPage,
  ExistingExecution,
} from "../schemas/execution-rpc";
import { ensureSchema, hasSchema } from "./sqlite-schema";
import { MeteredSql } from "./metered-sql";
import { log } from "../lib/log";
import { isoTime, parseRfc3339 } from "../lib/time";
import { Timers } from "./timers";

/** Larger values are left out of events (the step trace still has them). */
const MAX_EVENT_VALUE_BYTES = 16 * 1024;
/** An alarm invocation yields (re-arming the alarm) after this long, so one execution cannot hog its object. */
const MAX_DRIVE_MS = 30_000;
/** Re-attempts of a step that keeps being cut off, beyond its retry policy, before it fails. */
const EXTRA_INTERRUPTED_ATTEMPTS = 2;
const MAX_FLUSH_BACKOFF_MS = 60_000;
/** How long the alarm waits behind a drive the object starts itself before it takes over. */
const DRIVE_GRACE_MS = 5_000;
/** Pure steps written per transaction at most (a long chain of them is written in slices). */
const MAX_BURST_STEPS = 32;
/** A drive still running after this long flushes the index without waiting for its end. */
const EARLY_FLUSH_MS = 250;

/**
 * What the engine runs on besides its own storage. Read at each use (never copied), so a
 * dependency replaced on a live object takes effect at once: tests run an object on their own
 * clock, or against a D1 that refuses batches, this way (see ARCHITECTURE.md, "Dependencies").
 */
export interface EngineDeps {
  sql: SqlStorage;
  storage: DurableObjectStorage;
  env: Env;
  /** Step kinds by type (`stepKinds` in production). */
  kinds: StepKinds;
  fetch: typeof fetch;
  /** Every time the engine reads or records; the alarm is set at `clock.toWallTime(due)`. */
  clock: Clock;
  /** The D1 database the outbox flushes the index and audit rows to (`env.DB`). */
  d1: D1Database;
  random: () => number;
}

/**
 * What `create` needs: the RPC arguments, validated by the object. The RPC arguments and results
 * are in `schemas/execution-rpc.ts`, shared with the Worker's side (`client.ts`).
 */
export type CreateRequest = CreateExecutionArgs;

interface LoadedState {
  execution: ExecutionRecord;
  steps: Map<string, StepRecord>;
  defs: Map<string, Step>;
  plan: CompiledPlan;
  /** What expressions see, as live views of the records above (see `liveScope`). */
  scope: ExpressionScope;
  /**
   * The value of every secret the definition names (`secrets.NAME`), whichever step or attempt
   * resolves it: masked (`***`) in everything recorded (see `ExecutionEngine.mask`).
   */
  secretValues: readonly string[];
}

/**
 * The expression scope as views of the loaded records, built once per load: every read sees the
 * record as it is now. Building a fresh scope per step would cost O(steps) each time (a 100-step
 * chain spent more on that than on evaluating). Views are safe for what runs inside the drive's
 * task (pure steps, `if`, outputs): nothing else changes a record until it yields. A runner that
 * does I/O gets a snapshot instead (`snapshotScope`), so it sees the state its attempt started in.
 */
function liveScope(execution: ExecutionRecord, steps: ReadonlyMap<string, StepRecord>): ExpressionScope {
  const views: ExpressionScope["steps"] = {};
  for (const st of steps.values()) {
    views[st.id] = {
      get output() {
        return st.output;
      },
      get status() {
        return st.status;
      },
    };
  }
  return {
    input: execution.input,
    steps: views,
    execution: {
      id: execution.id,
      workflow_id: execution.workflowId,
      workflow_version: execution.workflowVersion,
      get attempt() {
        return execution.attempt;
      },
      get started_at() {
        return isoTime(execution.startedAt);
      },
    },
  };
}

function loadedState(execution: ExecutionRecord, stepList: readonly StepRecord[], env: Env): LoadedState {
  const steps = new Map(stepList.map((s) => [s.id, s]));
  const defs = new Map(execution.definition.steps.map((s) => [s.id, s]));
  const secretValues = referencedSecrets(execution.definition)
    .map((name) => workerSecret(env, name))
    .filter((v): v is string => v !== undefined && v !== "");
  return { execution, steps, defs, plan: compilePlan(execution.definition.steps), scope: liveScope(execution, steps), secretValues };
}

function snapshotScope(scope: ExpressionScope): ExpressionScope {
  const steps: ExpressionScope["steps"] = {};
  for (const [id, view] of Object.entries(scope.steps)) steps[id] = { output: view.output, status: view.status };
  return { input: scope.input, steps, execution: { ...scope.execution } };
}

interface InFlight {
  attempt: number;
  controller: AbortController;
  done: Promise<void>;
}


/** Values too large for an event are replaced by a marker; the full value is in the step trace. */
function eventValue(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  const text = JSON.stringify(value);
  return text.length <= MAX_EVENT_VALUE_BYTES ? { output: value } : { output_truncated: true, output_bytes: text.length };
}

/** A gate as it opens: pending from `now` until `expiresAt` (epoch ms). */
function pendingGate(
  asked: Pick<ApprovalGate, "kind" | "level"> & Partial<Pick<ApprovalGate, "step_id" | "request_comment">>,
  now: number,
  expiresAt: number,
): ApprovalGate {
  const { request_comment, ...gate } = asked;
  return { ...gate, status: "pending", requested_at: isoTime(now), expires_at: isoTime(expiresAt), ...(request_comment !== undefined ? { request_comment } : {}) };
}

/** What a gate asks of its approver besides yes or no: the plan hash (level 2 only) and the step's comment. */
function gateAsks(gate: ApprovalGate, planHash: string): { plan_hash?: string; request_comment?: string } {
  return {
    ...(gate.level === 2 ? { plan_hash: planHash } : {}),
    ...(gate.request_comment ? { request_comment: gate.request_comment } : {}),
  };
}

/** What `waiting_for` says of a pending approval gate. */
function gateWaitingFor(gate: ApprovalGate, planHash: string): WaitingFor {
  return {
    kind: "approval",
    ...(gate.step_id ? { step_id: gate.step_id } : {}),
    until: gate.expires_at,
    level: gate.level,
    gate: gate.kind,
    ...gateAsks(gate, planHash),
  };
}

function approvalRequestedData(gate: ApprovalGate, planHash: string): Record<string, unknown> {
  return { kind: gate.kind, level: gate.level, expires_at: gate.expires_at, ...gateAsks(gate, planHash) };
}

/** The attempt of a step that succeeded at its first attempt and kept no attempt row (a pure step's). */
function onlyAttempt(st: StepRecord): AttemptRecord {
  return { stepId: st.id, attempt: 1, status: "completed", startedAt: st.startedAt!, endedAt: st.endedAt, output: st.output, error: null };
}

/** Applies commands to a step in memory, checked against the step table; the caller writes it. */
function applyStepCommands(step: StepRecord, commands: readonly StepCommand[], patch: Partial<StepRecord>): void {
  let status = step.status;
  for (const command of commands) {
    const t = transitionStep(status, command);
    if (!t.ok) throw new Error(`illegal step transition ${step.id}: ${status} --${command}-->`);
    status = t.to;
  }
  Object.assign(step, patch, { status });
}

/** `secrets.NAME`: only Worker secrets named SECRET_<NAME> are reachable from a definition; nothing else in env is. */
function workerSecret(env: Env, name: string): string | undefined {
  const value = (env as unknown as Record<string, unknown>)[`SECRET_${name}`];
  return typeof value === "string" ? value : undefined;
}

class AttemptSecrets implements SecretResolver {
  readonly used = new Set<string>();
  constructor(private readonly env: Env) {}
  get(name: string): string | undefined {
    const value = workerSecret(this.env, name);
    if (value !== undefined && value.length > 0) this.used.add(value);
    return value;
  }
}

export class ExecutionEngine {
  readonly store: ExecutionStore;
  readonly events: EventLog;
  readonly timers: Timers;
  readonly outbox: Outbox;
  /** Storage rows this object has written since it started (see `usage`). */
  private readonly sql: MeteredSql;
  private state: LoadedState | null = null;
  /**
   * False until an execution is created here: an object nobody created has no schema and writes
   * none, so a read of an id that was never created (a probe) leaves nothing stored.
   */
  private schemaReady: boolean;
  private readonly inflight = new Map<string, InFlight>();
  private driving: Promise<void> | null = null;
  private flushFailures = 0;
  /** Pure steps completed but not written yet (see `flushBurst`). */
  private burst: { steps: StepRecord[]; attempts: FinishedAttempt[]; events: EventSpec[] } | null = null;
  /** Events of the transaction under way (see `tx`). */
  private pendingEvents: EventSpec[] | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(events: ExecutionEvent[]) => void>();

  /** ALLOWED_PRIVATE_HOSTS, parsed once: the same array every attempt, so the SSRF guard's cache holds. */
  private readonly allowedPrivateHosts: readonly string[];

  constructor(private readonly deps: EngineDeps) {
    this.sql = new MeteredSql(deps.sql);
    // An execution stored by older code is upgraded as it loads (the version gate); an object with
    // no execution stays empty until `create` makes its schema.
    this.schemaReady = hasSchema(this.sql);
    if (this.schemaReady) deps.storage.transactionSync(() => ensureSchema(this.sql)); // all of a migration or none of it
    this.allowedPrivateHosts = (deps.env.ALLOWED_PRIVATE_HOSTS ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    this.store = new ExecutionStore(this.sql);
    this.events = new EventLog(this.sql);
    this.timers = new Timers(this.sql);
    this.outbox = new Outbox(this.sql);
  }

  // ------------------------------------------------------------------ state

  private load(): LoadedState | null {
    if (this.state) return this.state;
    if (!this.schemaReady) return null; // nothing was ever created here
    const execution = this.store.loadExecution();
    if (!execution) return null;
    this.state = loadedState(execution, this.store.loadSteps(execution.definition.steps), this.deps.env);
    return this.state;
  }

  /** True once an execution is stored in this object. */
  exists(): boolean {
    return this.load() !== null;
  }

  private owned(tenant: string): LoadedState | null {
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
    const now = at ?? this.deps.clock.now();
    let appended: ExecutionEvent[] = [];
    try {
      const result = this.deps.storage.transactionSync(() => {
        const r = fn((e) => pending.push(e));
        appended = this.events.append(now, pending); // one statement for all of the transition's events
        return r;
      });
      this.pendingEvents = null;
      if (appended.length > 0) for (const l of this.listeners) l(appended);
      return result;
    } catch (err) {
      this.pendingEvents = null;
      this.state = null;
      this.timers.forget();
      this.events.forget();
      this.outbox.forget();
      throw err;
    }
  }

  /** Execution-level transition inside a transaction: status, patch, version, index row. */
  private moveExecution(s: LoadedState, command: ExecutionCommand, patch: Partial<ExecutionRecord> = {}): boolean {
    const t = transitionExecution(s.execution.status, command);
    if (!t.ok) return false;
    const now = this.deps.clock.now();
    Object.assign(s.execution, patch, { status: t.to, stateVersion: s.execution.stateVersion + 1 });
    // `waiting_for` describes a waiting execution only: any other status drops it unless set here.
    if (t.to !== "waiting" && patch.waitingFor === undefined) s.execution.waitingFor = null;
    if (isTerminalExecution(t.to)) {
      s.execution.endedAt = now;
      // A gate nobody decided before the execution ended (cancelled, timed out) is closed, not left pending.
      for (const g of s.execution.approvals) if (g.status === "pending") Object.assign(g, { status: "cancelled", decided_at: isoTime(now) });
    }
    this.store.saveExecution(s.execution);
    this.outbox.enqueueIndex(this.indexRow(s.execution), now);
    this.timers.set("outbox_flush", now + 1_000); // safety net; cleared by a successful flush
    if (isTerminalExecution(t.to)) this.timers.clearAllExcept("outbox_flush");
    return true;
  }

  /**
   * `value` with every value of every secret the definition names masked (`***`). Every value
   * that enters the execution's records — attempt outcomes and errors, the execution's output,
   * answers and comments people send — passes through here before it is kept, in memory or in
   * storage, so it is masked in outputs, errors, events, step traces and logs alike, whichever
   * step or attempt resolved the secret (or received it from an upstream).
   */
  private mask<T>(s: LoadedState, value: T): T {
    return s.secretValues.length === 0 ? value : maskSecrets(value, s.secretValues);
  }

  /** A message for the log, masked as recorded values are. */
  maskForLog(text: string): string {
    const s = this.state;
    return s ? this.mask(s, text) : text;
  }

  /** Applies a command to a step and writes it. Inside a tx. */
  private moveStep(step: StepRecord, command: StepCommand, patch: Partial<StepRecord> = {}): void {
    applyStepCommands(step, [command], patch);
    this.store.saveStep(step);
  }

  private indexRow(e: ExecutionRecord): ExecutionIndexRow {
    return {
      tenant: e.tenant,
      id: e.id,
      workflowId: e.workflowId,
      workflowVersion: e.workflowVersion,
      status: e.status,
      labels: e.labels,
      errorCode: e.error?.code ?? null,
      costUsd: null, // no step records a cost yet
      createdAt: e.createdAt,
      startedAt: e.startedAt,
      endedAt: e.endedAt,
      stateVersion: e.stateVersion,
    };
  }

  // ------------------------------------------------------------------ reads

  toExecution(e: ExecutionRecord): Execution {
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
    };
  }

  snapshot(tenant: string): Execution | null {
    const s = this.owned(tenant);
    return s ? this.toExecution(s.execution) : null;
  }

  trace(tenant: string): StepTrace[] | null {
    const s = this.owned(tenant);
    if (!s) return null;
    const byStep = new Map<string, AttemptRecord[]>();
    for (const a of this.store.loadAttempts()) {
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

  eventPage(tenant: string, after: number, limit: number): EventPage | null {
    const s = this.owned(tenant);
    if (!s) return null;
    const items = this.events.after(after, limit);
    const last = items[items.length - 1]?.seq ?? after;
    return { items, terminal: isTerminalExecution(s.execution.status) && last >= this.events.lastSeq() };
  }

  /** Live listener for new events (after commit, in seq order). Returns the unsubscribe function. */
  subscribe(listener: (events: ExecutionEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when the execution is terminal or after `ms`, with its snapshot. */
  async waitForEnd(tenant: string, ms: number): Promise<Execution | null> {
    const s = this.owned(tenant);
    if (!s) return null;
    if (!isTerminalExecution(s.execution.status) && ms > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(done);
      });
    }
    return this.snapshot(tenant);
  }

  private notifyIfEnded(s: LoadedState): void {
    if (!isTerminalExecution(s.execution.status)) return;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  // ------------------------------------------------------------------ commands

  /**
   * The execution stored here, for a request with an Idempotency-Key that may repeat the one that
   * created it (`sameRequest`), or null when there is none. Writes nothing: the Worker asks before
   * it resolves the definition, so a replay does not depend on what became of the workflow since.
   */
  existing(tenant: string, requestHash: string): ExistingExecution | null {
    const s = this.owned(tenant);
    return s ? { kind: "existing", execution: this.toExecution(s.execution), sameRequest: s.execution.requestHash === requestHash } : null;
  }

  /**
   * Creates the execution, or returns the existing one (an idempotent replay, or a reuse of the
   * key with another request when `sameRequest` is false). Runs before any await, so concurrent
   * duplicates are serialised by the object's single thread and only one creates.
   */
  create(req: CreateRequest): CreateResult {
    const existing = this.load();
    if (existing) {
      return {
        kind: "existing",
        execution: this.toExecution(existing.execution),
        sameRequest: existing.execution.requestHash === req.requestHash,
      };
    }
    const now = this.deps.clock.now();
    // Workflow approval level 1 or 2: the execution waits for its gate before anything runs.
    const gateLevel = executionGateLevel(req.definition.approval);
    const gate = gateLevel === null ? null : pendingGate({ kind: "execution", level: gateLevel }, now, now + gateExpiryMs(req.definition.approval!, gateLevel));
    const execution: ExecutionRecord = {
      id: req.id,
      tenant: req.tenant,
      workflowId: req.workflowId,
      workflowVersion: req.workflowVersion,
      definitionHash: req.definitionHash,
      definition: req.definition,
      input: req.input,
      labels: req.labels,
      requestHash: req.requestHash,
      planHash: req.planHash,
      approvals: gate ? [gate] : [],
      status: gate ? "pending_approval" : "running",
      pausedFrom: null,
      waitingFor: gate ? gateWaitingFor(gate, req.planHash) : null,
      output: undefined,
      error: null,
      attempt: 1,
      createdAt: now,
      startedAt: gate ? null : now,
      endedAt: null,
      deadlineAt: now + executionTimeoutMs(req.definition),
      stateVersion: 1,
    };
    this.tx((emit) => {
      ensureSchema(this.sql); // the first write this object ever makes, in the creating transaction
      this.store.insertExecution(execution);
      this.timers.set("execution_timeout", execution.deadlineAt!);
      this.outbox.enqueueIndex(this.indexRow(execution), now);
      if (req.audit) this.outbox.enqueueAudit(req.audit, now);
      this.timers.set("outbox_flush", now + 1_000);
      emit({ type: "execution.created", data: { workflow_id: req.workflowId, workflow_version: req.workflowVersion, labels: req.labels } });
      if (gate) {
        this.timers.set("approval_expiry", parseRfc3339(gate.expires_at)!);
        emit({ type: "approval.requested", data: approvalRequestedData(gate, req.planHash) });
      } else {
        emit({ type: "execution.started", data: { attempt: 1 } });
      }
    });
    this.schemaReady = true;
    // What was just written is what a load would read back (no step has a row yet).
    this.state = loadedState(execution, execution.definition.steps.map((d, idx) => pendingStep(d.id, idx)), this.deps.env);
    return { kind: "created", execution: this.snapshot(req.tenant)! };
  }

  /** cancel | pause | resume | retry, requested by a user. */
  command(tenant: string, command: "cancel" | "pause" | "resume" | "retry", audit: AuditRow | null = null): CommandResult {
    const s = this.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    const check = transitionExecution(s.execution.status, command);
    if (!check.ok) return { ok: false, reason: "invalid_state", status: s.execution.status, allowed: allowedExecutionCommands(s.execution.status, "user") };
    const now = this.deps.clock.now();
    const recordAudit = (): void => {
      if (audit) this.outbox.enqueueAudit(audit, now);
    };
    switch (command) {
      case "cancel":
        this.tx((emit) => {
          this.endOpenSteps(s, "cancelled", { code: "CANCELLED", message: "The execution was cancelled." }, emit);
          this.moveExecution(s, "cancel");
          emit({ type: "execution.cancelled", data: {} });
          recordAudit();
        });
        this.abortAll(new StepError("CANCELLED", "The execution was cancelled."));
        break;
      case "pause":
        this.tx((emit) => {
          this.moveExecution(s, "pause", { pausedFrom: s.execution.status });
          emit({ type: "execution.paused", data: {} });
          recordAudit();
        });
        break;
      case "resume":
        this.tx((emit) => {
          this.moveExecution(s, "resume", { pausedFrom: null });
          emit({ type: "execution.resumed", data: {} });
          recordAudit();
        });
        break;
      case "retry":
        this.tx((emit) => {
          for (const st of s.steps.values()) {
            if (st.status === "failed" || st.status === "cancelled") this.moveStep(st, "redrive", { error: null, endedAt: null, nextAttemptAt: null });
          }
          const deadlineAt = now + executionTimeoutMs(s.execution.definition);
          this.moveExecution(s, "retry", { attempt: s.execution.attempt + 1, error: null, endedAt: null, output: undefined, deadlineAt });
          // A redrive re-enters through `queued`; with no concurrency limit to wait for, it is admitted at once.
          this.moveExecution(s, "admit");
          this.timers.set("execution_timeout", deadlineAt);
          emit({ type: "execution.started", data: { attempt: s.execution.attempt } });
          recordAudit();
        });
        break;
    }
    this.notifyIfEnded(s);
    return { ok: true, execution: this.toExecution(s.execution) };
  }

  /** Answers to a waiting input step: validated, then they complete it and the run continues. */
  answer(tenant: string, stepId: string, given: Record<string, unknown>, audit: AuditRow | null = null): AnswerResult {
    const s = this.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    const st = s.steps.get(stepId);
    const def = s.defs.get(stepId);
    if (!st || !def) return { ok: false, reason: "step_not_found" };
    const check = transitionExecution(s.execution.status, "answer");
    if (def.type !== "input" || st.status !== "waiting" || !check.ok) {
      return { ok: false, reason: "not_waiting", status: s.execution.status, stepStatus: st.status };
    }
    const answers = checkAnswers(def.questions, given);
    if (!answers.ok) return { ok: false, reason: "invalid_answers", problems: answers.problems };
    const answered = this.mask(s, answers.answers);
    const now = this.deps.clock.now();
    this.tx((emit) => {
      this.timers.clear("step_wake", stepId);
      emit({ type: "answers.received", stepId, data: { answers: answered, by: audit?.actor ?? null } });
      this.store.finishAttempt(stepId, st.attempts, "completed", now, answered, null);
      this.moveStep(st, "complete", { output: answered, endedAt: now });
      emit({ type: "step.completed", stepId, data: { attempt: st.attempts, output: answered } });
      this.moveExecution(s, "answer", s.execution.status === "waiting" ? { waitingFor: null } : {});
      if (audit) this.outbox.enqueueAudit(audit, now);
    });
    return { ok: true, execution: this.toExecution(s.execution) };
  }

  /**
   * A person's decision on an approval gate (see src/engine/approvals.ts for which gate and when it
   * is refused). Approve opens the gate: the execution starts, the held step may run, or the
   * approval step completes. Reject ends the execution `rejected`.
   */
  decide(tenant: string, req: DecisionArgs, audit: AuditRow | null = null): DecisionResult {
    const s = this.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    if (req.step_id !== undefined && !s.steps.has(req.step_id)) return { ok: false, reason: "step_not_found" };
    const check = checkDecision(s.execution.approvals, req, s.execution.planHash);
    if (!check.ok) return check;
    const command: ExecutionCommand = req.decision === "approve" ? "approve" : "reject";
    if (!transitionExecution(s.execution.status, command).ok) {
      return { ok: false, reason: "invalid_state", status: s.execution.status, allowed: allowedExecutionCommands(s.execution.status, "user") };
    }
    const now = this.deps.clock.now();
    const gate = s.execution.approvals[check.index]!;
    const by = audit?.actor ?? null;
    const comment = req.comment ? this.mask(s, req.comment) : undefined;
    this.tx((emit) => {
      Object.assign(gate, { status: req.decision === "approve" ? "approved" : "rejected", decided_at: isoTime(now), by }, comment ? { comment } : {});
      this.timers.clear("approval_expiry", gate.step_id ?? null);
      const decided = { kind: gate.kind, level: gate.level, by, ...(comment ? { comment } : {}) };
      if (req.decision === "approve") {
        emit({ type: "approval.granted", stepId: gate.step_id, data: decided });
        this.openGate(s, gate, emit);
      } else {
        emit({ type: "approval.rejected", stepId: gate.step_id, data: decided });
        const error: ErrorInfo = {
          code: "APPROVAL_REJECTED",
          message: gate.step_id ? `The approval of step '${gate.step_id}' was rejected.` : "The execution was rejected by an approver.",
          ...(gate.step_id ? { step_id: gate.step_id } : {}),
        };
        this.endRejected(s, "reject", "rejected", error, emit);
      }
      if (audit) this.outbox.enqueueAudit(audit, now);
    });
    if (req.decision === "reject") this.abortAll(new StepError("CANCELLED", "The execution was rejected."));
    this.notifyIfEnded(s);
    return { ok: true, execution: this.toExecution(s.execution) };
  }

  /** An approved gate lets the work it held proceed. Inside a tx; the gate is already marked. */
  private openGate(s: LoadedState, gate: ApprovalGate, emit: (e: EventSpec) => void): void {
    const now = this.deps.clock.now();
    switch (gate.kind) {
      case "execution":
        this.moveExecution(s, "approve");
        // Admitted at once: nothing (no concurrency limit) makes an approved execution queue.
        this.moveExecution(s, "admit", { startedAt: now });
        emit({ type: "execution.started", data: { attempt: s.execution.attempt } });
        return;
      case "step":
        this.moveStep(s.steps.get(gate.step_id!)!, "release");
        this.moveExecution(s, "approve");
        return;
      case "approval_step": {
        const st = s.steps.get(gate.step_id!)!;
        const output = { approved: true, by: gate.by ?? null, ...(gate.comment ? { comment: gate.comment } : {}) };
        this.store.finishAttempt(st.id, st.attempts, "completed", now, output, null);
        this.moveStep(st, "complete", { output, endedAt: now });
        emit({ type: "step.completed", stepId: st.id, data: { attempt: st.attempts, output } });
        this.moveExecution(s, "approve");
        return;
      }
    }
  }

  /** Ends the execution `rejected` (a person said no, or an approval expired). Inside a tx. */
  private endRejected(
    s: LoadedState,
    command: "reject" | "expire_approval",
    reason: "rejected" | "approval_expired",
    error: ErrorInfo,
    emit: (e: EventSpec) => void,
  ): void {
    this.endOpenSteps(s, "cancelled", { code: "CANCELLED", message: "Cancelled because the execution was rejected." }, emit);
    this.moveExecution(s, command, { error: { ...error, details: { reason } } });
    emit({ type: "execution.rejected", data: { reason, error: s.execution.error } });
  }

  /** An approval gate's expiry timer: `on_expiry` decides in place of a person. */
  private expireGate(s: LoadedState, stepId: string | null): void {
    const gate = s.execution.approvals.find((g) => g.status === "pending" && (stepId === null ? g.kind === "execution" : g.step_id === stepId));
    // `on_expiry` is the workflow gate's (registration allows `approve` at level 1 only); an approval step's expiry rejects.
    const onExpiry = gate?.kind === "execution" ? (s.execution.definition.approval?.on_expiry ?? "reject") : "reject";
    const now = this.deps.clock.now();
    this.tx((emit) => {
      this.timers.clear("approval_expiry", stepId);
      if (!gate || isTerminalExecution(s.execution.status)) return;
      Object.assign(gate, { status: onExpiry === "approve" ? "approved" : "expired", decided_at: isoTime(now), by: null });
      emit({ type: "approval.expired", stepId: gate.step_id, data: { kind: gate.kind, level: gate.level, action: onExpiry } });
      if (onExpiry === "approve") {
        this.openGate(s, gate, emit);
        return;
      }
      const error: ErrorInfo = {
        code: "APPROVAL_EXPIRED",
        message: gate.step_id ? `Nobody decided on step '${gate.step_id}' before ${gate.expires_at}.` : `Nobody approved the execution before ${gate.expires_at}.`,
        ...(gate.step_id ? { step_id: gate.step_id } : {}),
      };
      this.endRejected(s, "expire_approval", "approval_expired", error, emit);
    });
    this.abortAll(new StepError("CANCELLED", "The execution was rejected."));
    this.notifyIfEnded(s);
  }

  /** Opens a pending gate for a step (level 3, or an approval step). Inside a tx. */
  private requestStepApproval(s: LoadedState, gate: ApprovalGate, emit: (e: EventSpec) => void): void {
    s.execution.approvals.push(gate);
    this.store.saveApprovals(s.execution);
    this.timers.set("approval_expiry", parseRfc3339(gate.expires_at)!, gate.step_id!);
    emit({ type: "step.waiting", stepId: gate.step_id, data: { attempt: s.steps.get(gate.step_id!)!.attempts, kind: "approval" } });
    emit({ type: "approval.requested", stepId: gate.step_id, data: approvalRequestedData(gate, s.execution.planHash) });
  }

  /** Marks every step that has not ended as cancelled (with its running attempt). Inside a tx. */
  private endOpenSteps(s: LoadedState, _why: "cancelled", error: ErrorInfo, emit: (e: EventSpec) => void): void {
    const now = this.deps.clock.now();
    for (const st of s.steps.values()) {
      if (st.status !== "pending" && st.status !== "running" && st.status !== "waiting") continue;
      if (st.status === "running" || st.status === "waiting") {
        this.store.finishAttempt(st.id, st.attempts, "cancelled", now, undefined, { ...error, step_id: st.id, attempt: st.attempts });
        emit({ type: "step.cancelled", stepId: st.id, data: { attempt: st.attempts, error } });
      }
      this.moveStep(st, "cancel", { endedAt: now, nextAttemptAt: null });
      this.timers.clear("step_retry", st.id);
      this.timers.clear("step_wake", st.id);
    }
  }

  private abortAll(reason: StepError): void {
    for (const f of this.inflight.values()) f.controller.abort(reason);
  }

  // ------------------------------------------------------------------ driving

  /** The alarm's work (and start-up catch-up): run what is due, drive steps, re-arm the alarm. */
  async run(): Promise<void> {
    if (this.driving) return this.driving;
    this.driving = this.drive().finally(() => {
      this.driving = null;
    });
    return this.driving;
  }

  private async drive(): Promise<void> {
    if (!this.load()) return; // no execution here: nothing to drive, and nothing to write
    const started = this.deps.clock.now();
    // A short drive flushes the index once, at its end (one D1 batch for the whole run); a long one
    // (a slow request, many steps) also flushes early so listings show the execution meanwhile.
    const earlyFlush = setTimeout(() => void this.flushOutbox(), EARLY_FLUSH_MS);
    try {
      for (;;) {
        const s = this.load();
        if (!s) return;
        this.fireDueTimers(s);
        const status = s.execution.status;
        if (status !== "running" && !(status === "paused" && this.inflight.size > 0)) break;
        if (status === "running") {
          this.recoverInterrupted(s);
          const progressed = await this.schedule(s);
          if (progressed) continue;
        }
        if (this.inflight.size === 0) {
          if (s.execution.status === "running") this.settleWaiting(s);
          break;
        }
        if (this.deps.clock.now() - started > MAX_DRIVE_MS) break;
        await this.nextSettlement();
      }
    } finally {
      clearTimeout(earlyFlush);
      this.flushBurst();
      await this.flushOutbox();
      await this.rearm();
    }
  }

  /** Waits for the next attempt to settle or the next timer to come due, whichever is first. */
  private async nextSettlement(): Promise<void> {
    this.flushBurst(); // nothing completed stays unwritten while the drive waits
    const waits: Promise<unknown>[] = [...this.inflight.values()].map((f) => f.done);
    const due = this.timers.earliest();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (due !== null) waits.push(new Promise((r) => (timer = setTimeout(r, Math.max(0, due - this.deps.clock.now())))));
    await Promise.race(waits);
    if (timer) clearTimeout(timer);
  }

  private fireDueTimers(s: LoadedState): void {
    const now = this.deps.clock.now();
    for (const timer of this.timers.due(now)) {
      switch (timer.kind) {
        case "execution_timeout":
          this.timeOut(s);
          break;
        case "step_wake":
          this.wake(s, timer.stepId!);
          break;
        case "step_retry":
          this.timers.clear("step_retry", timer.stepId);
          break;
        case "approval_expiry":
          this.expireGate(s, timer.stepId);
          break;
        case "outbox_flush":
          break; // the flush at the end of every drive handles it
      }
    }
  }

  private timeOut(s: LoadedState): void {
    if (isTerminalExecution(s.execution.status)) return;
    const error: ErrorInfo = { code: "EXECUTION_TIMEOUT", message: "The execution ran past its timeout_seconds." };
    this.tx((emit) => {
      this.endOpenSteps(s, "cancelled", error, emit);
      this.moveExecution(s, "time_out", { error });
      emit({ type: "execution.timed_out", data: { error } });
    });
    this.abortAll(new StepError("EXECUTION_TIMEOUT", error.message));
    this.notifyIfEnded(s);
  }

  /** A step's wake timer: a sleep ends, or the answers an input step asked for are overdue. */
  private wake(s: LoadedState, stepId: string): void {
    const st = s.steps.get(stepId);
    this.timers.clear("step_wake", stepId);
    if (!st || st.status !== "waiting") return;
    const def = s.defs.get(stepId)!;
    const now = this.deps.clock.now();
    // An input step's wake is its answers' deadline; any other step's, the end of its sleep.
    const input = def.type === "input" ? def : null;
    this.tx((emit) => {
      if (input && input.on_timeout !== "default") {
        const error: ErrorInfo = { code: "ANSWERS_TIMEOUT", message: "No answers arrived within timeout_seconds.", step_id: st.id, attempt: st.attempts };
        this.store.finishAttempt(st.id, st.attempts, "failed", now, undefined, error);
        this.moveStep(st, "fail", { error, endedAt: now, output: undefined });
        emit({ type: "step.failed", stepId: st.id, data: { attempt: st.attempts, error, tolerated: def.on_error === "continue" } });
      } else {
        const output = input ? defaultAnswers(input.questions) : st.output;
        this.store.finishAttempt(st.id, st.attempts, "completed", now, output, null);
        this.moveStep(st, "complete", { endedAt: now, output });
        const marker = input ? { timed_out: true } : {};
        emit({ type: "step.completed", stepId: st.id, data: { attempt: st.attempts, ...eventValue(output), ...marker } });
      }
      if (s.execution.status === "waiting") this.moveExecution(s, "wake", { waitingFor: null });
    });
  }

  /** A running step with no attempt in flight here was cut off: its attempt failed INTERRUPTED. */
  private recoverInterrupted(s: LoadedState): void {
    for (const st of s.steps.values()) {
      if (st.status !== "running" || this.inflight.has(st.id)) continue;
      const def = s.defs.get(st.id)!;
      const policy = resolveRetryPolicy(def.retry, s.execution.definition.sla_class);
      const error: ErrorInfo = {
        code: "INTERRUPTED",
        message: "The attempt was interrupted (the object restarted while it ran).",
        step_id: st.id,
        attempt: st.attempts,
      };
      const now = this.deps.clock.now();
      const giveUp = st.attempts >= policy.max_attempts + EXTRA_INTERRUPTED_ATTEMPTS;
      this.tx((emit) => {
        this.store.finishAttempt(st.id, st.attempts, "failed", now, undefined, error);
        if (giveUp) {
          this.moveStep(st, "fail", { error, endedAt: now });
          emit({ type: "step.failed", stepId: st.id, data: { attempt: st.attempts, error } });
        } else {
          this.moveStep(st, "interrupt", { nextAttemptAt: null });
          emit({ type: "step.retrying", stepId: st.id, data: { attempt: st.attempts, error, retry_at: isoTime(now) } });
        }
      });
    }
  }

  /**
   * One scheduling round: fail, skip, finish, or start ready steps. Returns true when it changed
   * something that warrants planning again right away.
   */
  private async schedule(s: LoadedState): Promise<boolean> {
    const now = this.deps.clock.now();
    const plan = planNext(s.plan, s.steps, { now, parallelism: s.execution.definition.parallelism ?? DEFAULT_PARALLELISM });
    if (plan.failedBy) {
      this.failExecution(s, plan.failedBy);
      return false;
    }
    if (plan.skip.length > 0) {
      this.tx((emit) => {
        for (const id of plan.skip) {
          this.moveStep(s.steps.get(id)!, "skip", { endedAt: now });
          emit({ type: "step.skipped", stepId: id, data: { reason: "needs_skipped" } });
        }
      });
      return true;
    }
    if (plan.done) {
      await this.finish(s, plan.done);
      return false;
    }
    let progressed = false;
    for (const id of plan.start) {
      if (s.execution.status !== "running") break;
      if (await this.startStep(s, id)) progressed = true;
    }
    return progressed;
  }

  /** Evaluates `if`, then starts an attempt. Returns true when the step was skipped or ended at once. */
  private async startStep(s: LoadedState, id: string): Promise<boolean> {
    const st = s.steps.get(id)!;
    const def = s.defs.get(id)!;
    if (def.if !== undefined) {
      let run: boolean;
      try {
        run = Boolean(await evaluateExpression(def.if, s.scope));
      } catch (err) {
        this.beginAttempt(st);
        this.settle(s, id, st.attempts, { ok: false, error: toStepError(err, "EXPRESSION_ERROR") });
        return true;
      }
      if (s.execution.status !== "running" || st.status !== "pending") return false;
      if (!run) {
        this.tx((emit) => {
          this.moveStep(st, "skip", { endedAt: this.deps.clock.now() });
          emit({ type: "step.skipped", stepId: id, data: { reason: "condition_false" } });
        });
        return true;
      }
    }
    const approval = s.execution.definition.approval;
    if (stepsNeedApproval(approval) && !s.execution.approvals.some((g) => g.kind === "step" && g.step_id === id && g.status === "approved")) {
      const now = this.deps.clock.now();
      this.tx((emit) => {
        this.moveStep(st, "hold");
        this.requestStepApproval(s, pendingGate({ kind: "step", step_id: id, level: 3 }, now, now + gateExpiryMs(approval!, 3)), emit);
      });
      return false;
    }
    const kind = kindOf(def.type, this.deps.kinds);
    if (kind?.pure) return this.runPure(s, st, def, kind);
    const attempt = this.beginAttempt(st);
    if (!kind) {
      const error = new StepError("UNSUPPORTED_STEP_TYPE", `Step type '${def.type}' cannot run in this version of Stepline.`);
      this.settle(s, id, attempt, { ok: false, error });
      return true;
    }
    const controller = new AbortController();
    // Human waits (approval, input) have no attempt timeout here: their expiry is a timer.
    const timeoutMs = kind.waitsFor ? null : stepTimeoutMs(def, s.execution.definition.sla_class);
    const timeout =
      timeoutMs === null
        ? undefined
        : setTimeout(
            () => controller.abort(new StepError("STEP_TIMEOUT", `The attempt ran past ${Math.round(timeoutMs / 1000)} s.`, { retryable: true })),
            timeoutMs,
          );
    const secrets = new AttemptSecrets(this.deps.env);
    const ctx: StepContext = {
      executionId: s.execution.id,
      stepId: id,
      attempt,
      scope: snapshotScope(s.scope),
      signal: controller.signal,
      fetch: this.deps.fetch,
      secrets,
      allowedPrivateHosts: this.allowedPrivateHosts,
      now: () => this.deps.clock.now(),
    };
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    const done = Promise.race([kind.run(def, ctx), aborted])
      .then(
        (outcome): { ok: true; outcome: StepOutcome } => ({ ok: true, outcome }),
        (err: unknown): { ok: false; error: StepError } => ({ ok: false, error: toStepError(err, "STEP_ERROR") }),
      )
      .then((result) => {
        if (timeout !== undefined) clearTimeout(timeout);
        this.inflight.delete(id);
        const current = this.load();
        if (current) this.settle(current, id, attempt, result);
      });
    this.inflight.set(id, { attempt, controller, done });
    return false;
  }

  /**
   * A pure step (see StepKind.pure) runs first and is recorded after: start and completion in
   * one transaction — one step row write, one attempt row, both events — instead of two. A failed
   * attempt goes through the ordinary path (retry policy, events) as if it had just started.
   * Returns true: the step ended (or the execution moved on meanwhile and nothing was recorded).
   */
  private async runPure(s: LoadedState, st: StepRecord, def: Step, kind: StepKind): Promise<boolean> {
    const attempt = st.attempts + 1;
    const startedAt = this.deps.clock.now();
    const secrets = new AttemptSecrets(this.deps.env);
    const ctx: StepContext = {
      executionId: s.execution.id,
      stepId: st.id,
      attempt,
      scope: s.scope,
      signal: new AbortController().signal, // nothing to abort: no I/O, and it is not recorded until it ends
      fetch: this.deps.fetch,
      secrets,
      allowedPrivateHosts: this.allowedPrivateHosts,
      now: () => this.deps.clock.now(),
    };
    let outcome: StepOutcome | null = null;
    let error: StepError | null = null;
    try {
      outcome = await kind.run(def, ctx);
    } catch (err) {
      error = toStepError(err, "STEP_ERROR");
    }
    if (s.execution.status !== "running" || st.status !== "pending") return true; // cancelled, paused, … meanwhile
    if (outcome?.kind !== "completed") {
      this.beginAttempt(st);
      this.settle(s, st.id, attempt, outcome ? { ok: true, outcome } : { ok: false, error: error! });
      return true;
    }
    const output = this.mask(s, outcome.output);
    const endedAt = this.deps.clock.now();
    // Recorded with the burst (see flushBurst): in memory now, so the scheduler sees it completed.
    applyStepCommands(st, ["start", "complete"], { attempts: attempt, startedAt: st.startedAt ?? startedAt, endedAt, output, nextAttemptAt: null, error: null });
    const burst = (this.burst ??= { steps: [], attempts: [], events: [] });
    burst.steps.push(st);
    // A first attempt that succeeded is the step row itself (started_at, ended_at, output): storing
    // it again would only cost rows. `trace` shows it from the step row.
    if (attempt > 1) burst.attempts.push({ stepId: st.id, attempt, startedAt, endedAt, output });
    burst.events.push(
      { type: "step.started", stepId: st.id, data: { attempt }, time: startedAt },
      { type: "step.completed", stepId: st.id, data: { attempt, ...eventValue(output) }, time: endedAt },
    );
    if (burst.steps.length >= MAX_BURST_STEPS) this.flushBurst();
    return true;
  }

  /**
   * Writes the pure steps completed since the last write, in one transaction with a few multi-row
   * statements, and publishes their events. Called before any other transition (so the log stays
   * in order), before the drive waits or ends, and before anyone reads the execution — nothing
   * unwritten is ever shown. If the object dies first, the steps are simply run again: they are pure.
   */
  private flushBurst(): void {
    const burst = this.burst;
    if (!burst) return;
    this.burst = null;
    this.tx((emit) => {
      this.store.saveSteps(burst.steps);
      this.store.insertFinishedAttempts(burst.attempts);
      for (const e of burst.events) emit(e);
    });
  }

  /** pending → running with a new attempt row and a step.started event. */
  private beginAttempt(st: StepRecord): number {
    const now = this.deps.clock.now();
    const attempt = st.attempts + 1;
    this.tx((emit) => {
      this.moveStep(st, "start", { attempts: attempt, startedAt: st.startedAt ?? now, nextAttemptAt: null, error: null });
      this.store.insertAttempt(st.id, attempt, now);
      emit({ type: "step.started", stepId: st.id, data: { attempt } });
    });
    return attempt;
  }

  /** Applies the result of an attempt, unless the step moved on meanwhile (cancel, timeout). */
  private settle(
    s: LoadedState,
    id: string,
    attempt: number,
    result: { ok: true; outcome: StepOutcome } | { ok: false; error: StepError },
  ): void {
    const st = s.steps.get(id);
    if (!st || st.status !== "running" || st.attempts !== attempt) return;
    const def = s.defs.get(id)!;
    const now = this.deps.clock.now();
    if (result.ok) {
      const outcome = result.outcome;
      if (outcome.kind === "ask") {
        // While it waits, the step's output holds the questions asked (prompts rendered).
        const questions = this.mask(s, outcome.questions);
        // Only a kind that waits for answers asks; its timeout_seconds bounds that wait.
        const timeout = def.timeout_seconds;
        this.tx((emit) => {
          this.moveStep(st, "wait", { output: { questions } });
          if (timeout !== undefined) this.timers.set("step_wake", now + timeout * 1000, id);
          emit({ type: "step.waiting", stepId: id, data: { attempt, kind: "answers" } });
          emit({ type: "answers.requested", stepId: id, data: { questions, ...(timeout !== undefined ? { expires_at: isoTime(now + timeout * 1000) } : {}) } });
        });
        return;
      }
      if (outcome.kind === "approval") {
        const expiresAt = now + stepTimeoutMs(def, s.execution.definition.sla_class, s.execution.definition.approval)!;
        const shown = outcome.comment === undefined ? {} : { request_comment: this.mask(s, outcome.comment) };
        this.tx((emit) => {
          this.moveStep(st, "wait");
          this.requestStepApproval(s, pendingGate({ kind: "approval_step", step_id: id, level: outcome.level, ...shown }, now, expiresAt), emit);
        });
        return;
      }
      const output = this.mask(s, outcome.output);
      if (outcome.kind === "sleep") {
        this.tx((emit) => {
          this.moveStep(st, "wait", { output });
          this.timers.set("step_wake", outcome.until, id);
          emit({ type: "step.waiting", stepId: id, data: { attempt, kind: "sleep", until: isoTime(outcome.until) } });
        });
        return;
      }
      this.tx((emit) => {
        this.store.finishAttempt(id, attempt, "completed", now, output, null);
        this.moveStep(st, "complete", { output, endedAt: now });
        emit({ type: "step.completed", stepId: id, data: { attempt, ...eventValue(output) } });
      });
      return;
    }
    const err = result.error;
    const error: ErrorInfo = this.mask(s, { ...err.toInfo(), step_id: id, attempt });
    const policy = resolveRetryPolicy(def.retry, s.execution.definition.sla_class);
    if (shouldRetry(policy, err, attempt)) {
      const retryAt = now + retryDelayMs(policy, attempt, this.deps.random, err.retryAfterMs);
      this.tx((emit) => {
        this.store.finishAttempt(id, attempt, "failed", now, undefined, error);
        this.moveStep(st, "schedule_retry", { error, nextAttemptAt: retryAt });
        this.timers.set("step_retry", retryAt, id);
        emit({ type: "step.retrying", stepId: id, data: { attempt, error, retry_at: isoTime(retryAt) } });
      }, now); // stamped when the attempt ended, so retry_at is never before the event's own time
      return;
    }
    this.tx((emit) => {
      this.store.finishAttempt(id, attempt, "failed", now, undefined, error);
      this.moveStep(st, "fail", { error, endedAt: now });
      emit({ type: "step.failed", stepId: id, data: { attempt, error, tolerated: def.on_error === "continue" } });
    });
  }

  private failExecution(s: LoadedState, stepId: string): void {
    if (s.execution.status !== "running") return;
    const st = s.steps.get(stepId)!;
    const error: ErrorInfo = st.error ?? { code: "STEP_FAILED", message: `Step '${stepId}' failed.`, step_id: stepId, attempt: st.attempts };
    this.tx((emit) => {
      this.endOpenSteps(s, "cancelled", { code: "CANCELLED", message: `Cancelled because step '${stepId}' failed.` }, emit);
      this.moveExecution(s, "fail", { error });
      emit({ type: "execution.failed", data: { error } });
    });
    this.abortAll(new StepError("CANCELLED", `Cancelled because step '${stepId}' failed.`));
    this.notifyIfEnded(s);
  }

  private async finish(s: LoadedState, outcome: "completed" | "partial" | "failed"): Promise<void> {
    let output: unknown;
    const expr = s.execution.definition.output;
    if (expr !== undefined) {
      try {
        output = this.mask(s, await evaluateExpression(expr, s.scope));
      } catch (err) {
        const e = toStepError(err, "EXPRESSION_ERROR");
        const error: ErrorInfo = this.mask(s, { code: e.code, message: `output: ${e.message}` });
        this.tx((emit) => {
          this.moveExecution(s, "fail", { error });
          emit({ type: "execution.failed", data: { error } });
        });
        this.notifyIfEnded(s);
        return;
      }
    }
    if (s.execution.status !== "running") return;
    const command: ExecutionCommand = outcome === "completed" ? "complete" : outcome === "partial" ? "complete_partial" : "fail";
    const type: EventType = outcome === "completed" ? "execution.completed" : outcome === "partial" ? "execution.partial" : "execution.failed";
    this.tx((emit) => {
      this.moveExecution(s, command, { output });
      emit({ type, data: eventValue(output) });
    });
    this.notifyIfEnded(s);
  }

  /**
   * A running execution is `waiting` when nothing is in flight, a step sleeps, and no other step
   * has a retry scheduled (a branch in backoff keeps the execution `running`).
   */
  private shouldWait(s: LoadedState): boolean {
    if (s.execution.status !== "running" || this.inflight.size > 0) return false;
    let sleeping = false;
    for (const st of s.steps.values()) {
      if (st.status === "waiting") sleeping = true;
      if (st.status === "pending" && st.nextAttemptAt !== null) return false;
    }
    return sleeping;
  }

  /** Nothing runs and nothing can start: if a step sleeps, the execution is waiting for it. */
  private settleWaiting(s: LoadedState): void {
    if (!this.shouldWait(s)) return;
    const sleeping = [...s.steps.values()].find((st) => st.status === "waiting");
    if (!sleeping) return;
    const gate = s.execution.approvals.find((g) => g.status === "pending" && g.step_id === sleeping.id);
    const until = this.timers.dueAt("step_wake", sleeping.id);
    const deadline = until !== undefined ? { until: isoTime(until) } : {};
    const waitingFor: WaitingFor = gate
      ? gateWaitingFor(gate, s.execution.planHash)
      : kindOf(s.defs.get(sleeping.id)!.type, this.deps.kinds)?.waitsFor === "answers"
        ? { kind: "answers", step_id: sleeping.id, ...deadline, questions: (sleeping.output as { questions: unknown }).questions }
        : { kind: "sleep", step_id: sleeping.id, ...deadline };
    this.tx((emit) => {
      if (this.moveExecution(s, "wait", { waitingFor })) emit({ type: "execution.waiting", data: { waiting_for: waitingFor } });
    });
  }

  // ------------------------------------------------------------------ index and alarm

  async flushOutbox(): Promise<void> {
    if (!this.schemaReady) return;
    if (this.outbox.pending() === 0) {
      this.timers.clear("outbox_flush");
      return;
    }
    const now = this.deps.clock.now();
    if (await this.outbox.flush(this.deps.d1, now)) {
      this.flushFailures = 0;
      if (this.outbox.pending() === 0) {
        this.timers.clear("outbox_flush");
        const execution = this.load()?.execution;
        if (execution && isTerminalExecution(execution.status)) log("info", "execution.usage", { execution_id: execution.id, ...this.usage() });
      }
    } else {
      this.flushFailures += 1;
      this.timers.set("outbox_flush", now + Math.min(MAX_FLUSH_BACKOFF_MS, 500 * 2 ** (this.flushFailures - 1)));
    }
  }

  /**
   * What this object has written since it started — Durable Object storage rows and D1 rows — the
   * units both are billed in. (Counted in memory: an object restarted mid-run reports only the rest.)
   */
  usage(): { storage_rows_written: number; d1_rows_written: number } {
    return { storage_rows_written: this.sql.rowsWritten, d1_rows_written: this.outbox.d1RowsWritten };
  }

  /**
   * Points the alarm at the earliest timer; a running execution with work left is driven again now
   * — or, when the caller is starting a drive itself (`driveStarting`), only after a grace period:
   * the alarm is then just the net for a drive that never ran (the object died first), and an alarm
   * firing into every drive it started would only compete with it.
   */
  async rearm(opts: { driveStarting?: boolean } = {}): Promise<void> {
    if (!this.schemaReady) return; // an object nobody created has no alarm to set or delete
    const s = this.load();
    let next = this.timers.earliest();
    // Attempts still in flight (a drive that yielded) or work that can start now: come back at once.
    if (s && (this.inflight.size > 0 || (s.execution.status === "running" && this.hasStartableWork(s)))) {
      const at = this.deps.clock.now() + (opts.driveStarting ? DRIVE_GRACE_MS : 0);
      next = next === null ? at : Math.min(next, at);
    }
    if (next === null) await this.deps.storage.deleteAlarm();
    else await this.deps.storage.setAlarm(this.deps.clock.toWallTime(next));
  }

  /** True when a drive now would change something (so the alarm must fire now, not at a timer). */
  private hasStartableWork(s: LoadedState): boolean {
    for (const st of s.steps.values()) {
      if (st.status === "running" && !this.inflight.has(st.id)) return true; // cut off: recover it
    }
    if (this.shouldWait(s)) return true; // e.g. resumed while a step sleeps: settle to `waiting`
    const plan = planNext(s.plan, s.steps, { now: this.deps.clock.now(), parallelism: s.execution.definition.parallelism ?? DEFAULT_PARALLELISM });
    return plan.start.length > 0 || plan.skip.length > 0 || plan.done !== null || plan.failedBy !== null;
  }
}
