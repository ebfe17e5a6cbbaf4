/**
 * Dry runs (SPEC §10, `POST /v1/workflows/{id}/test`): an execution played out in memory, decided
 * by the same pure code as a real run — `decideCreate`, `planNext`, `decideStart`/`decideOutcome`/
 * `decideFailure` (the retry policy), `decideWake`, `decideApproval`, `decideAnswer`,
 * `decideSignal`, `decideEnd` — applied to in-memory records (./dry-run-records.ts) instead of
 * the Durable Object's storage. Where a real attempt calls its kind's `run`, a dry run calls its
 * `simulate` (or takes the request's mock), so nothing leaves the service.
 *
 * - Mocks: a mocked step's every attempt ends with the mock — `{ output }` completes it,
 *   `{ error }` fails it through its retry policy (retryable unless `retryable: false`).
 * - Time: the dry run has its own clock. When nothing can start, it jumps to the earliest timer
 *   (a retry's backoff, a wait's end, a human wait's timeout, the execution's timeout) and fires
 *   it as the drive would: waits are fast-forwarded, never slept.
 * - People: a pending approval gate (workflow level 1-3, or an approval step) is decided at once by
 *   `approve`. An input step waiting for answers takes `answers[step_id]` (checked before the run);
 *   an event step waiting for `event` takes `signals[event]` (once). Without them the wait is
 *   fast-forwarded to its timeout (`on_timeout` decides; with no timeout, the execution's).
 * - Not modelled: costs and budgets (nothing is called, so nothing is spent), concurrency keys
 *   (nothing queues), parallelism (attempts end at once, one after another, in plan order).
 */
import { gateExpiryMs, pendingGate, stepsNeedApproval } from "./approvals";
import { DryRunRecords, type DryRunEvent } from "./dry-run-records";
import { NonRetriableError, StepError, toStepError, type ErrorInfo } from "./errors";
import { evaluateExpression } from "./evaluate";
import { decideAnswer, decideCreate, decideEnd, decideFailed, decideStepFailedExecution, decideTimeout } from "./execution-moves";
import { referencedSecrets } from "./expressions";
import { decideApproval, decideGateExpiry } from "./human-moves";
import type { ExecutionRecord, StepRecord } from "./model";
import { decideFailure, decideHold, decideNeedsSkipped, decideOutcome, decideSkip, decideStart, decideWake, masked, type Settling } from "./outcomes";
import { compilePlan, planNext } from "./scheduler";
import { decideSignal } from "./signals";
import { isTerminalExecution } from "./state-machine";
import { kindOf, stepKinds } from "./steps/registry";
import type { LlmEndpoint, SecretResolver, StepContext, StepKinds, StepOutcome, WouldSend } from "./steps/types";
import { NO_BUDGET } from "./budget";
import { UsageMeter } from "./usage";
import type { EventStep, Step, WorkflowDefinition } from "../schemas/definition";
import type { TimerKind } from "../schemas/vocabulary";
import { DEFAULT_PARALLELISM } from "../schemas/limits";

export type { DryRunEvent };

/** What a mocked step's attempts end with. */
export type DryRunMock = { output: unknown } | { error: { code: string; message: string; retryable?: boolean | undefined } };

export interface DryRunRequest {
  /** The id the steps see (`execution.id`, an http step's Idempotency-Key). */
  executionId: string;
  tenant: string;
  workflowId: string;
  workflowVersion: number;
  definitionHash: string;
  definition: WorkflowDefinition;
  input: unknown;
  planHash: string;
  mocks: Readonly<Record<string, DryRunMock>>;
  /** Answers by input step id, already checked (see `StepAnswers.check`). */
  answers: Readonly<Record<string, Record<string, unknown>>>;
  /** How every approval gate is decided. */
  approve: boolean;
  /** Signal data by event name. */
  signals: Readonly<Record<string, unknown>>;
}

/** What the dry run runs on: its clock's start, randomness (retry jitter), secrets and outbound settings. */
export interface DryRunEnvironment {
  now: number;
  random: () => number;
  secret(name: string): string | undefined;
  llm: LlmEndpoint;
  allowedPrivateHosts: readonly string[];
  kinds?: StepKinds;
}

export interface DryRunStep {
  id: string;
  type: Step["type"];
  status: StepRecord["status"];
  attempts: number;
  output?: unknown;
  error?: ErrorInfo;
  mocked: boolean;
  would_send?: WouldSend;
}

export interface DryRunResult {
  status: ExecutionRecord["status"];
  output?: unknown;
  error?: ErrorInfo;
  steps: DryRunStep[];
  events: DryRunEvent[];
}

/** Who decided a gate in a dry run (an approver's key id in a real one). */
export const DRY_RUN_APPROVER = "dry-run";

/** More scheduling rounds than any definition within the limits needs: reaching it is a bug, not a slow run. */
const MAX_ROUNDS = 100_000;

type AttemptResult = { ok: true; outcome: StepOutcome } | { ok: false; error: StepError };

export async function dryRun(req: DryRunRequest, env: DryRunEnvironment): Promise<DryRunResult> {
  return new DryRun(req, env).run();
}

class DryRun {
  private readonly r: DryRunRecords;
  private readonly defs: Map<string, Step>;
  private readonly kinds: StepKinds;
  private readonly secretValues: string[];
  private readonly wouldSend = new Map<string, WouldSend>();
  /** Steps an attempt of which took its mock (a mocked step that was skipped took none). */
  private readonly mocked = new Set<string>();
  private readonly signalsLeft: Map<string, unknown>;

  constructor(
    private readonly req: DryRunRequest,
    private readonly env: DryRunEnvironment,
  ) {
    const def = req.definition;
    this.r = new DryRunRecords(def.steps.map((s) => s.id), env.now);
    this.defs = new Map(def.steps.map((s) => [s.id, s]));
    this.kinds = env.kinds ?? stepKinds;
    this.secretValues = referencedSecrets(def)
      .map((name) => env.secret(name))
      .filter((v): v is string => v !== undefined && v !== "");
    this.signalsLeft = new Map(Object.entries(req.signals));
  }

  async run(): Promise<DryRunResult> {
    const { req, r } = this;
    r.apply(
      decideCreate(
        {
          id: req.executionId,
          tenant: req.tenant,
          workflowId: req.workflowId,
          workflowVersion: req.workflowVersion,
          definitionHash: req.definitionHash,
          definition: req.definition,
          input: req.input,
          labels: {},
          requestHash: null,
          planHash: req.planHash,
          audit: null,
          prices: {},
          budget: null,
          budgetIds: [],
          concurrency: null,
          origin: null,
          parent: null,
          depth: 1,
          childVersions: {},
        },
        r.now,
      ),
    );
    const plan = compilePlan(req.definition.steps);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      this.decideGates();
      if (isTerminalExecution(r.execution.status)) return this.result();
      const e = r.execution;
      const next = planNext(plan, r.steps, { now: r.now, parallelism: e.definition.parallelism ?? DEFAULT_PARALLELISM });
      if (next.failedBy) {
        const st = r.steps.get(next.failedBy)!;
        const error: ErrorInfo = st.error ?? { code: "STEP_FAILED", message: `Step '${st.id}' failed.`, step_id: st.id, attempt: st.attempts };
        r.apply(decideStepFailedExecution(r.steps.values(), st.id, error, r.now));
      } else if (next.skip.length > 0) {
        r.apply(decideNeedsSkipped(next.skip, r.now));
      } else if (next.done) {
        await this.finish(next.done);
      } else if (next.start.length > 0) {
        for (const id of next.start) await this.startStep(id);
      } else {
        this.fastForward();
      }
    }
    throw new Error(`the dry run did not end within ${MAX_ROUNDS} rounds`);
  }

  /** Every pending approval gate is decided at once, as the request says. */
  private decideGates(): void {
    const { r } = this;
    for (;;) {
      if (isTerminalExecution(r.execution.status)) return;
      const index = r.execution.approvals.findIndex((g) => g.status === "pending");
      if (index < 0) return;
      r.apply(decideApproval(r.execution, r.steps, index, this.req.approve ? "approve" : "reject", DRY_RUN_APPROVER, undefined, null, r.now));
    }
  }

  /** Nothing can start: the clock jumps to the earliest timer, which fires as the drive's would. */
  private fastForward(): void {
    const { r } = this;
    const timer = r.earliestTimer();
    // The execution's timeout is always set until it ends, so a live execution always has one.
    if (!timer) throw new Error("a live dry run has no timer to fast-forward to");
    r.now = Math.max(r.now, timer.dueAt);
    this.onTimer[timer.kind](timer.stepId);
  }

  /** What each kind of timer does when the clock reaches it (see the drive's `onTimer`). */
  private readonly onTimer: Record<TimerKind, (stepId: string | null) => void> = {
    execution_timeout: () => {
      const error: ErrorInfo = { code: "EXECUTION_TIMEOUT", message: "The execution ran past its timeout_seconds." };
      this.r.apply(decideTimeout(this.r.steps.values(), error, this.r.now));
    },
    step_wake: (stepId) => {
      const { r } = this;
      r.clearTimer("step_wake", stepId);
      const st = r.steps.get(stepId!)!;
      if (st.status === "waiting") r.apply(decideWake(st, this.defs.get(st.id)!, r.execution.status, r.now, this.kinds));
    },
    step_retry: (stepId) => this.r.clearTimer("step_retry", stepId),
    approval_expiry: (stepId) => this.r.apply(decideGateExpiry(this.r.execution, this.r.steps, stepId, false, this.r.now)),
    outbox_flush: (stepId) => this.r.clearTimer("outbox_flush", stepId),
    queue_timeout: (stepId) => this.r.clearTimer("queue_timeout", stepId),
  };

  /** As the object's `startStep`: `if`, a level-3 approval, then one attempt. */
  private async startStep(id: string): Promise<void> {
    const { r } = this;
    const st = r.steps.get(id)!;
    const def = this.defs.get(id)!;
    if (def.if !== undefined) {
      let run: boolean;
      try {
        run = Boolean(await evaluateExpression(def.if, r.scope()));
      } catch (err) {
        r.apply(decideStart(st, r.now));
        this.settle(st, def, { ok: false, error: toStepError(err, "EXPRESSION_ERROR") });
        return;
      }
      if (!run) return r.apply(decideSkip(st, r.now));
    }
    const approval = r.execution.definition.approval;
    if (stepsNeedApproval(approval) && !r.execution.approvals.some((g) => g.kind === "step" && g.step_id === id && g.status === "approved")) {
      const gate = pendingGate({ kind: "step", step_id: id, level: 3 }, r.now, r.now + gateExpiryMs(approval!, 3));
      return r.apply(decideHold(st, gate, r.execution.planHash));
    }
    r.apply(decideStart(st, r.now));
    this.settle(st, def, await this.attempt(st, def));
  }

  /** One attempt: the mock, or the kind's `simulate` (never `run`). */
  private async attempt(st: StepRecord, def: Step): Promise<AttemptResult> {
    const mock = this.req.mocks[st.id];
    if (mock) {
      this.mocked.add(st.id);
      if ("error" in mock) return { ok: false, error: new StepError(mock.error.code, mock.error.message, { retryable: mock.error.retryable ?? true }) };
      return { ok: true, outcome: { kind: "completed", output: mock.output } };
    }
    const kind = kindOf(def.type, this.kinds);
    if (!kind) return { ok: false, error: new NonRetriableError("UNSUPPORTED_STEP_TYPE", `Step type '${def.type}' cannot run in this version of Stepline.`) };
    try {
      const simulation = await kind.simulate(def, this.context(st));
      if (simulation.would_send) this.wouldSend.set(st.id, masked(this.secretValues, simulation.would_send));
      return { ok: true, outcome: simulation.outcome };
    } catch (err) {
      return { ok: false, error: toStepError(err, "STEP_ERROR") };
    }
  }

  /** The attempt's result through `decideOutcome` or the retry policy; a step left waiting is answered from the request. */
  private settle(st: StepRecord, def: Step, result: AttemptResult): void {
    const { r } = this;
    const c: Settling = { step: st, def, attempt: st.attempts, now: r.now, workflow: r.execution.definition, planHash: r.execution.planHash, secrets: this.secretValues };
    r.apply(result.ok ? decideOutcome(c, result.outcome) : decideFailure(c, result.error, this.env.random));
    if (st.status === "waiting") this.answerWait(st, def);
  }

  /** A step waiting for answers or a signal takes them from the request, if it has them. */
  private answerWait(st: StepRecord, def: Step): void {
    const { r } = this;
    const kind = kindOf(def.type, this.kinds);
    const given = this.req.answers[st.id];
    if (kind?.answers && given !== undefined) {
      const checked = kind.answers.check(def, given);
      // The service checked them before the run: a problem here is a bug.
      if (!checked.ok) throw new Error(`answers to '${st.id}' were not checked: ${JSON.stringify(checked.problems)}`);
      return r.apply(decideAnswer(r.execution, st, masked(this.secretValues, checked.answers), null, r.now));
    }
    const event = kind?.signals ? (def as EventStep).event : undefined;
    if (event !== undefined && this.signalsLeft.has(event)) {
      const data = masked(this.secretValues, this.signalsLeft.get(event));
      this.signalsLeft.delete(event); // a signal is taken once, as a real one is
      r.apply(decideSignal(r.execution, st, { event, data, receivedAt: r.now, via: "signal" }, null, r.now));
    }
  }

  /** As the drive's `finish`: the output expression, then the end. */
  private async finish(outcome: "completed" | "partial" | "failed"): Promise<void> {
    const { r } = this;
    const expr = r.execution.definition.output;
    let output: unknown;
    if (expr !== undefined) {
      try {
        output = masked(this.secretValues, await evaluateExpression(expr, r.scope()));
      } catch (err) {
        const e = toStepError(err, "EXPRESSION_ERROR");
        return r.apply(decideFailed(masked(this.secretValues, { code: e.code, message: `output: ${e.message}` })));
      }
    }
    r.apply(decideEnd(outcome, output));
  }

  /** What `simulate` gets: the object's context, with nothing that reaches out. */
  private context(st: StepRecord): StepContext {
    const used = new Set<string>();
    const secrets: SecretResolver = {
      used,
      get: (name) => {
        const value = this.env.secret(name);
        if (value !== undefined && value.length > 0) used.add(value);
        return value;
      },
    };
    return {
      executionId: this.req.executionId,
      stepId: st.id,
      attempt: st.attempts,
      scope: this.r.scope(),
      signal: new AbortController().signal,
      // No kind's simulate sends; a plugin that tries is refused.
      fetch: () => Promise.reject(new NonRetriableError("NETWORK_ERROR", "A dry run sends no requests.")),
      secrets,
      allowedPrivateHosts: this.env.allowedPrivateHosts,
      now: () => this.r.now,
      deadlineAt: null,
      llm: this.env.llm,
      usage: new UsageMeter({}),
      budget: NO_BUDGET,
      // A dry run issues no callback URL: nothing could deliver to it.
      callbackUrl: () => Promise.resolve(""),
      children: { prepare: () => Promise.reject(new NonRetriableError("FEATURE_NOT_AVAILABLE", "A dry run starts no child execution.")) },
    };
  }

  private result(): DryRunResult {
    const e = this.r.execution;
    const steps = this.req.definition.steps.map((def): DryRunStep => {
      const st = this.r.steps.get(def.id)!;
      const sent = this.wouldSend.get(def.id);
      return {
        id: def.id,
        type: def.type,
        status: st.status,
        attempts: st.attempts,
        ...(st.output !== undefined ? { output: st.output } : {}),
        ...(st.error ? { error: st.error } : {}),
        mocked: this.mocked.has(def.id),
        ...(sent ? { would_send: sent } : {}),
      };
    });
    return {
      status: e.status,
      ...(e.output !== undefined ? { output: e.output } : {}),
      ...(e.error ? { error: e.error } : {}),
      steps,
      events: this.r.events,
    };
  }
}
