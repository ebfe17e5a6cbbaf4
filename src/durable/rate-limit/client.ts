/**
 * The Worker's side of the rate-limit Durable Object: one object per API key, addressed by the
 * key's id (`getByName`). Imports nothing but the decision's schema.
 */
import type { RateDecision } from "../../schemas/rate-limits";

export type { RateDecision };

export interface RateLimitRpc {
  /** Admits one request of the key if fewer than `limit` were admitted in the last minute. */
  hit(limit: number): RateDecision | Promise<RateDecision>;
}

export function rateLimitRpc(env: Env, keyId: string): { hit(limit: number): Promise<RateDecision> } {
  return env.RATE_LIMITS.getByName(keyId) as unknown as { hit(limit: number): Promise<RateDecision> };
}
