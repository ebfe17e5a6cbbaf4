import { z, type RouteHandler } from "@hono/zod-openapi";
import { canonicalJson } from "../../../engine/canonical-json";
import { sha256Hex } from "../../../lib/digest";
import type { WorkflowDefinition } from "../../../schemas/definition";
import type { WorkflowVersion, WorkflowVersionSummary } from "../../../schemas/workflows";
import * as workflows from "../../../store/workflows";
import { assertValidDefinition, workflowNotFound as notFound } from "../../../services/definitions";
import { ConflictError } from "../../../services/errors";
import { principalOf } from "../../middleware/guard";
import { decodeCursor, isoTime, toPage } from "../../paging";
import type { AppEnv } from "../../types";
import type { archiveWorkflow, getWorkflow, listWorkflowVersions, listWorkflows, registerWorkflow } from "./workflows.routes";

function toSummary(r: workflows.WorkflowVersionRecord): WorkflowVersionSummary {
  return {
    id: r.workflowId,
    version: r.version,
    hash: r.hash,
    name: r.name,
    ...(r.description !== null ? { description: r.description } : {}),
    archived: r.archivedAt !== null,
    created_at: isoTime(r.createdAt),
  };
}

function toWorkflowVersion(r: workflows.WorkflowVersionRecord): WorkflowVersion {
  return { ...toSummary(r), definition: JSON.parse(r.definition) as WorkflowDefinition };
}

export const register: RouteHandler<typeof registerWorkflow, AppEnv> = async (c) => {
  const p = principalOf(c);
  const definition = c.req.valid("json");
  c.set("auditTarget", definition.id);
  assertValidDefinition(definition);
  const canonical = canonicalJson(definition);
  const outcome = await workflows.registerWorkflowVersion(c.env.DB, {
    tenant: p.tenant,
    workflowId: definition.id,
    hash: await sha256Hex(canonical),
    name: definition.name ?? definition.id,
    description: definition.description ?? null,
    definition: canonical,
    createdBy: p.keyId,
    createdAt: Date.now(),
  });
  if (outcome.kind === "archived") {
    throw new ConflictError("WORKFLOW_ARCHIVED", `Workflow '${definition.id}' is archived; register it under a new id.`);
  }
  const { record } = outcome;
  c.set("auditDetail", { version: record.version, hash: record.hash, created: outcome.kind === "created" });
  c.header("Location", `/v1/workflows/${encodeURIComponent(record.workflowId)}?version=${record.version}`);
  return outcome.kind === "created" ? c.json(toWorkflowVersion(record), 201) : c.json(toWorkflowVersion(record), 200);
};

const IdPosition = z.object({ i: z.string() });

export const list: RouteHandler<typeof listWorkflows, AppEnv> = async (c) => {
  const p = principalOf(c);
  const q = c.req.valid("query");
  const position = decodeCursor(q.cursor, IdPosition);
  const rows = await workflows.listLatestWorkflows(c.env.DB, {
    tenant: p.tenant,
    archived: q.archived === undefined ? undefined : q.archived === "true",
    afterId: position?.i,
    limit: q.limit,
  });
  return c.json(toPage(rows, q.limit, toWorkflowVersion, (r) => ({ i: r.workflowId })), 200);
};

export const get: RouteHandler<typeof getWorkflow, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const { version } = c.req.valid("query");
  const record = await workflows.findWorkflowVersion(c.env.DB, p.tenant, id, version);
  if (!record) throw notFound(id, version);
  return c.json(toWorkflowVersion(record), 200);
};

const VersionPosition = z.object({ v: z.number().int() });

export const versions: RouteHandler<typeof listWorkflowVersions, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const q = c.req.valid("query");
  const position = decodeCursor(q.cursor, VersionPosition);
  const rows = await workflows.listWorkflowVersions(c.env.DB, {
    tenant: p.tenant,
    workflowId: id,
    beforeVersion: position?.v,
    limit: q.limit,
  });
  if (rows.length === 0 && !position) throw notFound(id);
  return c.json(toPage(rows, q.limit, toSummary, (r) => ({ v: r.version })), 200);
};

export const archive: RouteHandler<typeof archiveWorkflow, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  if (!(await workflows.archiveWorkflow(c.env.DB, p.tenant, id, Date.now()))) throw notFound(id);
  const record = await workflows.findWorkflowVersion(c.env.DB, p.tenant, id);
  if (!record) throw notFound(id);
  return c.json(toWorkflowVersion(record), 200);
};
