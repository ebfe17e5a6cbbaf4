/**
 * Admitting an API key's requests (SPEC §8) from this isolate. The key's Durable Object decides
 * (one sliding log per key, so the rate holds across isolates); to spare busy keys a call per
 * request, this isolate asks for a lease of several admissions when the key has been sending many
 * requests here in the last second, and spends them itself for half a lease (the object logs each
 * a whole lease later, so no request is ever made later than the log says). A key with a limit
 * under 40 a minute, or sending one request at a time, is admitted by a call per request, exactly.
 *
 * Invariants:
 * - A leased admission is spent only within LEASE_MS / 2 of the call that granted it, only for the
 *   limit it was granted under; what is left then is dropped (it stays counted: conservative).
 * - A refusal always comes from the object (with its Retry-After).
 */
import { rateLimitRpc, type RateDecision } from "../durable/rate-limit/client";
import { LEASE_MS } from "../engine/rate-limit";

/** Most admissions asked for at once, and the share of the limit one lease may take (1/20). */
const MAX_LEASE = 100;
const LEASE_SHARE = 20;

interface Lease {
  limit: number;
  left: number;
  until: number;
  decision: RateDecision;
}

const leases = new Map<string, Lease>();
/** Requests of each key in this isolate in the current second: how big a lease to ask for. */
const paces = new Map<string, { since: number; count: number }>();

/**
 * Past this many keys remembered in the isolate, the stale ones are forgotten (an isolate can see
 * many keys), at most once a second so that the sweep stays off the per-request path.
 */
const REMEMBERED_KEYS = 1_024;
let sweptAt = 0;

function forgetStale(now: number): void {
  if (paces.size <= REMEMBERED_KEYS || now - sweptAt < 1_000) return;
  sweptAt = now;
  for (const [keyId, pace] of paces) if (now - pace.since >= 1_000) paces.delete(keyId);
  for (const [keyId, lease] of leases) if (now >= lease.until) leases.delete(keyId);
}

function paceOf(keyId: string, now: number): number {
  forgetStale(now);
  let pace = paces.get(keyId);
  if (!pace || now - pace.since >= 1_000) paces.set(keyId, (pace = { since: now, count: 0 }));
  return ++pace.count;
}

/** Admits one request of `keyId` under `limit` requests per minute, or refuses it (`allowed: false`). */
export async function admitRequest(env: Env, keyId: string, limit: number, now = Date.now()): Promise<RateDecision> {
  const pace = paceOf(keyId, now);
  const lease = leases.get(keyId);
  if (lease && lease.limit === limit && lease.left > 0 && now < lease.until) {
    lease.left--;
    return lease.decision;
  }
  const want = Math.max(1, Math.min(MAX_LEASE, Math.floor(limit / LEASE_SHARE), pace));
  const { granted, ...decision } = await rateLimitRpc(env, keyId).hit(limit, want);
  if (granted > 1) leases.set(keyId, { limit, left: granted - 1, until: now + LEASE_MS / 2, decision });
  else leases.delete(keyId);
  return decision;
}
