/**
 * Attempts: starting a step (its `if`, its approval gate, its kind's `run` under an AbortController
 * and its timeout), pure steps run first and written in bursts, and settling an attempt's result.
 * What each move records is decided in engine/outcomes.ts (an outcome through `outcomeDeciders`,
 * an error through the retry policy) and applied by `ExecutionRuntime.apply`.
 */
import { gateExpiryMs, pendingGate, stepsNeedApproval } from "../../engine/approvals";
import { NonRetriableError, StepError, toStepError } from "../../engine/errors";
import { evaluateExpression, renderTemplate } from "../../engine/evaluate";
import { signalOutput, type Signal } from "../../engine/signals";
import { callbackUrl, signCallbackToken } from "../../lib/callback-token";
import type { Decision } from "../../engine/decision";
import { decideFailure, decideHold, decideOutcome, decideSkip, decideStart, eventValue, type Settling } from "../../engine/outcomes";
import { stepTimeoutMs } from "../../engine/retry";
import { kindOf } from "../../engine/steps/registry";
import type { ExpressionScope, SecretResolver, StepContext, StepKind, StepOutcome } from "../../engine/steps/types";
import { BudgetShortfall, budgetWarning, crossesWarning, decideBudgetWait, EXECUTION_BUDGET_ID, NO_BUDGET } from "../../engine/budget";
import type { EventSpec } from "../../engine/model";
import { addUsage, UsageMeter, usageEntries, type UsageCall } from "../../engine/usage";
import type { AttemptBudget } from "./budgets";
import type { Step } from "../../schemas/definition";
import type { StepRecord } from "../storage/state-store";
import { settlingOf, workerSecret } from "./loaded-state";
import { applyStepCommands, type ExecutionRuntime, type LoadedState } from "./runtime";
import type { Children } from "./children";
import { MapRuns, type ItemContexts } from "./map-runs";

/** The meter of pure steps: they call nothing and declare no cost (a costed step never runs as pure). */
const UNMETERED = new UsageMeter({});

type AttemptResult = { ok: true; outcome: StepOutcome } | { ok: false; error: StepError };

/** Pure steps written per transaction at most (a long chain of them is written in slices). */
const MAX_BURST_STEPS = 32;

function snapshotScope(scope: ExpressionScope): ExpressionScope {
  const steps: ExpressionScope["steps"] = {};
  for (const [id, view] of Object.entries(scope.steps)) steps[id] = { output: view.output, status: view.status };
  return { input: scope.input, steps, execution: { ...scope.execution } };
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

/** An event step that starts waiting takes the oldest signal kept for its name: it completes with it at once. */
function takeKeptSignal(c: Settling, kept: Signal & { seq: number }): Decision {
  const d = decideOutcome(c, { kind: "completed", output: signalOutput(kept) });
  return { ...d, signals: { take: [kept.seq] } };
}

export class Attempts implements ItemContexts {
  /** Map steps' items: their runner uses this class's step contexts. */
  readonly maps: MapRuns;

  constructor(
    private readonly rt: ExecutionRuntime,
    private readonly children: Children,
  ) {
    this.maps = new MapRuns(rt, this);
  }

  /** Evaluates `if`, then starts an attempt. Returns true when the step was skipped or ended at once. */
  async startStep(s: LoadedState, id: string): Promise<boolean> {
    const st = s.steps.get(id)!;
    const def = s.defs.get(id)!;
    if (def.if !== undefined) {
      let run: boolean;
      try {
        run = Boolean(await evaluateExpression(def.if, s.scope));
      } catch (err) {
        this.beginAttempt(s, st);
        this.settle(s, id, st.attempts, { ok: false, error: toStepError(err, "EXPRESSION_ERROR") });
        return true;
      }
      if (s.execution.status !== "running" || st.status !== "pending") return false;
      if (!run) {
        this.rt.apply(s, decideSkip(st, this.rt.deps.clock.now()));
        return true;
      }
    }
    const approval = s.execution.definition.approval;
    if (stepsNeedApproval(approval) && !s.execution.approvals.some((g) => g.kind === "step" && g.step_id === id && g.status === "approved")) {
      const now = this.rt.deps.clock.now();
      const gate = pendingGate({ kind: "step", step_id: id, level: 3 }, now, now + gateExpiryMs(approval!, 3));
      this.rt.apply(s, decideHold(st, gate, s.execution.planHash));
      return false;
    }
    if (def.type === "map") {
      const attempt = this.beginAttempt(s, st);
      return this.maps.begin(s, st, (error) => this.settle(s, id, attempt, { ok: false, error }));
    }
    const kind = kindOf(def.type, this.rt.deps.kinds);
    // A costed step is recorded attempt by attempt, with its ledger records: never in a burst.
    if (kind?.pure && def.cost_usd === undefined && def.max_cost_usd === undefined) return this.runPure(s, st, def, kind);
    const attempt = this.beginAttempt(s, st);
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
    const deadlineAt = timeoutMs === null ? null : this.rt.deps.clock.now() + timeoutMs;
    const ctx = this.context(s, id, attempt, snapshotScope(s.scope), controller.signal, deadlineAt);
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    const done = Promise.race([this.runCosted(def, kind, ctx), aborted])
      .then(
        (outcome): AttemptResult => ({ ok: true, outcome }),
        (err: unknown): AttemptResult => ({ ok: false, error: toStepError(err, "STEP_ERROR") }),
      )
      .then((result) => {
        if (timeout !== undefined) clearTimeout(timeout);
        const guard = ctx.budget as AttemptBudget;
        this.rt.inflight.delete(id);
        const current = this.rt.load();
        if (current) this.settle(current, id, attempt, result, ctx.usage.calls, guard.warnings);
        this.rt.budgets.releaseOwn(guard);
        this.rt.budgets.attemptEnded(guard);
      });
    this.rt.inflight.set(id, { attempt, controller, done });
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
    const startedAt = this.rt.deps.clock.now();
    // Nothing to abort: no I/O, and it is not recorded until it ends.
    const ctx = this.context(s, st.id, attempt, s.scope, new AbortController().signal, null, false);
    let outcome: StepOutcome | null = null;
    let error: StepError | null = null;
    try {
      outcome = await kind.run(def, ctx);
    } catch (err) {
      error = toStepError(err, "STEP_ERROR");
    }
    if (s.execution.status !== "running" || st.status !== "pending") return true; // cancelled, paused, … meanwhile
    if (outcome?.kind !== "completed") {
      this.beginAttempt(s, st);
      this.settle(s, st.id, attempt, outcome ? { ok: true, outcome } : { ok: false, error: error! });
      return true;
    }
    const output = this.rt.mask(s, outcome.output);
    const endedAt = this.rt.deps.clock.now();
    // Recorded with the burst (see flushBurst): in memory now, so the scheduler sees it completed.
    applyStepCommands(st, ["start", "complete"], { attempts: attempt, startedAt: st.startedAt ?? startedAt, endedAt, output, nextAttemptAt: null, error: null });
    const burst = (this.rt.burst ??= { steps: [], attempts: [], events: [] });
    burst.steps.push(st);
    // A first attempt that succeeded is the step row itself (started_at, ended_at, output): storing
    // it again would only cost rows. `trace` shows it from the step row.
    if (attempt > 1) burst.attempts.push({ stepId: st.id, attempt, startedAt, endedAt, output });
    burst.events.push(
      { type: "step.started", stepId: st.id, data: { attempt }, time: startedAt },
      { type: "step.completed", stepId: st.id, data: { attempt, ...eventValue(output) }, time: endedAt },
    );
    if (burst.steps.length >= MAX_BURST_STEPS) this.rt.flushBurst();
    return true;
  }

  /** What a map item's sub-step gets for one attempt (never costed: llm items do not run yet). */
  itemContext(s: LoadedState, stepId: string, attempt: number, index: number, scope: ExpressionScope, signal: AbortSignal, deadlineAt: number | null): StepContext {
    return { ...this.context(s, stepId, attempt, scope, signal, deadlineAt, false), children: this.children.starter(s, stepId, attempt, index) };
  }

  /** What a kind's `run` gets for one attempt. */
  /** `costed`: false for a pure step, which is never costed (no meter or budget of its own needed). */
  private context(s: LoadedState, stepId: string, attempt: number, scope: ExpressionScope, signal: AbortSignal, deadlineAt: number | null, costed = true): StepContext {
    return {
      executionId: s.execution.id,
      stepId,
      attempt,
      scope,
      signal,
      fetch: this.rt.deps.fetch,
      secrets: new AttemptSecrets(this.rt.deps.env),
      allowedPrivateHosts: this.rt.allowedPrivateHosts,
      now: () => this.rt.deps.clock.now(),
      deadlineAt,
      llm: this.rt.llm,
      usage: costed ? new UsageMeter(s.execution.prices) : UNMETERED,
      budget: costed ? this.rt.budgets.guard(s, stepId, attempt) : NO_BUDGET,
      callbackUrl: async (timeoutSeconds) => {
        const e = s.execution;
        const expiresAt = timeoutSeconds !== undefined ? this.rt.deps.clock.now() + timeoutSeconds * 1000 : (e.deadlineAt ?? this.rt.deps.clock.now());
        const token = await signCallbackToken(this.rt.deps.env.STREAM_TOKEN_SECRET, { tenant: e.tenant, executionId: e.id, stepId, attempt, expiresAt });
        return callbackUrl(e.origin, token);
      },
      children: this.children.starter(s, stepId, attempt),
    };
  }

  /**
   * The kind's `run`, then the step's declared `cost_usd` (a number, or `{{ expr }}` over its
   * `output`) on the attempt's meter. A cost that is not a non-negative number fails the attempt.
   */
  private async runCosted(def: Step, kind: StepKind, ctx: StepContext): Promise<StepOutcome> {
    // Under a budget, a declared cost is reserved first: `max_cost_usd`, or a `cost_usd` number.
    const most = def.max_cost_usd ?? (typeof def.cost_usd === "number" ? def.cost_usd : undefined);
    const reservation = most !== undefined && ctx.budget.active ? await ctx.budget.reserve(most) : null;
    let declared: number | null = null;
    try {
      const outcome = await kind.run(def, ctx);
      if (def.cost_usd === undefined || outcome.kind !== "completed") return outcome;
      const cost = await renderTemplate(def.cost_usd, { ...ctx.scope, output: outcome.output }, undefined, "cost_usd");
      if (typeof cost !== "number" || !Number.isFinite(cost) || cost < 0) {
        throw new NonRetriableError("EXPRESSION_ERROR", `cost_usd must be a non-negative number of USD, not ${JSON.stringify(cost) ?? "undefined"}`);
      }
      declared = ctx.usage.declared(cost).cost_usd;
      return outcome;
    } finally {
      reservation?.settle(declared);
    }
  }

  /** pending → running with a new attempt row and a step.started event. */
  private beginAttempt(s: LoadedState, st: StepRecord): number {
    this.rt.apply(s, decideStart(st, this.rt.deps.clock.now()));
    return st.attempts;
  }

  /** Applies the result of an attempt (decided in engine/outcomes.ts), unless the step moved on meanwhile (cancel, timeout). */
  settle(s: LoadedState, id: string, attempt: number, result: AttemptResult, usage: readonly UsageCall[] = [], warnings: readonly EventSpec[] = []): void {
    const st = s.steps.get(id);
    if (!st || st.status !== "running" || st.attempts !== attempt) return;
    const c = settlingOf(s, st, attempt, this.rt.deps.clock.now());
    const pause = !result.ok && result.error instanceof BudgetShortfall && result.error.onExceed === "pause";
    const kept = result.ok && result.outcome.kind === "event" ? this.rt.store.oldestSignal(result.outcome.event) : null;
    const decision = kept
      ? takeKeptSignal(c, kept)
      : result.ok
      ? decideOutcome(c, result.outcome)
      : pause
        ? decideBudgetWait(st, attempt, result.error as BudgetShortfall, c.now)
        : decideFailure(c, result.error, this.rt.deps.random);
    // Every call the attempt made is billed, whether it succeeded or not.
    if (usage.length > 0) {
      decision.usage = usageEntries(usage, id, attempt, c.now);
      const own = s.execution.budget;
      const before = s.execution.cost.total_usd;
      const after = addUsage(s.execution.cost, decision.usage).total_usd;
      if (own && crossesWarning(own.max_usd, before, after)) {
        decision.events.push(budgetWarning("threshold", { id: EXECUTION_BUDGET_ID, max_usd: own.max_usd, spent_usd: after }));
      }
    }
    if (warnings.length > 0) decision.events.push(...warnings);
    this.rt.apply(s, decision);
  }
}
