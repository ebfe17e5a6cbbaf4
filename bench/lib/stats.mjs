// Order statistics shared by every scenario.

const sorted = (values) => [...values].sort((a, b) => a - b);

/** Percentile by linear interpolation between closest ranks (p in [0, 100]). */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const s = sorted(values);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

export const median = (values) => percentile(values, 50);

/** Median, min and max of one figure over rounds. */
export function spread(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x));
  if (v.length === 0) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** p50 / p99 (and count, max) of one sample. */
export function latencySummary(values) {
  return { p50: percentile(values, 50), p99: percentile(values, 99), max: values.length ? Math.max(...values) : null, n: values.length };
}
