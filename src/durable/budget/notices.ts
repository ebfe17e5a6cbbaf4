/**
 * Telling waiters that a budget's limit changed: each flagged waiter's execution gets one
 * `budgetChanged(budgetId)` RPC (its steps waiting for this budget try again). A waiter stays
 * flagged until its execution answered, so the alarm retries what failed (backoff in Waiters);
 * a waiter whose execution never answers is dropped after MAX_NOTICE_ATTEMPTS, loudly.
 */
import { log } from "../../lib/log";
import type { ExecutionRpc } from "../execution/client";
import { MAX_NOTICE_ATTEMPTS, type Waiter, type Waiters } from "./waiters";

/** Notices sent at once. */
const PARALLEL_NOTICES = 25;

/** Where a notice goes: the execution object's `budgetChanged` (a dependency, so tests can make it fail). */
export type ExecutionNotice = (executionId: string) => Pick<ExecutionRpc, "budgetChanged">;

export class Notices {
  /** Waiters being told by this instance now (the alarm and a PATCH may both look). */
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly waiters: Waiters,
    private readonly execution: () => ExecutionNotice,
    private readonly now: () => number,
  ) {}

  /** Sends every notice due; failures stay flagged for the alarm. */
  async sendDue(budgetId: string): Promise<void> {
    const due = this.waiters.due(this.now()).filter((w) => !this.inFlight.has(w.executionId));
    for (let i = 0; i < due.length; i += PARALLEL_NOTICES) {
      await Promise.all(due.slice(i, i + PARALLEL_NOTICES).map((w) => this.send(budgetId, w)));
    }
  }

  private async send(budgetId: string, w: Waiter): Promise<void> {
    this.inFlight.add(w.executionId);
    try {
      await this.execution()(w.executionId).budgetChanged(budgetId);
      this.waiters.notified(w);
    } catch (err) {
      const kept = this.waiters.failed(w, this.now());
      log(kept ? "warn" : "error", kept ? "budget.notice_failed" : "budget.notice_given_up", {
        budget_id: budgetId,
        execution_id: w.executionId,
        attempts: w.attempts + 1,
        max_attempts: MAX_NOTICE_ATTEMPTS,
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      this.inFlight.delete(w.executionId);
    }
  }
}
