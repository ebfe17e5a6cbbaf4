/** USD amounts as stored, summed and compared everywhere (ledger, budgets, telemetry). */

const USD_PRECISION = 1e10;

/** `usd` rounded to 1e-10 USD, so that sums of many records do not drift with float noise. */
export function roundUsd(usd: number): number {
  return Math.round(usd * USD_PRECISION) / USD_PRECISION;
}
