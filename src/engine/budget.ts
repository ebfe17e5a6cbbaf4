/**
 * Budgets, enforced by reservation (SPEC §7), in pure code: what a call may cost at most, whether a
 * reservation fits, the 80 % warning, and the decisions of a step that pauses for its budget and is
 * released when the budget is raised.
 *
 * - Before a costed call the execution reserves the call's maximum against its own budget and every
 *   shared budget that applies; the call is made only if every reservation fits. After the attempt,
 *   its actual cost replaces the reservations. So concurrent calls never overshoot a budget.
 * - A call's maximum: the prompt's tokens estimated by `estimateTokens` (one per 4 characters, the
 *   stand-in's exact rule and a fair upper estimate for English), plus `max_tokens` (or
 *   LLM_DEFAULT_MAX_TOKENS) of output, at the model's price. A step's `max_cost_usd` adds to it.
 * - Does not fit: `pause` → the step waits (`waiting_for.kind = "budget"`) until the budget is
 *   raised; `fail` → the step fails `BUDGET_EXCEEDED`, not retried; `warn` (shared budgets only) →
 *   a `budget.warning` event and the call goes ahead.
 */
import { audited, type Decision } from "./decision";
import { NonRetriableError, type ErrorInfo } from "./errors";
import type { EventSpec, ExecutionRecord, StepRecord } from "./model";
import type { AuditRow } from "../schemas/audit";
import { costAt, estimateTokens, roundUsd } from "./usage";
import type { Price } from "../schemas/costs";
import type { BudgetGuard } from "./steps/types";

/** The guard of an attempt no budget applies to: nothing is reserved (and nothing may be). */
export const NO_BUDGET: BudgetGuard = Object.freeze({
  active: false,
  reserve: () => Promise.reject(new Error("no budget applies to this attempt")),
});

/** The execution's own budget id in `waiting_for.budget.id` and in events. */
export const EXECUTION_BUDGET_ID = "execution";

/** The share of a budget at which `budget.warning` is sent once. */
export const WARNING_SHARE = 0.8;

/** A budget as a reservation saw it (the fields of `waiting_for.budget`). */
export interface BudgetView {
  id: string;
  max_usd: number;
  spent_usd: number;
  reserved_usd: number;
  /** The whole reservation of the call that did not fit. */
  needed_usd: number;
}

/**
 * `budget.warning`: spending first reached 80 % of a budget (`threshold`), or a call went over a
 * budget that only warns (`exceeded`). `budget` holds what is known of it then.
 */
export function budgetWarning(reason: "threshold" | "exceeded", budget: Pick<BudgetView, "id"> & Partial<BudgetView>, stepId?: string): EventSpec {
  return { type: "budget.warning", ...(stepId !== undefined ? { stepId } : {}), data: { reason, budget } };
}

/** A reservation that did not fit: the call is not made. */
export class BudgetShortfall extends NonRetriableError {
  constructor(
    readonly onExceed: "pause" | "fail",
    readonly budget: BudgetView,
  ) {
    super(
      "BUDGET_EXCEEDED",
      `The call needs up to ${budget.needed_usd} USD; budget '${budget.id}' has ${roundUsd(budget.max_usd - budget.spent_usd - budget.reserved_usd)} USD left of ${budget.max_usd}.`,
      { budget },
    );
    this.name = "BudgetShortfall";
  }
}

/** An llm call under a budget to a model with no price: refused before it is made, not retried. */
export function priceUnknown(model: string): NonRetriableError {
  return new NonRetriableError("PRICE_UNKNOWN", `No price is known for model '${model}', and a budget applies: the call is not made (set one with PUT /v1/prices/{model}).`, {
    model,
  });
}

/** The most one call may cost: its prompt (estimated) and `maxTokens` of output, at `price`. */
export function maxCallCostUsd(price: Price, promptText: string, maxTokens: number): number {
  return costAt(price, estimateTokens(promptText), maxTokens);
}

/** Whether `needed` more fits under `max`, given what is spent and reserved. */
export function fits(max: number, spent: number, reserved: number, needed: number): boolean {
  return roundUsd(spent + reserved + needed) <= roundUsd(max);
}

/** True when spending moved from below the warning share of `max` to at or above it. */
export function crossesWarning(max: number, before: number, after: number): boolean {
  const line = max * WARNING_SHARE;
  return before < line && after >= line;
}

/**
 * A step's attempt found its budget short and the budget pauses: the attempt ends (no call was
 * made for the reservation that failed; calls made before it are billed), the step waits, keeping
 * what it waits for in its output until it is released, and `budget.exceeded` is sent.
 */
export function decideBudgetWait(step: Readonly<StepRecord>, attempt: number, shortfall: BudgetShortfall, now: number): Decision {
  const error: ErrorInfo = { ...shortfall.toInfo(), step_id: step.id, attempt };
  return {
    finished: [{ stepId: step.id, attempt, status: "cancelled", endedAt: now, error }],
    steps: [{ stepId: step.id, command: "wait", patch: { output: { budget: shortfall.budget } } }],
    events: [
      { type: "budget.exceeded", stepId: step.id, data: { attempt, budget: shortfall.budget, on_exceed: "pause" } },
      { type: "step.waiting", stepId: step.id, data: { attempt, kind: "budget" } },
    ],
  };
}

/** What a step waiting for a budget waits for (its output while it waits), or null. */
export function budgetWaitOf(step: Readonly<StepRecord>): BudgetView | null {
  if (step.status !== "waiting") return null;
  const budget = (step.output as { budget?: BudgetView } | undefined)?.budget;
  return budget && typeof budget.id === "string" ? budget : null;
}

/**
 * A budget changed (raised, deleted): every step waiting for it goes back to pending, to reserve
 * again when it runs, and the execution runs on. Nothing waits for it: no decision.
 */
export function decideBudgetRelease(steps: Iterable<Readonly<StepRecord>>, budgetId: string): Decision | null {
  const released = [...steps].filter((st) => budgetWaitOf(st)?.id === budgetId);
  if (released.length === 0) return null;
  return {
    steps: released.map((st) => ({ stepId: st.id, command: "release" as const, patch: { output: undefined } })),
    execution: [{ command: "wake" }],
    events: released.map((st) => ({ type: "budget.released" as const, stepId: st.id, data: { budget_id: budgetId } })),
  };
}

/**
 * An approver raises the execution's own budget to `maxUsd` (checked higher by the caller): its
 * steps waiting for it are released, and the execution runs on.
 */
export function decideRaiseBudget(execution: Readonly<ExecutionRecord>, steps: Iterable<Readonly<StepRecord>>, maxUsd: number, audit: AuditRow | null, now: number): Decision[] {
  const previous = execution.budget!;
  const raised: Decision = {
    budget: { ...previous, max_usd: maxUsd },
    ...audited(audit, now),
    events: [{ type: "budget.raised", data: { budget_id: EXECUTION_BUDGET_ID, previous_max_usd: previous.max_usd, max_usd: maxUsd, by: audit?.actor ?? null } }],
  };
  const released = decideBudgetRelease(steps, EXECUTION_BUDGET_ID);
  return released ? [raised, released] : [raised];
}
