/**
 * BudgetObject: one Durable Object per shared budget (SPEC §7), addressed by the budget id. It alone
 * serialises reserve, settle and release for its budget, so concurrent executions and map items
 * never overshoot it. A thin shell: it parses the RPC arguments again (`schemas/budgets.ts`: the
 * caller is not trusted to have validated them), delegates to the books (`ledger.ts`), sends the
 * notices a change of limit owes its waiters (`notices.ts`), and keeps the one alarm armed for
 * what is due next (a reservation expiring, a notice to retry, closed ids to forget).
 * Callers use `client.ts`, never this module.
 */
import { DurableObject } from "cloudflare:workers";
import { ArmedAlarm } from "../storage/armed-alarm";
import { systemClock, type Clock } from "../../engine/clock";
import {
  ConfigureBudgetArgs,
  ReleaseArgs,
  ReserveArgs,
  RpcNow,
  RpcTenant,
  SettleArgs,
  UpdateBudgetArgs,
  type BudgetState,
  type ReserveResult,
  type SettleResult,
  type UpdateBudgetResult,
} from "../../schemas/budgets";
import { executionRpc } from "../execution/client";
import type { BudgetRpc } from "./client";
import { BudgetLedger } from "./ledger";
import { Notices, type ExecutionNotice } from "./notices";

export interface BudgetDeps {
  /** The object's own time: deletions, releases and the alarm. (Reserve and settle carry the caller's `now`.) */
  clock: Clock;
  /** A waiter's execution, told through its `budgetChanged` RPC. */
  execution: ExecutionNotice;
}

export class BudgetObject extends DurableObject<Env> implements Record<keyof BudgetRpc, unknown> {
  /**
   * The platform's by default. Read at each use, so one replaced on a live instance (through
   * runInDurableObject) takes effect at once: how tests move the clock or make notices fail.
   */
  readonly deps: BudgetDeps;
  readonly ledger: BudgetLedger;
  readonly notices: Notices;
  private readonly armed: ArmedAlarm;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.deps = { clock: systemClock, execution: (id) => executionRpc(env, id) };
    this.ledger = new BudgetLedger(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    this.notices = new Notices(
      this.ledger.waiters,
      () => this.deps.execution,
      () => this.deps.clock.now(),
    );
    this.armed = new ArmedAlarm(ctx.storage);
    void ctx.blockConcurrencyWhile(() => this.armed.load());
  }

  async configure(args: unknown): Promise<BudgetState> {
    const state = this.ledger.configure(ConfigureBudgetArgs.parse(args));
    await this.rearm();
    return state;
  }

  async state(tenant: unknown, now: unknown): Promise<BudgetState | null> {
    return this.ledger.state(RpcTenant.parse(tenant), RpcNow.parse(now));
  }

  async reserve(args: unknown): Promise<ReserveResult> {
    const parsed = ReserveArgs.parse(args);
    // Settlements that ride on this call are applied first, so the reservation sees what they freed.
    const settled = parsed.settle?.length ? this.ledger.settle({ reservations: parsed.settle, now: parsed.now }) : null;
    const result: ReserveResult = this.ledger.reserve(parsed);
    if (settled?.warning) result.warning = true;
    await this.rearm();
    return result;
  }

  async settle(args: unknown): Promise<SettleResult> {
    const result = this.ledger.settle(SettleArgs.parse(args));
    await this.rearm();
    return result;
  }

  async release(reservationIds: unknown): Promise<void> {
    this.ledger.release(ReleaseArgs.parse(reservationIds), this.deps.clock.now());
    await this.rearm();
  }

  async update(tenant: unknown, args: unknown, now: unknown): Promise<UpdateBudgetResult> {
    const { maxUsd } = UpdateBudgetArgs.parse(args);
    const result = this.ledger.update(RpcTenant.parse(tenant), maxUsd, RpcNow.parse(now), this.deps.clock.now());
    if (result) await this.tellWaiters();
    return result;
  }

  async remove(tenant: unknown): Promise<boolean> {
    const removed = this.ledger.remove(RpcTenant.parse(tenant), this.deps.clock.now());
    if (removed) await this.tellWaiters();
    return removed;
  }

  override async alarm(): Promise<void> {
    this.armed.fired();
    this.ledger.housekeep(this.deps.clock.now());
    await this.tellWaiters();
  }

  /**
   * The change is committed with its waiters flagged; the alarm is armed first (so a crash from
   * here on is retried by it), then the notices go out now rather than at the alarm.
   */
  private async tellWaiters(): Promise<void> {
    await this.rearm();
    const budget = this.ledger.budget();
    if (budget) await this.notices.sendDue(budget.id);
    await this.rearm();
  }

  /** Arms the one alarm at the earliest thing due (or deletes it when nothing is). */
  private async rearm(): Promise<void> {
    const due = [this.ledger.nextDueAt(), this.ledger.budget() ? this.ledger.waiters.nextNoticeAt() : null].filter((t): t is number => t !== null);
    await this.armed.set(due.length ? this.deps.clock.toWallTime(Math.min(...due)) : null);
  }
}
