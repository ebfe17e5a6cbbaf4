/** D1 repository for API keys. Only SHA-256 digests of secrets are stored. */
import type { Role } from "../schemas/api-keys";

export interface ApiKeyRecord {
  id: string;
  tenant: string;
  name: string;
  role: Role;
  keyPrefix: string;
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** Requests per minute; null: the deployment's default. */
  rateLimitPerMinute: number | null;
}

interface ApiKeyRow {
  id: string;
  tenant: string;
  name: string;
  role: Role;
  key_prefix: string;
  created_by: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  rate_limit_per_minute: number | null;
}

const COLUMNS = "id, tenant, name, role, key_prefix, created_by, created_at, last_used_at, revoked_at, rate_limit_per_minute";

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    name: row.name,
    role: row.role,
    keyPrefix: row.key_prefix,
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    rateLimitPerMinute: row.rate_limit_per_minute,
  };
}

/** Creates the key and, in the same transaction, its tenant when this is the tenant's first key. */
export async function insertApiKey(db: D1Database, key: ApiKeyRecord, keyHash: string): Promise<void> {
  await db.batch([
    db.prepare("INSERT OR IGNORE INTO tenants (id, created_at) VALUES (?1, ?2)").bind(key.tenant, key.createdAt),
    db
      .prepare(
        `INSERT INTO api_keys (id, tenant, name, role, key_hash, key_prefix, created_by, created_at, rate_limit_per_minute)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
      )
      .bind(key.id, key.tenant, key.name, key.role, keyHash, key.keyPrefix, key.createdBy, key.createdAt, key.rateLimitPerMinute),
  ]);
}

export async function findApiKeyByHash(db: D1Database, keyHash: string): Promise<ApiKeyRecord | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = ?1`).bind(keyHash).first<ApiKeyRow>();
  return row ? toRecord(row) : null;
}

export async function findApiKey(db: D1Database, id: string): Promise<ApiKeyRecord | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?1`).bind(id).first<ApiKeyRow>();
  return row ? toRecord(row) : null;
}

export interface ApiKeyPageQuery {
  tenant: string;
  includeRevoked: boolean;
  limit: number;
  /** Keyset position: the (created_at, id) of the last row of the previous page. */
  after?: { createdAt: number; id: string };
}

/** Newest first; fetches limit + 1 rows so the caller knows whether another page exists. */
export async function listApiKeys(db: D1Database, q: ApiKeyPageQuery): Promise<ApiKeyRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM api_keys
       WHERE tenant = ?1
         AND (?2 = 1 OR revoked_at IS NULL)
         AND (?3 IS NULL OR created_at < ?3 OR (created_at = ?3 AND id < ?4))
       ORDER BY created_at DESC, id DESC
       LIMIT ?5`,
    )
    .bind(q.tenant, q.includeRevoked ? 1 : 0, q.after?.createdAt ?? null, q.after?.id ?? null, q.limit + 1)
    .all<ApiKeyRow>();
  return results.map(toRecord);
}

/** Marks the key revoked (keeping the first revocation time) and returns it. */
export async function revokeApiKey(db: D1Database, id: string, at: number): Promise<ApiKeyRecord | null> {
  const row = await db
    .prepare(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1 RETURNING ${COLUMNS}`)
    .bind(id, at)
    .first<ApiKeyRow>();
  return row ? toRecord(row) : null;
}

/** Records use at most once a minute per key, so reads do not turn into a write per request. */
export async function touchApiKey(db: D1Database, id: string, at: number): Promise<void> {
  await db
    .prepare("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - 60000)")
    .bind(id, at)
    .run();
}
