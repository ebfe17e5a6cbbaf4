/**
 * A budget's periods are UTC calendar days and months (SPEC §7): the period an instant falls in is
 * named by its first instant, epoch milliseconds.
 */
import type { BudgetPeriod } from "../../schemas/budgets";

/** The first instant (UTC) of the day or month that `now` falls in. */
export function periodStart(period: BudgetPeriod, now: number): number {
  const d = new Date(now);
  return period === "day" ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
