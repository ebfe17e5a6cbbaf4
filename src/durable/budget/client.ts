/**
 * The Worker's (and an execution object's) side of the budget Durable Object: its RPC surface.
 * One object per budget, addressed by the budget id (`getByName`). Imports nothing but schemas, so
 * a caller of the client never reaches the object's books.
 */
import type {
  BudgetState,
  ConfigureBudgetArgs,
  ReserveArgs,
  ReserveResult,
  SettleArgs,
  SettleResult,
  UpdateBudgetArgs,
  UpdateBudgetResult,
} from "../../schemas/budgets";

export type { BudgetState, ConfigureBudgetArgs, ReserveArgs, ReserveResult, SettleArgs, SettleResult, UpdateBudgetArgs, UpdateBudgetResult };

/**
 * The RPC surface of a budget's object. Every call is serialised by the object; `now` (epoch ms) is
 * the caller's clock and decides the period (UTC day or month) the call counts in.
 */
export interface BudgetRpc {
  /** Creates the budget; the same call again answers the same budget (a retried create). */
  configure(args: ConfigureBudgetArgs): Promise<BudgetState>;
  /** The budget as `tenant` sees it at `now`; null for another tenant, a deleted or an unknown budget. */
  state(tenant: string, now: number): Promise<BudgetState | null>;
  /**
   * Reserves `amountUsd` for a call, if it fits (a `warn` budget always reserves, saying `over`).
   * Refused on a `pause` budget, the execution becomes a waiter, told by `budgetChanged` when the
   * limit changes. Idempotent per `reservationId`. A deleted budget answers `{ ok: true, state: null }`.
   */
  reserve(args: ReserveArgs): Promise<ReserveResult>;
  /** Replaces each reservation by the call's actual cost (spent now); idempotent per reservation id. */
  settle(args: SettleArgs): Promise<SettleResult>;
  /** Drops reservations whose call was never made. */
  release(reservationIds: string[]): Promise<void>;
  /** Changes the limit and tells every waiter; null when the tenant has no such live budget. */
  update(tenant: string, args: UpdateBudgetArgs, now: number): Promise<UpdateBudgetResult>;
  /** Deletes the budget and tells every waiter; false when the tenant has no such budget (deleted now or before: true). */
  remove(tenant: string): Promise<boolean>;
}

/** The budget's object, by its id. */
export function budgetRpc(env: Env, id: string): BudgetRpc {
  return env.BUDGETS.getByName(id) as unknown as BudgetRpc;
}
