/** Rate limits per API key (SPEC §8): the window and what the key's object answers. */

/** The window of a key's rate: at most its limit of requests in any minute. */
export const RATE_WINDOW_MS = 60_000;

export interface RateDecision {
  allowed: boolean;
  /** Requests per window. */
  limit: number;
  /** Requests still allowed in the window after this one. */
  remaining: number;
  /** Seconds until `remaining` goes up (a refused request's Retry-After); 0 when nothing is logged. */
  resetSeconds: number;
}
