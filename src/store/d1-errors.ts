/**
 * Which D1 errors mean "D1 is briefly unavailable" rather than a fault of the query: the ones
 * Cloudflare lists as retryable (D1's error list and "Retry queries" best practice). A request that
 * meets one is answered 503 with a Retry-After, not 500: the client can tell an outage from a bug.
 */
const TRANSIENT = [
  "Network connection lost",
  "storage caused object to be reset",
  "reset because its code was updated",
  "D1 DB is overloaded",
  "Too many requests queued",
  "Cannot resolve D1 DB due to transient issue",
  "storage operation exceeded timeout",
];

export function isD1Unavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const text = `${err.message} ${err.cause instanceof Error ? err.cause.message : ""}`;
  return text.includes("D1_") && TRANSIENT.some((t) => text.includes(t));
}
