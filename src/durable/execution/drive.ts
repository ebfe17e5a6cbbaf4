/**
 * The drive loop and the timers behind the one alarm: fire due timers (through `onTimer`, one
 * handler per `TimerKind`), recover cut-off attempts, plan, start ready steps, await the next
 * settlement or timer, repeat; then flush the index (outbox) and re-arm the alarm.
 */
import { budgetWaitOf } from "../../engine/budget";
import { StepError, toStepError, type ErrorInfo } from "../../engine/errors";
import { evaluateExpression } from "../../engine/evaluate";
import { planNext } from "../../engine/scheduler";
import { isTerminalExecution } from "../../engine/state-machine";
import { kindOf } from "../../engine/steps/registry";
import { awaitedChild } from "../../engine/children";
import { DEFAULT_PARALLELISM } from "../../schemas/limits";
import type { WaitingFor } from "../../schemas/executions";
import type { EventStep } from "../../schemas/definition";
import { log } from "../../lib/log";
import { isoTime } from "../../lib/time";
import type { Timer } from "../storage/timer-store";
import type { TimerKind } from "../../schemas/vocabulary";
import type { Attempts } from "./attempts";
import { gateWaitingFor } from "../../engine/approvals";
import type { HumanWaits } from "./human-waits";
import type { ExecutionSlots } from "./slots";
import type { Children } from "./children";
import { QUEUE_TIMEOUT } from "../../engine/slots";
import { decideEnd, decideFailed, decideStepFailedExecution, decideTimeout, decideWaiting } from "../../engine/execution-moves";
import { decideInterrupted, decideNeedsSkipped, decideWake } from "../../engine/outcomes";
import type { ExecutionRuntime, LoadedState } from "./runtime";

/** An alarm invocation yields (re-arming the alarm) after this long, so one execution cannot hog its object. */
const MAX_DRIVE_MS = 30_000;
const MAX_FLUSH_BACKOFF_MS = 60_000;
/** How long the alarm waits behind a drive the object starts itself before it takes over. */
const DRIVE_GRACE_MS = 5_000;
/** A drive still running after this long flushes the index without waiting for its end. */
const EARLY_FLUSH_MS = 250;

export class Drive {
  private driving: Promise<void> | null = null;
  private flushFailures = 0;

  constructor(
    private readonly rt: ExecutionRuntime,
    private readonly attempts: Attempts,
    private readonly humanWaits: HumanWaits,
    private readonly slots: ExecutionSlots,
    private readonly children: Children,
  ) {}

  /** The alarm's work (and start-up catch-up): run what is due, drive steps, re-arm the alarm. */
  async run(): Promise<void> {
    if (this.driving) return this.driving;
    this.driving = this.drive().finally(() => {
      this.driving = null;
    });
    return this.driving;
  }

  private async drive(): Promise<void> {
    if (!this.rt.load()) return; // no execution here: nothing to drive, and nothing to write
    const started = this.rt.deps.clock.now();
    // A short drive flushes the index once, at its end (one D1 batch for the whole run); a long one
    // (a slow request, many steps) also flushes early so listings show the execution meanwhile.
    const earlyFlush = setTimeout(() => void this.flushOutbox(), EARLY_FLUSH_MS);
    try {
      for (;;) {
        const s = this.rt.load();
        if (!s) return;
        this.fireDueTimers(s);
        const status = s.execution.status;
        if (status !== "running" && !(status === "paused" && this.rt.inflight.size > 0)) break;
        if (status === "running") {
          this.recoverInterrupted(s);
          const progressed = await this.schedule(s);
          if (progressed) continue;
        }
        if (this.rt.inflight.size === 0) {
          if (s.execution.status === "running") this.settleWaiting(s);
          break;
        }
        if (this.rt.deps.clock.now() - started > MAX_DRIVE_MS) break;
        this.sendChildMessages();
        await this.nextSettlement();
      }
    } finally {
      clearTimeout(earlyFlush);
      this.rt.flushBurst();
      await this.settleBudgets();
      await this.flushOutbox();
      await this.rearm();
    }
  }

  /** Children started (or cancelled) while other steps still run are told now, not when the drive ends. */
  private sendChildMessages(): void {
    if (!this.rt.owed.childMessagesOwed) return;
    this.rt.owed.childMessagesOwed = false;
    void this.children.deliver().catch((err: unknown) => log("error", "child messages failed", { error: err instanceof Error ? err.message : String(err) }));
  }

  /** Waits for the next attempt to settle or the next timer to come due, whichever is first. */
  private async nextSettlement(): Promise<void> {
    this.rt.flushBurst(); // nothing completed stays unwritten while the drive waits
    const waits: Promise<unknown>[] = [...this.rt.inflight.values()].map((f) => f.done);
    const due = this.rt.timers.earliest();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (due !== null) waits.push(new Promise((r) => (timer = setTimeout(r, Math.max(0, due - this.rt.deps.clock.now())))));
    await Promise.race(waits);
    if (timer) clearTimeout(timer);
  }

  /** What each kind of due timer does: one handler per `TimerKind`. */
  private readonly onTimer: Record<TimerKind, (s: LoadedState, timer: Timer) => void> = {
    execution_timeout: (s) => this.timeOut(s),
    step_wake: (s, timer) => this.wake(s, timer.stepId!),
    step_retry: (_s, timer) => this.rt.timers.clear("step_retry", timer.stepId),
    approval_expiry: (s, timer) => this.humanWaits.expireGate(s, timer.stepId),
    outbox_flush: () => {}, // the flush at the end of every drive handles it
    queue_timeout: (s) => this.queueTimeOut(s),
  };

  private fireDueTimers(s: LoadedState): void {
    const now = this.rt.deps.clock.now();
    for (const timer of this.rt.timers.due(now)) this.onTimer[timer.kind](s, timer);
  }

  private timeOut(s: LoadedState): void {
    if (isTerminalExecution(s.execution.status)) return;
    const error: ErrorInfo = { code: "EXECUTION_TIMEOUT", message: "The execution ran past its timeout_seconds." };
    this.rt.apply(s, decideTimeout(s.steps.values(), error, this.rt.deps.clock.now()));
    this.rt.abortAll(new StepError("EXECUTION_TIMEOUT", error.message));
    this.rt.notifyIfEnded(s);
  }

  /** Still queued when its queue's TTL passed: the execution ends `timed_out` (QUEUE_TIMEOUT), leaving the queue. */
  private queueTimeOut(s: LoadedState): void {
    this.rt.timers.clear("queue_timeout");
    if (s.execution.status !== "queued") return;
    this.rt.apply(s, decideTimeout(s.steps.values(), QUEUE_TIMEOUT, this.rt.deps.clock.now()));
    this.rt.notifyIfEnded(s);
  }

  /** A step's wake timer: a sleep ends, or the answers an input step asked for are overdue. */
  private wake(s: LoadedState, stepId: string): void {
    const st = s.steps.get(stepId);
    this.rt.timers.clear("step_wake", stepId);
    if (!st || st.status !== "waiting") return;
    // A step that waits for answers wakes at their deadline; any other, at the end of its sleep.
    this.rt.apply(s, decideWake(st, s.defs.get(stepId)!, s.execution.status, this.rt.deps.clock.now(), this.rt.deps.kinds));
  }

  /**
   * A running step with no attempt in flight here was cut off: its attempt failed INTERRUPTED. A map
   * step resumes instead (its items are rows), when it has something to run now.
   */
  private recoverInterrupted(s: LoadedState): void {
    for (const st of s.steps.values()) {
      if (st.status !== "running" || this.rt.inflight.has(st.id)) continue;
      if (this.attempts.maps.isMap(s, st.id)) {
        if (this.attempts.maps.hasWork(s, st)) this.attempts.maps.resume(s, st);
        continue;
      }
      this.rt.apply(s, decideInterrupted(st, s.defs.get(st.id)!, s.execution.definition, this.rt.deps.clock.now()));
    }
  }

  /**
   * One scheduling round: fail, skip, finish, or start ready steps. Returns true when it changed
   * something that warrants planning again right away.
   */
  private async schedule(s: LoadedState): Promise<boolean> {
    const now = this.rt.deps.clock.now();
    const plan = planNext(s.plan, s.steps, { now, parallelism: s.execution.definition.parallelism ?? DEFAULT_PARALLELISM });
    if (plan.failedBy) {
      this.failExecution(s, plan.failedBy);
      return false;
    }
    if (plan.skip.length > 0) {
      this.rt.apply(s, decideNeedsSkipped(plan.skip, now));
      return true;
    }
    if (plan.done) {
      await this.finish(s, plan.done);
      return false;
    }
    let progressed = false;
    for (const id of plan.start) {
      if (s.execution.status !== "running") break;
      if (await this.attempts.startStep(s, id)) progressed = true;
    }
    return progressed;
  }

  private failExecution(s: LoadedState, stepId: string): void {
    if (s.execution.status !== "running") return;
    const st = s.steps.get(stepId)!;
    const error: ErrorInfo = st.error ?? { code: "STEP_FAILED", message: `Step '${stepId}' failed.`, step_id: stepId, attempt: st.attempts };
    this.rt.apply(s, decideStepFailedExecution(s.steps.values(), stepId, error, this.rt.deps.clock.now()));
    this.rt.abortAll(new StepError("CANCELLED", `Cancelled because step '${stepId}' failed.`));
    this.rt.notifyIfEnded(s);
  }

  private async finish(s: LoadedState, outcome: "completed" | "partial" | "failed"): Promise<void> {
    let output: unknown;
    const expr = s.execution.definition.output;
    if (expr !== undefined) {
      try {
        output = this.rt.mask(s, await evaluateExpression(expr, s.scope));
      } catch (err) {
        const e = toStepError(err, "EXPRESSION_ERROR");
        const error: ErrorInfo = this.rt.mask(s, { code: e.code, message: `output: ${e.message}` });
        this.rt.apply(s, decideFailed(error));
        this.rt.notifyIfEnded(s);
        return;
      }
    }
    // What the shared budgets are owed goes now, so a warning it brings is in the last events.
    const warnings = await this.rt.budgets.flushSettlements(s.execution.id);
    if (s.execution.status !== "running") return;
    const end = decideEnd(outcome, output);
    end.events.unshift(...warnings);
    this.rt.apply(s, end);
    this.rt.notifyIfEnded(s);
  }

  /**
   * A running execution is `waiting` when nothing is in flight, a step sleeps, and no other step
   * has a retry scheduled (a branch in backoff keeps the execution `running`).
   */
  private shouldWait(s: LoadedState): boolean {
    if (s.execution.status !== "running" || this.rt.inflight.size > 0) return false;
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
    const until = this.rt.timers.dueAt("step_wake", sleeping.id);
    const deadline = until !== undefined ? { until: isoTime(until) } : {};
    const budget = budgetWaitOf(sleeping);
    const waitingFor: WaitingFor = budget
      ? { kind: "budget", step_id: sleeping.id, budget }
      : gate
      ? gateWaitingFor(gate, s.execution.planHash)
      : this.waitingFor(s, sleeping.id, deadline);
    this.rt.apply(s, decideWaiting(s.execution, waitingFor));
  }

  /** What a waiting step (not a gate, not a budget) waits for: answers, a signal, a child, or the end of a sleep. */
  private waitingFor(s: LoadedState, stepId: string, deadline: { until?: string }): WaitingFor {
    const def = s.defs.get(stepId)!;
    switch (kindOf(def.type, this.rt.deps.kinds)?.waitsFor) {
      case "answers":
        return { kind: "answers", step_id: stepId, ...deadline, questions: (s.steps.get(stepId)!.output as { questions: unknown }).questions };
      case "signal":
        return { kind: "event", step_id: stepId, event: (def as EventStep).event, callback_url: (s.steps.get(stepId)!.output as { callback_url?: string } | undefined)?.callback_url, ...deadline };
      case "child":
        return { kind: "child", step_id: stepId, execution_id: awaitedChild(s.steps.get(stepId)!.output) };
      default:
        return { kind: "sleep", step_id: stepId, ...deadline };
    }
  }

  /**
   * The drive stops (the execution waits, is paused, or ended another way than `finish`): what the
   * shared budgets are owed is sent, so they do not hold reserved amounts meanwhile. A warning it
   * brings is recorded unless the execution has ended (then it is logged: nothing follows the end).
   */
  private async settleBudgets(): Promise<void> {
    const s = this.rt.load();
    if (!s) return;
    const warnings = await this.rt.budgets.flushSettlements(s.execution.id);
    if (warnings.length === 0) return;
    const current = this.rt.load();
    if (current && !isTerminalExecution(current.execution.status)) this.rt.apply(current, { events: warnings });
    else log("warn", "budget.warning after the end", { execution_id: s.execution.id, warnings: warnings.map((w) => w.data) });
  }

  // ------------------------------------------------------------------ index and alarm

  /**
   * Delivers what the outbox holds — slot messages to the concurrency key's object, index, audit and
   * usage rows to D1 — both at once. What failed stays queued and is retried by timer, with backoff.
   */
  async flushOutbox(): Promise<void> {
    if (!this.rt.schemaReady) return;
    if (this.rt.outbox.pending() === 0) {
      this.rt.timers.clear("outbox_flush");
      return;
    }
    const now = this.rt.deps.clock.now();
    const [slotsSent, childrenSent, indexed] = await Promise.all([this.slots.deliver(), this.children.deliver(), this.rt.outbox.flush(this.rt.deps.d1, now)]);
    if (slotsSent && childrenSent && indexed) {
      this.flushFailures = 0;
      if (this.rt.outbox.pending() === 0) {
        this.rt.timers.clear("outbox_flush");
        const execution = this.rt.load()?.execution;
        if (execution && isTerminalExecution(execution.status)) log("info", "execution.billed_rows", { execution_id: execution.id, ...this.rt.billedRows(), key_calls: this.slots.keyCalls, child_calls: this.children.calls });
      }
    } else {
      this.flushFailures += 1;
      this.rt.timers.set("outbox_flush", now + Math.min(MAX_FLUSH_BACKOFF_MS, 500 * 2 ** (this.flushFailures - 1)));
    }
  }

  /**
   * Points the alarm at the earliest timer; a running execution with work left is driven again now
   * — or, when the caller is starting a drive itself (`driveStarting`), only after a grace period:
   * the alarm is then just the net for a drive that never ran (the object died first), and an alarm
   * firing into every drive it started would only compete with it.
   */
  async rearm(opts: { driveStarting?: boolean } = {}): Promise<void> {
    if (!this.rt.schemaReady) return; // an object nobody created has no alarm to set or delete
    const s = this.rt.load();
    let next = this.rt.timers.earliest();
    // Attempts still in flight (a drive that yielded) or work that can start now: come back at once.
    if (s && (this.rt.inflight.size > 0 || (s.execution.status === "running" && this.hasStartableWork(s)))) {
      const at = this.rt.deps.clock.now() + (opts.driveStarting ? DRIVE_GRACE_MS : 0);
      next = next === null ? at : Math.min(next, at);
    }
    if (next === null) await this.rt.deps.storage.deleteAlarm();
    else await this.rt.deps.storage.setAlarm(this.rt.deps.clock.toWallTime(next));
  }

  /** True when a drive now would change something (so the alarm must fire now, not at a timer). */
  private hasStartableWork(s: LoadedState): boolean {
    for (const st of s.steps.values()) {
      if (st.status !== "running" || this.rt.inflight.has(st.id)) continue;
      if (!this.attempts.maps.isMap(s, st.id) || this.attempts.maps.hasWork(s, st)) return true; // cut off: recover it (a map: resume it)
    }
    if (this.shouldWait(s)) return true; // e.g. resumed while a step sleeps: settle to `waiting`
    const plan = planNext(s.plan, s.steps, { now: this.rt.deps.clock.now(), parallelism: s.execution.definition.parallelism ?? DEFAULT_PARALLELISM });
    return plan.start.length > 0 || plan.skip.length > 0 || plan.done !== null || plan.failedBy !== null;
  }
}
