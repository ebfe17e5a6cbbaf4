/**
 * Per-route access control: authenticates the caller (401), checks the route's permission against
 * the role table (403), and names the route's audit action. Routes list it in `middleware`, so the
 * OpenAPI document and the code say the same thing.
 */
import { createMiddleware } from "hono/factory";
import { findApiKey, findApiKeyByHash, touchApiKey } from "../../store/api-keys";
import { digestsEqual, sha256Hex } from "../../lib/digest";
import { admitRequest } from "../../services/rate-limits";
import { ForbiddenError, RateLimitedError, UnauthorizedError } from "../../services/errors";
import { verifyStreamToken } from "../stream-token";
import { BOOTSTRAP_KEY_ID, PLATFORM_TENANT, can, type Permission, type Principal } from "../permissions";
import type { AppEnv } from "../types";

export function presentedKey(headers: { header(name: string): string | undefined }): string | null {
  const auth = headers.header("authorization");
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1] ?? null;
  }
  return headers.header("x-api-key")?.trim() || null;
}

/**
 * The bootstrap key's digest, kept per isolate (the key is fixed for a deployment's life). The
 * string is kept, not the promise: a promise must not be shared between requests.
 */
let adminKeyDigest: { key: string; digest: string } | null = null;
async function adminDigest(key: string): Promise<string> {
  if (adminKeyDigest?.key !== key) adminKeyDigest = { key, digest: await sha256Hex(key) };
  return adminKeyDigest.digest;
}

/**
 * Principals of stored keys, by key digest, kept per isolate for PRINCIPAL_TTL_MS: a key's tenant,
 * role and rate never change, only its revocation, so a key sending requests back to back costs a
 * D1 read every few seconds, not one per request. The price: a key revoked through another isolate
 * may still be accepted here for up to PRINCIPAL_TTL_MS (the isolate that revokes it forgets it at
 * once). Revoked and unknown keys are not kept: they are read again every time.
 */
export const PRINCIPAL_TTL_MS = 5_000;
const MAX_PRINCIPALS = 1_024;
const principals = new Map<string, { principal: Principal; until: number }>();

/** Forgets the key in this isolate (it was just revoked here): its next request reads D1 again. */
export function forgetApiKey(keyId: string): void {
  for (const [digest, held] of principals) if (held.principal.keyId === keyId) principals.delete(digest);
}

function keepPrincipal(digest: string, principal: Principal, now: number): void {
  if (principals.size >= MAX_PRINCIPALS) {
    for (const [d, held] of principals) if (now >= held.until) principals.delete(d);
    if (principals.size >= MAX_PRINCIPALS) principals.clear();
  }
  principals.set(digest, { principal, until: now + PRINCIPAL_TTL_MS });
}

/** How stale a key's `last_used_at` may be before a request writes it again (one write a minute at most). */
const LAST_USED_RESOLUTION_MS = 60_000;

export async function authenticate(env: Env, key: string, ctx?: { waitUntil(p: Promise<unknown>): void }): Promise<Principal> {
  const digest = await sha256Hex(key);
  if (env.ADMIN_API_KEY && digestsEqual(digest, await adminDigest(env.ADMIN_API_KEY))) {
    return { tenant: PLATFORM_TENANT, role: "admin", keyId: BOOTSTRAP_KEY_ID };
  }
  const now = Date.now();
  const held = principals.get(digest);
  if (held && now < held.until) return held.principal;
  const record = await findApiKeyByHash(env.DB, digest);
  if (!record) throw new UnauthorizedError("The API key is not valid.");
  if (record.revokedAt !== null) throw new UnauthorizedError("The API key has been revoked.");
  // Only when the stored time is a minute old: a write per key a minute, not one per request.
  if (record.lastUsedAt === null || record.lastUsedAt < now - LAST_USED_RESOLUTION_MS) {
    const touch = touchApiKey(env.DB, record.id, now);
    if (ctx) ctx.waitUntil(touch);
    else await touch;
  }
  const principal: Principal = { tenant: record.tenant, role: record.role, keyId: record.id, rateLimitPerMinute: record.rateLimitPerMinute };
  keepPrincipal(digest, principal, now);
  return principal;
}

/**
 * The principal of a stream token, or 401: the token must be valid (see `verifyStreamToken`) and
 * the API key that minted it (its id is in the token) must still be valid: a revoked key's tokens
 * stop working when a stream is opened. The bootstrap key cannot be revoked, only switched off.
 */
async function streamTokenPrincipal(env: Env, token: string, executionId: string): Promise<Principal> {
  const principal = await verifyStreamToken(env.STREAM_TOKEN_SECRET, token, executionId, Date.now());
  const revoked = new UnauthorizedError("The stream token was issued by an API key that has been revoked.");
  if (principal.keyId === BOOTSTRAP_KEY_ID && principal.tenant === PLATFORM_TENANT) {
    if (!env.ADMIN_API_KEY) throw revoked; // the bootstrap key was switched off
    return principal;
  }
  const minter = await findApiKey(env.DB, principal.keyId);
  if (!minter || minter.revokedAt !== null || minter.tenant !== principal.tenant) throw revoked;
  return { ...principal, rateLimitPerMinute: minter.rateLimitPerMinute };
}

/** Requests per minute of the deployment's keys that name none (RATE_LIMIT_PER_MINUTE; 1200 when unset or unusable). */
function defaultRateLimit(env: Env): number {
  const n = Number(env.RATE_LIMIT_PER_MINUTE);
  return Number.isInteger(n) && n >= 1 ? n : 1200;
}

function rateLimitOf(env: Env, principal: Principal): number {
  return principal.rateLimitPerMinute ?? defaultRateLimit(env);
}

export interface GuardOptions {
  /** What the route needs; null: any valid key (a route about the caller itself). */
  permission: Permission | null;
  /** Audit action name, e.g. "workflow.register". Reads are not audited unless denied. */
  action: string;
  /** Stream routes of one execution also accept `?token=` (a stream token for that execution). */
  streamToken?: boolean;
}

export function guard(options: GuardOptions) {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set("auditAction", options.action);
    const targetId = c.req.param("id");
    if (targetId) c.set("auditTarget", targetId);
    const key = presentedKey(c.req);
    const token = options.streamToken ? c.req.query("token") : undefined;
    let principal: Principal;
    if (key) principal = await authenticate(c.env, key, c.executionCtx);
    else if (token) principal = await streamTokenPrincipal(c.env, token, c.req.param("id") ?? "");
    else throw new UnauthorizedError("Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.");
    c.set("principal", principal);
    // Every request of a key counts, denied ones too; a refused one does nothing more.
    const rate = await admitRequest(c.env, principal.keyId, rateLimitOf(c.env, principal));
    c.set("rateLimit", rate);
    if (!rate.allowed) throw new RateLimitedError(rate.limit, rate.resetSeconds);
    if (options.permission !== null && !can(principal.role, options.permission)) {
      throw new ForbiddenError(`The ${principal.role} role may not ${options.action} (needs ${options.permission}).`);
    }
    await next();
  });
}

/** The authenticated caller; only valid behind `guard`. */
export function principalOf(c: { get(key: "principal"): Principal | undefined }): Principal {
  const p = c.get("principal");
  if (!p) throw new UnauthorizedError();
  return p;
}
