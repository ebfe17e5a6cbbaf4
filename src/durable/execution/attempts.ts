/**
 * Attempts: starting a step (its `if`, its approval gate, its kind's `run` under an AbortController
 * and its timeout), pure steps run first and written in bursts, and settling an attempt's result.
 * What each move records is decided in engine/outcomes.ts (an outcome through `outcomeDeciders`,
 * an error through the retry policy) and applied by `ExecutionRuntime.apply`.
 */
import { gateExpiryMs, pendingGate, stepsNeedApproval } from "../../engine/approvals";
import { StepError, toStepError } from "../../engine/errors";
import { evaluateExpression } from "../../engine/evaluate";
import { decideFailure, decideHold, decideOutcome, decideSkip, decideStart, eventValue, type Settling } from "../../engine/outcomes";
import { stepTimeoutMs } from "../../engine/retry";
import { kindOf } from "../../engine/steps/registry";
import type { ExpressionScope, SecretResolver, StepContext, StepKind, StepOutcome } from "../../engine/steps/types";
import type { Step } from "../../schemas/definition";
import type { StepRecord } from "../storage/state-store";
import { applyStepCommands, workerSecret, type ExecutionRuntime, type LoadedState } from "./runtime";

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

export class Attempts {
  constructor(private readonly rt: ExecutionRuntime) {}

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
    const kind = kindOf(def.type, this.rt.deps.kinds);
    if (kind?.pure) return this.runPure(s, st, def, kind);
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
    const secrets = new AttemptSecrets(this.rt.deps.env);
    const ctx: StepContext = {
      executionId: s.execution.id,
      stepId: id,
      attempt,
      scope: snapshotScope(s.scope),
      signal: controller.signal,
      fetch: this.rt.deps.fetch,
      secrets,
      allowedPrivateHosts: this.rt.allowedPrivateHosts,
      now: () => this.rt.deps.clock.now(),
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
        this.rt.inflight.delete(id);
        const current = this.rt.load();
        if (current) this.settle(current, id, attempt, result);
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
    const secrets = new AttemptSecrets(this.rt.deps.env);
    const ctx: StepContext = {
      executionId: s.execution.id,
      stepId: st.id,
      attempt,
      scope: s.scope,
      signal: new AbortController().signal, // nothing to abort: no I/O, and it is not recorded until it ends
      fetch: this.rt.deps.fetch,
      secrets,
      allowedPrivateHosts: this.rt.allowedPrivateHosts,
      now: () => this.rt.deps.clock.now(),
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

  /** pending → running with a new attempt row and a step.started event. */
  private beginAttempt(s: LoadedState, st: StepRecord): number {
    this.rt.apply(s, decideStart(st, this.rt.deps.clock.now()));
    return st.attempts;
  }

  /** Applies the result of an attempt (decided in engine/outcomes.ts), unless the step moved on meanwhile (cancel, timeout). */
  settle(
    s: LoadedState,
    id: string,
    attempt: number,
    result: { ok: true; outcome: StepOutcome } | { ok: false; error: StepError },
  ): void {
    const st = s.steps.get(id);
    if (!st || st.status !== "running" || st.attempts !== attempt) return;
    const c: Settling = {
      step: st,
      def: s.defs.get(id)!,
      attempt,
      now: this.rt.deps.clock.now(),
      workflow: s.execution.definition,
      planHash: s.execution.planHash,
      secrets: s.secretValues,
    };
    this.rt.apply(s, result.ok ? decideOutcome(c, result.outcome) : decideFailure(c, result.error, this.rt.deps.random));
  }
}
