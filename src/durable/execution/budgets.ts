/**
 * The execution's side of budgets (SPEC §7; the rules are engine/budget.ts): each attempt gets a
 * guard that reserves a call's maximum cost against the execution's own budget — in memory, no
 * round trip: this object is the only writer of its spending — and against every shared budget that
 * applies (one RPC to each budget's Durable Object, in parallel). When the attempt ends its
 * reservations are settled: the execution's own by the ledger records written with the attempt,
 * the shared ones by carrying each call's actual cost to the budget with the execution's next
 * reservation there (one round trip per call), and with one `settle` per budget when the execution
 * ends or stops to wait (`flushSettlements`).
 */
import { BudgetShortfall, budgetWarning, EXECUTION_BUDGET_ID, fits, type BudgetView } from "../../engine/budget";
import type { EventSpec } from "../../engine/model";
import { roundUsd } from "../../engine/usage";
import type { BudgetGuard, Reservation } from "../../engine/steps/types";
import { log } from "../../lib/log";
import { budgetRpc, type BudgetState, type ReserveResult } from "../budget/client";
import type { Settlement } from "../../schemas/budgets";
import type { Clock } from "../../engine/clock";
import type { LoadedState } from "./loaded-state";

/** What the budgets read of the runtime's dependencies, at each use (tests replace them live). */
interface BudgetDeps {
  readonly env: Env;
  readonly clock: Clock;
}

/** How long a shared budget keeps a reservation nobody settles (an object that died mid-call). */
const RESERVATION_TTL_MS = 15 * 60 * 1000;
const SETTLE_TRIES = 3;

/** `budget.warning` for a shared budget that crossed 80 % of its limit this period. */
function thresholdWarning(budgetId: string, state: BudgetState | null): EventSpec {
  return budgetWarning("threshold", { id: budgetId, ...(state ? { max_usd: state.max_usd, spent_usd: state.spent_usd, reserved_usd: state.reserved_usd } : {}) });
}

interface Held {
  id: string;
  usd: number;
  /** What the call cost, once known (null: unknown, nothing spent). */
  actual: number | null | undefined;
  /** Shared budgets this reservation holds capacity in. */
  shared: string[];
}

/** One attempt's reservations. */
export class AttemptBudget implements BudgetGuard {
  readonly held: Held[] = [];
  /** `budget.warning` events for shared budgets with on_exceed `warn` that the attempt went over. */
  readonly warnings: EventSpec[] = [];

  constructor(
    private readonly budgets: ExecutionBudgets,
    private readonly s: LoadedState,
    private readonly stepId: string,
    private readonly attempt: number,
  ) {}

  get active(): boolean {
    return this.s.execution.budget !== null || this.s.execution.budgetIds.length > 0;
  }

  async reserve(usd: number): Promise<Reservation> {
    const held: Held = { id: `${this.s.execution.id}:${this.stepId}:${this.attempt}:${this.held.length + 1}`, usd: roundUsd(usd), actual: undefined, shared: [] };
    await this.budgets.reserve(this.s, held, this.stepId, this.warnings);
    this.held.push(held);
    return {
      settle: (actualUsd) => {
        held.actual = actualUsd;
      },
    };
  }
}

export class ExecutionBudgets {
  /** USD reserved against the execution's own budget by attempts in flight (in memory: they are this instance's). */
  private reservedUsd = 0;
  /** Calls to shared budgets' objects since this instance started (reported with the billed rows). */
  budgetCalls = 0;
  /** Actual costs owed to each shared budget, sent with the next reservation there or by `flushSettlements`. */
  private readonly owed = new Map<string, Settlement[]>();

  constructor(private readonly deps: BudgetDeps) {}

  /** A shared budget's object, counted: each call is a round trip. */
  private rpc(budgetId: string) {
    this.budgetCalls += 1;
    return budgetRpc(this.deps.env, budgetId);
  }

  guard(s: LoadedState, stepId: string, attempt: number): AttemptBudget {
    return new AttemptBudget(this, s, stepId, attempt);
  }

  /** Reserves `held.usd` against every budget, or none: throws BudgetShortfall when one does not fit (pause, fail). */
  async reserve(s: LoadedState, held: Held, stepId: string, warnings: EventSpec[]): Promise<void> {
    const own = s.execution.budget;
    if (own && !fits(own.max_usd, s.execution.cost.total_usd, this.reservedUsd, held.usd)) {
      throw new BudgetShortfall(own.on_exceed, this.ownView(s, held.usd));
    }
    this.reservedUsd = roundUsd(this.reservedUsd + held.usd);
    try {
      await this.reserveShared(s, held, stepId, warnings);
    } catch (err) {
      this.reservedUsd = roundUsd(this.reservedUsd - held.usd);
      throw err;
    }
  }

  private ownView(s: LoadedState, needed: number): BudgetView {
    const own = s.execution.budget!;
    return { id: EXECUTION_BUDGET_ID, max_usd: own.max_usd, spent_usd: s.execution.cost.total_usd, reserved_usd: this.reservedUsd, needed_usd: needed };
  }

  private async reserveShared(s: LoadedState, held: Held, stepId: string, warnings: EventSpec[]): Promise<void> {
    const ids = s.execution.budgetIds;
    if (ids.length === 0) return;
    const now = this.deps.clock.now();
    const results = await Promise.all(
      ids.map(async (budgetId): Promise<[string, ReserveResult]> => {
        const settle = this.takeOwed(budgetId);
        try {
          const r = await this.rpc(budgetId).reserve({ reservationId: held.id, executionId: s.execution.id, amountUsd: held.usd, expiresAt: now + RESERVATION_TTL_MS, now, ...(settle.length ? { settle } : {}) });
          if (r.warning) warnings.push(thresholdWarning(budgetId, r.state));
          return [budgetId, r];
        } catch (err) {
          this.owe(budgetId, settle); // still owed: the next call carries them
          throw err;
        }
      }),
    );
    const refused = results.find(([, r]) => !r.ok);
    if (refused) {
      // All or nothing: what the other budgets reserved is given back.
      const granted = results.filter(([, r]) => r.ok).map(([id]) => id);
      await Promise.all(granted.map((id) => this.rpc(id).release([held.id]).catch(() => undefined)));
      const [budgetId, r] = refused;
      const state = r.state!;
      const onExceed = state.on_exceed === "fail" ? "fail" : "pause";
      throw new BudgetShortfall(onExceed, { id: budgetId, max_usd: state.max_usd, spent_usd: state.spent_usd, reserved_usd: state.reserved_usd, needed_usd: held.usd });
    }
    for (const [budgetId, r] of results) {
      if (r.state) held.shared.push(budgetId);
      if (r.ok && r.over && r.state) {
        warnings.push(budgetWarning("exceeded", { id: budgetId, max_usd: r.state.max_usd, spent_usd: r.state.spent_usd, reserved_usd: r.state.reserved_usd, needed_usd: held.usd }, stepId));
      }
    }
  }

  /**
   * The attempt ended: what each of its calls cost is owed to the shared budgets that reserved for
   * it, and goes with the next reservation there (or `flushSettlements`). Until then the budget
   * holds the reserved amount — never less than what was spent.
   */
  attemptEnded(guard: AttemptBudget): void {
    for (const h of guard.held) for (const budgetId of h.shared) this.owe(budgetId, [{ reservationId: h.id, actualUsd: h.actual ?? 0 }]);
  }

  /**
   * Sends every budget what it is owed (one `settle` each), when the execution ends or stops to
   * wait — before its last transition, so a warning (the budget crossed 80 %) goes into its events.
   * A settle that keeps failing is dropped: the reservation expires in the budget and counts as
   * spent at its reserved amount — never overspent.
   */
  async flushSettlements(executionId: string): Promise<EventSpec[]> {
    const warnings: EventSpec[] = [];
    await Promise.all(
      [...this.owed.keys()].map(async (budgetId) => {
        const reservations = this.takeOwed(budgetId);
        if (reservations.length === 0) return;
        for (let tries = 1; ; tries++) {
          try {
            const r = await this.rpc(budgetId).settle({ reservations, now: this.deps.clock.now() });
            if (r.warning) warnings.push(thresholdWarning(budgetId, r.state));
            return;
          } catch (err) {
            if (tries >= SETTLE_TRIES) {
              log("error", "budget.settle_failed", { budget_id: budgetId, execution_id: executionId, error: err instanceof Error ? err.message : String(err) });
              return;
            }
          }
        }
      }),
    );
    return warnings;
  }

  private owe(budgetId: string, settlements: readonly Settlement[]): void {
    if (settlements.length === 0) return;
    const list = this.owed.get(budgetId) ?? [];
    list.push(...settlements);
    this.owed.set(budgetId, list);
  }

  private takeOwed(budgetId: string): Settlement[] {
    const list = this.owed.get(budgetId) ?? [];
    this.owed.delete(budgetId);
    return list;
  }

  /**
   * After the attempt's records are written (they now count as spent): its reservations against
   * the execution's own budget are dropped. Synchronously after the write, so no other attempt can
   * see neither the reservation nor the spending.
   */
  releaseOwn(guard: AttemptBudget): void {
    if (guard.held.length === 0) return;
    this.reservedUsd = Math.max(0, roundUsd(this.reservedUsd - guard.held.reduce((sum, h) => sum + h.usd, 0)));
  }
}
