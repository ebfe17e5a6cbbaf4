import type { RouteHandler } from "@hono/zod-openapi";
import { randomToken, sha256Hex } from "../../../lib/digest";
import type { ApiKey } from "../../../schemas/api-keys";
import * as keys from "../../../store/api-keys";
import { ForbiddenError, NotFoundError } from "../../../services/errors";
import { forgetApiKey, principalOf } from "../../middleware/guard";
import { decodeCursor, isoTime, toPage } from "../../paging";
import { BOOTSTRAP_KEY_ID, ROLE_PERMISSIONS, isPlatformAdmin, type Principal } from "../../permissions";
import type { AppEnv } from "../../types";
import { z } from "@hono/zod-openapi";
import type { createApiKey, getCurrentApiKey, listApiKeys, revokeApiKey } from "./api-keys.routes";

const KEY_PREFIX = "stp_";

function toApiKey(r: keys.ApiKeyRecord): ApiKey {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    tenant: r.tenant,
    key_prefix: r.keyPrefix,
    created_by: r.createdBy,
    created_at: isoTime(r.createdAt),
    last_used_at: isoTime(r.lastUsedAt),
    revoked_at: isoTime(r.revokedAt),
    rate_limit_per_minute: r.rateLimitPerMinute,
  };
}

/** A caller manages its own tenant's keys; platform admins may name any tenant. */
function tenantFor(p: Principal, requested: string | undefined): string {
  if (requested === undefined || requested === p.tenant) return p.tenant;
  if (!isPlatformAdmin(p)) throw new ForbiddenError("Only admins of the platform tenant may manage another tenant's keys.");
  return requested;
}

export const create: RouteHandler<typeof createApiKey, AppEnv> = async (c) => {
  const p = principalOf(c);
  const body = c.req.valid("json");
  const secret = `${KEY_PREFIX}${randomToken(32)}`;
  const record: keys.ApiKeyRecord = {
    id: `key_${randomToken(12)}`,
    tenant: tenantFor(p, body.tenant),
    name: body.name,
    role: body.role,
    keyPrefix: secret.slice(0, KEY_PREFIX.length + 6),
    createdBy: p.keyId,
    createdAt: Date.now(),
    lastUsedAt: null,
    revokedAt: null,
    rateLimitPerMinute: body.rate_limit_per_minute ?? null,
  };
  await keys.insertApiKey(c.env.DB, record, await sha256Hex(secret));
  c.set("auditTarget", record.id);
  c.set("auditTenant", record.tenant);
  c.set("auditDetail", { name: record.name, role: record.role, tenant: record.tenant, rate_limit_per_minute: record.rateLimitPerMinute });
  return c.json({ ...toApiKey(record), key: secret }, 201);
};

const KeyPosition = z.object({ c: z.number().int(), i: z.string() });

export const list: RouteHandler<typeof listApiKeys, AppEnv> = async (c) => {
  const p = principalOf(c);
  const q = c.req.valid("query");
  const after = decodeCursor(q.cursor, KeyPosition);
  const rows = await keys.listApiKeys(c.env.DB, {
    tenant: tenantFor(p, q.tenant),
    includeRevoked: q.include_revoked === "true",
    limit: q.limit,
    after: after && { createdAt: after.c, id: after.i },
  });
  return c.json(toPage(rows, q.limit, toApiKey, (r) => ({ c: r.createdAt, i: r.id })), 200);
};

export const revoke: RouteHandler<typeof revokeApiKey, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const existing = await keys.findApiKey(c.env.DB, id);
  // Another tenant's key is reported exactly like a missing one.
  if (!existing || (existing.tenant !== p.tenant && !isPlatformAdmin(p))) {
    throw new NotFoundError("API_KEY_NOT_FOUND", `No API key '${id}'.`);
  }
  const revoked = await keys.revokeApiKey(c.env.DB, id, Date.now());
  if (!revoked) throw new NotFoundError("API_KEY_NOT_FOUND", `No API key '${id}'.`);
  forgetApiKey(id);
  c.set("auditTenant", revoked.tenant);
  c.set("auditDetail", { tenant: revoked.tenant });
  return c.json(toApiKey(revoked), 200);
};

export const current: RouteHandler<typeof getCurrentApiKey, AppEnv> = async (c) => {
  const p = principalOf(c);
  // The bootstrap key has no record; a stored key's name is read again (the principal carries none).
  const record = p.keyId === BOOTSTRAP_KEY_ID ? null : await keys.findApiKey(c.env.DB, p.keyId);
  return c.json({ id: p.keyId, name: record?.name ?? null, role: p.role, tenant: p.tenant, permissions: [...ROLE_PERMISSIONS[p.role]] }, 200);
};
