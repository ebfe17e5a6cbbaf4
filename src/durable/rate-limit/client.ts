/**
 * The Worker's side of the rate-limit Durable Object: one object per API key, addressed by the
 * key's id (`getByName`). Imports nothing but the decision's schema.
 */
import type { RateDecision } from "../../schemas/rate-limits";

export type { RateDecision };

/** A decision, and how many admissions it grants (a lease of up to `want`; 0 when refused). */
export type RateLease = RateDecision & { granted: number };

export interface RateLimitRpc {
  /** Admits up to `want` requests of the key while fewer than `limit` were admitted in the last minute. */
  hit(limit: number, want?: number): Promise<RateLease>;
}

export function rateLimitRpc(env: Env, keyId: string): RateLimitRpc {
  return env.RATE_LIMITS.getByName(keyId) as unknown as RateLimitRpc;
}
