/**
 * One shared budget's books (SPEC §7): its configuration, what each period spent, the reservations
 * outstanding, and the ids of reservations done with. Every operation is one synchronous SQLite
 * transaction with no `await` inside, so the object's calls are serialised: concurrent reserves
 * can never both take the last capacity.
 *
 * Invariants:
 * - `spent(period) + reserved + amount <= max_usd` for every reservation a `pause` or `fail` budget
 *   grants (reserved counts every reservation outstanding, whatever period it was made in).
 * - A reservation id counts once: a retried reserve does not reserve again, a retried settle does
 *   not spend again, and an id that is done with (settled, released, expired) is remembered for
 *   CLOSED_RETENTION_MS.
 * - A reservation nobody settles is spent at its amount when it expires (we cannot know what the
 *   call cost, and a budget is never overshot); a late settle replaces that amount by the actual
 *   cost, once; a late release gives it back.
 * - Amounts are rounded to 1e-10 USD on every write, so sums do not drift.
 */
import { WARNING_SHARE, fits } from "../../engine/budget";
import { roundUsd } from "../../engine/usage";
import { isoTime } from "../../lib/time";
import type {
  BudgetPeriod,
  BudgetScope,
  BudgetState,
  ConfigureBudgetArgs,
  OnExceed,
  ReserveArgs,
  ReserveResult,
  SettleArgs,
  SettleResult,
  UpdateBudgetResult,
} from "../../schemas/budgets";
import type { Sql } from "../storage/metered-sql";
import { ensureBudgetSchema, hasBudgetSchema } from "./budget-schema";
import { periodStart } from "./period";
import { Waiters } from "./waiters";

/** How long the ids of settled, released and expired reservations are remembered. */
export const CLOSED_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

interface BudgetRow {
  id: string;
  tenant: string;
  scope: BudgetScope;
  workflow_id: string | null;
  period: BudgetPeriod;
  max_usd: number;
  on_exceed: OnExceed;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  [key: string]: SqlStorageValue;
}

interface ClosedRow {
  kind: "settled" | "released" | "expired";
  amount_usd: number;
  period_start: number | null;
  [key: string]: SqlStorageValue;
}

/** configure() found a budget under this id with other settings (ids are random: a bug, not a user error). */
export class BudgetConflictError extends Error {
  constructor(id: string) {
    super(`Budget '${id}' is already configured with other settings, or deleted.`);
    this.name = "BudgetConflictError";
  }
}

export class BudgetLedger {
  readonly waiters: Waiters;
  /** The budget row, mirrored (this object is its only writer); undefined: not read yet. */
  private row: BudgetRow | null | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly transactionSync: <T>(fn: () => T) => T,
  ) {
    this.waiters = new Waiters(sql);
  }

  /** The budget as configured (deleted or not), or null. Reads nothing when no schema exists. */
  budget(): BudgetRow | null {
    if (this.row === undefined) {
      this.row = hasBudgetSchema(this.sql) ? (this.sql.exec<BudgetRow>("SELECT * FROM budget").toArray()[0] ?? null) : null;
    }
    return this.row;
  }

  /** The budget if it is live (configured, not deleted) and, when `tenant` is given, the tenant's. */
  private live(tenant?: string): BudgetRow | null {
    const b = this.budget();
    if (!b || b.deleted_at !== null) return null;
    return tenant === undefined || b.tenant === tenant ? b : null;
  }

  /** One transaction; the mirror is dropped if it throws (rolled back). */
  private tx<T>(fn: () => T): T {
    try {
      return this.transactionSync(fn);
    } catch (err) {
      this.row = undefined;
      throw err;
    }
  }

  configure(a: ConfigureBudgetArgs): BudgetState {
    return this.tx(() => {
      ensureBudgetSchema(this.sql);
      const existing = this.budget();
      if (existing) {
        const same =
          existing.deleted_at === null &&
          existing.id === a.id &&
          existing.tenant === a.tenant &&
          existing.scope === a.scope &&
          existing.workflow_id === a.workflowId &&
          existing.period === a.period &&
          existing.on_exceed === a.onExceed;
        if (!same) throw new BudgetConflictError(a.id);
        return this.stateOf(existing, a.now);
      }
      this.sql.exec(
        `INSERT INTO budget (id, tenant, scope, workflow_id, period, max_usd, on_exceed, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        a.id,
        a.tenant,
        a.scope,
        a.workflowId,
        a.period,
        roundUsd(a.maxUsd),
        a.onExceed,
        a.now,
        a.now,
      );
      this.row = undefined;
      return this.stateOf(this.budget()!, a.now);
    });
  }

  /** The budget as `tenant` sees it at `now`; null for another tenant, a deleted or an unknown budget. Writes nothing. */
  state(tenant: string, now: number): BudgetState | null {
    const b = this.live(tenant);
    return b ? this.stateOf(b, now) : null;
  }

  reserve(a: ReserveArgs): ReserveResult {
    if (!this.live()) return { ok: true, state: null, over: false };
    return this.tx(() => {
      const b = this.live()!;
      this.expireDue(a.now);
      const held = this.sql.exec<{ over: number }>("SELECT over FROM reservations WHERE id = ?", a.reservationId).toArray()[0];
      if (held) return { ok: true, state: this.stateOf(b, a.now), over: held.over === 1 };
      // Done with already (settled, released, expired): a late retry of the reserve reserves nothing.
      if (this.closed(a.reservationId)) return { ok: true, state: this.stateOf(b, a.now), over: false };
      const amount = roundUsd(a.amountUsd);
      const fitsIn = fits(b.max_usd, this.spent(periodStart(b.period, a.now)), this.reserved(), amount);
      if (!fitsIn && b.on_exceed !== "warn") {
        if (b.on_exceed === "pause") this.waiters.register(a.executionId, a.now);
        return { ok: false, state: this.stateOf(b, a.now), needed_usd: amount };
      }
      this.sql.exec(
        "INSERT INTO reservations (id, execution_id, amount_usd, over, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        a.reservationId,
        a.executionId,
        amount,
        fitsIn ? 0 : 1,
        a.expiresAt,
        a.now,
      );
      return { ok: true, state: this.stateOf(b, a.now), over: !fitsIn };
    });
  }

  settle(a: SettleArgs): SettleResult {
    if (!this.live()) return { state: null, warning: false };
    return this.tx(() => {
      const b = this.live()!;
      this.expireDue(a.now);
      const current = periodStart(b.period, a.now);
      for (const { reservationId, actualUsd } of a.reservations) {
        const actual = roundUsd(actualUsd);
        const closed = this.closed(reservationId);
        if (closed?.kind === "settled") continue;
        if (closed?.kind === "expired") {
          // Spent at its reserved amount when it expired: the actual cost replaces that amount, in that period.
          const period = closed.period_start ?? current;
          this.addSpent(period, actual - closed.amount_usd);
          this.close(reservationId, "settled", actual, period, a.now);
          continue;
        }
        // Outstanding, released (the call was made after all) or unknown: the actual cost is spent now, once.
        this.sql.exec("DELETE FROM reservations WHERE id = ?", reservationId);
        this.addSpent(current, actual);
        this.close(reservationId, "settled", actual, current, a.now);
      }
      const spent = this.spent(current);
      const warned = this.sql.exec<{ warned: number }>("SELECT warned FROM periods WHERE start = ?", current).toArray()[0]?.warned === 1;
      const warning = !warned && spent > 0 && spent >= b.max_usd * WARNING_SHARE;
      if (warning) this.sql.exec("INSERT INTO periods (start, warned) VALUES (?, 1) ON CONFLICT (start) DO UPDATE SET warned = 1", current);
      return { state: this.stateOf(b, a.now), warning };
    });
  }

  /** Drops reservations whose call was never made (an expired one gives its spending back). */
  release(ids: readonly string[], now: number): void {
    if (!this.live() || ids.length === 0) return;
    this.tx(() => {
      for (const id of ids) {
        const closed = this.closed(id);
        if (closed?.kind === "settled" || closed?.kind === "released") continue;
        if (closed?.kind === "expired") {
          if (closed.period_start !== null) this.addSpent(closed.period_start, -closed.amount_usd);
        } else {
          this.sql.exec("DELETE FROM reservations WHERE id = ?", id);
        }
        this.close(id, "released", 0, null, now);
      }
    });
  }

  /**
   * Sets the limit and flags every waiter to be told from `noticeAt` (the object's clock; `now` is
   * the caller's); null when the tenant has no such live budget.
   */
  update(tenant: string, maxUsd: number, now: number, noticeAt: number): UpdateBudgetResult {
    if (!this.live(tenant)) return null;
    return this.tx(() => {
      const b = this.live(tenant)!;
      const previous = b.max_usd;
      this.sql.exec("UPDATE budget SET max_usd = ?, updated_at = ? WHERE id = ?", roundUsd(maxUsd), now, b.id);
      this.row = undefined;
      this.waiters.markAll(noticeAt);
      return { state: this.stateOf(this.budget()!, now), previous_max_usd: previous };
    });
  }

  /**
   * Deletes the budget (it no longer limits anything; its reservations are forgotten) and flags
   * every waiter to be told. True when the tenant has this budget, deleted now or before.
   */
  remove(tenant: string, now: number): boolean {
    const b = this.budget();
    if (!b || b.tenant !== tenant) return false;
    if (b.deleted_at !== null) return true;
    this.tx(() => {
      this.sql.exec("UPDATE budget SET deleted_at = ?, updated_at = ? WHERE id = ?", now, now, b.id);
      this.sql.exec("DELETE FROM reservations");
      this.sql.exec("DELETE FROM closed");
      this.row = undefined;
      this.waiters.markAll(now);
    });
    return true;
  }

  /** The alarm's work on the books: expired reservations are spent, old closed ids forgotten. */
  housekeep(now: number): void {
    if (!this.budget()) return;
    this.tx(() => {
      if (this.live()) this.expireDue(now);
      this.sql.exec("DELETE FROM closed WHERE closed_at <= ?", now - CLOSED_RETENTION_MS);
    });
  }

  /** When the books next need the alarm (a reservation expires, a closed id may be forgotten), or null. */
  nextDueAt(): number | null {
    if (!this.budget()) return null;
    const r = this.sql
      .exec<{ expires: number | null; forget: number | null }>(
        `SELECT (SELECT MIN(expires_at) FROM reservations) AS expires,
                (SELECT MIN(closed_at) FROM closed) + ? AS forget`,
        CLOSED_RETENTION_MS,
      )
      .one();
    const times = [r.expires, r.forget].filter((t): t is number => t !== null);
    return times.length ? Math.min(...times) : null;
  }

  // ---- inside a transaction

  /** Reservations expired at `now` are spent at their amount, in the period they expired in. */
  private expireDue(now: number): void {
    const b = this.budget()!;
    const expired = this.sql
      .exec<{ id: string; amount_usd: number; expires_at: number }>("SELECT id, amount_usd, expires_at FROM reservations WHERE expires_at <= ?", now)
      .toArray();
    for (const r of expired) {
      const period = periodStart(b.period, r.expires_at);
      this.addSpent(period, r.amount_usd);
      this.sql.exec("DELETE FROM reservations WHERE id = ?", r.id);
      this.close(r.id, "expired", r.amount_usd, period, now);
    }
  }

  private closed(id: string): ClosedRow | undefined {
    return this.sql.exec<ClosedRow>("SELECT kind, amount_usd, period_start FROM closed WHERE id = ?", id).toArray()[0];
  }

  private close(id: string, kind: ClosedRow["kind"], amount: number, periodStartAt: number | null, now: number): void {
    this.sql.exec(
      `INSERT INTO closed (id, kind, amount_usd, period_start, closed_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, amount_usd = excluded.amount_usd, period_start = excluded.period_start, closed_at = excluded.closed_at`,
      id,
      kind,
      amount,
      periodStartAt,
      now,
    );
  }

  private addSpent(period: number, usd: number): void {
    const spent = Math.max(0, roundUsd(this.spent(period) + usd));
    this.sql.exec("INSERT INTO periods (start, spent_usd) VALUES (?, ?) ON CONFLICT (start) DO UPDATE SET spent_usd = excluded.spent_usd", period, spent);
  }

  // ---- reads

  private spent(period: number): number {
    return this.sql.exec<{ spent_usd: number }>("SELECT spent_usd FROM periods WHERE start = ?", period).toArray()[0]?.spent_usd ?? 0;
  }

  private reserved(): number {
    return roundUsd(this.sql.exec<{ total: number | null }>("SELECT SUM(amount_usd) AS total FROM reservations").one().total ?? 0);
  }

  private stateOf(b: BudgetRow, now: number): BudgetState {
    const start = periodStart(b.period, now);
    return {
      id: b.id,
      tenant: b.tenant,
      scope: b.scope,
      workflow_id: b.workflow_id,
      period: b.period,
      max_usd: b.max_usd,
      on_exceed: b.on_exceed,
      spent_usd: this.spent(start),
      reserved_usd: this.reserved(),
      period_start: isoTime(start),
      created_at: isoTime(b.created_at),
      updated_at: isoTime(b.updated_at),
    };
  }
}
