/**
 * D1 repository for the workflow registry: `workflows` (one row per id, pointing at its latest
 * version) and `workflow_versions` (immutable, content-hashed).
 */
import type { WorkflowDefinition } from "../schemas/definition";
export interface WorkflowVersionRecord {
  tenant: string;
  workflowId: string;
  version: number;
  hash: string;
  name: string;
  description: string | null;
  /** Canonical JSON of the definition. */
  definition: string;
  createdBy: string | null;
  createdAt: number;
  archivedAt: number | null;
}

interface VersionRow {
  tenant: string;
  workflow_id: string;
  version: number;
  hash: string;
  name: string;
  description: string | null;
  /** Null only from `workflowVersionStatement` for a version the caller holds. */
  definition: string;
  created_by: string | null;
  created_at: number;
  archived_at: number | null;
}

const VERSION_COLUMNS =
  "v.tenant, v.workflow_id, v.version, v.hash, v.name, v.description, v.definition, v.created_by, v.created_at, w.archived_at";

function toRecord(row: VersionRow): WorkflowVersionRecord {
  return {
    tenant: row.tenant,
    workflowId: row.workflow_id,
    version: row.version,
    hash: row.hash,
    name: row.name,
    description: row.description,
    definition: row.definition,
    createdBy: row.created_by,
    createdAt: row.created_at,
    archivedAt: row.archived_at,
  };
}

/** The given version, or the latest when `version` is omitted. */
export async function findWorkflowVersion(
  db: D1Database,
  tenant: string,
  workflowId: string,
  version?: number,
): Promise<WorkflowVersionRecord | null> {
  const row = await workflowVersionStatement(db, tenant, workflowId, version, null).first<VersionRow>();
  return row ? toRecord(row) : null;
}

/** A version as a start reads it: `definition` is null when the caller said it holds that version. */
export type WorkflowVersionHead = Omit<WorkflowVersionRecord, "definition"> & { definition: string | null };

/**
 * The statement reading the given version (or the latest) with the workflow's archive mark. The
 * definition text is left out when the version found is `held` (a version never changes, so a
 * caller that holds it needs only which version is current and whether the workflow is archived).
 */
export function workflowVersionStatement(db: D1Database, tenant: string, workflowId: string, version: number | undefined, held: number | null): D1PreparedStatement {
  return db
    .prepare(
      `SELECT v.tenant, v.workflow_id, v.version, v.hash, v.name, v.description,
              CASE WHEN v.version = ?4 THEN NULL ELSE v.definition END AS definition,
              v.created_by, v.created_at, w.archived_at
       FROM workflows w
       JOIN workflow_versions v ON v.tenant = w.tenant AND v.workflow_id = w.id
       WHERE w.tenant = ?1 AND w.id = ?2 AND v.version = COALESCE(?3, w.latest_version)`,
    )
    .bind(tenant, workflowId, version ?? null, held);
}

/** The row of `workflowVersionStatement`, or null when there was none. */
export function workflowVersionHeadOf(row: unknown): WorkflowVersionHead | null {
  return row ? (toRecord(row as VersionRow) as WorkflowVersionHead) : null;
}

/**
 * Inserts `record.version` and moves the workflow's latest pointer to it, in one transaction.
 * Returns false when that version number was taken meanwhile (a concurrent registration), so the
 * caller can re-read and retry; the primary key guarantees versions are never overwritten.
 */
export async function insertWorkflowVersion(db: D1Database, record: Omit<WorkflowVersionRecord, "archivedAt">): Promise<boolean> {
  try {
    await db.batch([
      db
        .prepare(
          `INSERT INTO workflow_versions (tenant, workflow_id, version, hash, name, description, definition, created_by, created_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
        )
        .bind(
          record.tenant,
          record.workflowId,
          record.version,
          record.hash,
          record.name,
          record.description,
          record.definition,
          record.createdBy,
          record.createdAt,
        ),
      db
        .prepare(
          `INSERT INTO workflows (tenant, id, latest_version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
           ON CONFLICT (tenant, id) DO UPDATE SET latest_version = excluded.latest_version, updated_at = excluded.updated_at
           WHERE excluded.latest_version > workflows.latest_version`,
        )
        .bind(record.tenant, record.workflowId, record.version, record.createdAt),
    ]);
    return true;
  } catch (err) {
    if (err instanceof Error && /UNIQUE constraint failed|PRIMARY KEY/i.test(err.message)) return false;
    throw err;
  }
}

export interface WorkflowPageQuery {
  tenant: string;
  archived?: boolean;
  limit: number;
  /** Keyset position: the id of the last workflow of the previous page (ascending by id). */
  afterId?: string;
}

/** Latest version of each workflow, ordered by id. */
export async function listLatestWorkflows(db: D1Database, q: WorkflowPageQuery): Promise<WorkflowVersionRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${VERSION_COLUMNS} FROM workflows w
       JOIN workflow_versions v ON v.tenant = w.tenant AND v.workflow_id = w.id AND v.version = w.latest_version
       WHERE w.tenant = ?1
         AND (?2 IS NULL OR (?2 = 1) = (w.archived_at IS NOT NULL))
         AND (?3 IS NULL OR w.id > ?3)
       ORDER BY w.id
       LIMIT ?4`,
    )
    .bind(q.tenant, q.archived === undefined ? null : q.archived ? 1 : 0, q.afterId ?? null, q.limit + 1)
    .all<VersionRow>();
  return results.map(toRecord);
}

export interface VersionPageQuery {
  tenant: string;
  workflowId: string;
  limit: number;
  /** Keyset position: the last version of the previous page (newest first). */
  beforeVersion?: number;
}

export async function listWorkflowVersions(db: D1Database, q: VersionPageQuery): Promise<WorkflowVersionRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${VERSION_COLUMNS} FROM workflows w
       JOIN workflow_versions v ON v.tenant = w.tenant AND v.workflow_id = w.id
       WHERE w.tenant = ?1 AND w.id = ?2 AND (?3 IS NULL OR v.version < ?3)
       ORDER BY v.version DESC
       LIMIT ?4`,
    )
    .bind(q.tenant, q.workflowId, q.beforeVersion ?? null, q.limit + 1)
    .all<VersionRow>();
  return results.map(toRecord);
}

/** Archives the workflow (idempotent: the first archive time is kept). Returns false when absent. */
export async function archiveWorkflow(db: D1Database, tenant: string, workflowId: string, at: number): Promise<boolean> {
  const res = await db
    .prepare("UPDATE workflows SET archived_at = COALESCE(archived_at, ?3), updated_at = ?3 WHERE tenant = ?1 AND id = ?2")
    .bind(tenant, workflowId, at)
    .run();
  return res.meta.changes > 0;
}

export type RegisterOutcome =
  | { kind: "created"; record: WorkflowVersionRecord }
  | { kind: "unchanged"; record: WorkflowVersionRecord }
  | { kind: "archived"; record: WorkflowVersionRecord };

/**
 * Registers a definition as the workflow's next version, unless its hash equals the latest
 * version's (then nothing is written). A concurrent registration that takes the same version
 * number makes this one re-read and try the next number; identical concurrent registrations
 * therefore converge on one version.
 */
export async function registerWorkflowVersion(
  db: D1Database,
  input: Omit<WorkflowVersionRecord, "version" | "archivedAt">,
): Promise<RegisterOutcome> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const latest = await findWorkflowVersion(db, input.tenant, input.workflowId);
    if (latest && latest.archivedAt !== null) return { kind: "archived", record: latest };
    if (latest && latest.hash === input.hash) return { kind: "unchanged", record: latest };
    const record = { ...input, version: (latest?.version ?? 0) + 1 };
    if (await insertWorkflowVersion(db, record)) return { kind: "created", record: { ...record, archivedAt: null } };
  }
  throw new Error(`registering ${input.workflowId}: too many concurrent registrations`);
}

/** A child workflow a definition names that the tenant does not have (or has archived, when unversioned). */
export interface MissingChild {
  /** JSON Pointer of the step's `workflow_id` in the definition. */
  path: string;
  workflowId: string;
  version?: number;
}

/**
 * The child workflows of `definition`'s `workflow` steps (map sub-steps included), resolved when an
 * execution starts (SPEC §9: the child's version is pinned then): for each one named without a
 * `version`, its latest version (an archived workflow takes no new executions); each named with
 * one, checked to exist. One query per distinct workflow.
 */
export async function pinChildVersions(
  db: D1Database,
  tenant: string,
  definition: WorkflowDefinition,
): Promise<{ pins: Record<string, number>; missing: MissingChild[] }> {
  const named: { path: string; workflowId: string; version?: number }[] = [];
  definition.steps.forEach((step, i) => {
    if (step.type === "workflow") named.push({ path: `/steps/${i}/workflow_id`, workflowId: step.workflow_id, version: step.version });
    if (step.type === "map" && step.step.type === "workflow") {
      named.push({ path: `/steps/${i}/step/workflow_id`, workflowId: step.step.workflow_id, version: step.step.version });
    }
  });
  const lookups = new Map<string, Promise<WorkflowVersionRecord | null>>();
  for (const n of named) {
    const key = `${n.workflowId}\n${n.version ?? ""}`;
    if (!lookups.has(key)) lookups.set(key, findWorkflowVersion(db, tenant, n.workflowId, n.version));
  }
  const pins: Record<string, number> = {};
  const missing: MissingChild[] = [];
  for (const n of named) {
    const record = await lookups.get(`${n.workflowId}\n${n.version ?? ""}`)!;
    if (!record || (n.version === undefined && record.archivedAt !== null)) {
      missing.push({ path: n.path, workflowId: n.workflowId, ...(n.version !== undefined ? { version: n.version } : {}) });
    } else if (n.version === undefined) {
      pins[n.workflowId] = record.version;
    }
  }
  return { pins, missing };
}
