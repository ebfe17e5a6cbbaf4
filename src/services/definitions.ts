/**
 * Workflow definitions as the use cases need them, shared by registration (`POST /v1/workflows`)
 * and starts (`POST /v1/executions`): checked beyond the schema, resolved from a registered
 * version or taken inline, checked runnable by this engine, and an input checked against the
 * definition's `input_schema`. Each check throws the API error that answers it.
 */
import { canonicalJson } from "../engine/canonical-json";
import { validateJsonValue } from "../engine/json-schema-validate";
import { PLUGIN_NAMES, RETRY_ON_CODES } from "../engine/plugins";
import { unrunnableSteps } from "../engine/steps/registry";
import { validateDefinition } from "../engine/validate-definition";
import { sha256Hex } from "../lib/digest";
import type { WorkflowDefinition } from "../schemas/definition";
import type { FieldError } from "../schemas/errors";
import type { StartExecutionBody } from "../schemas/executions";
import { readStartHead } from "../store/start-context";
import { findWorkflowVersion } from "../store/workflows";
import { cachedVersion, heldVersion, keepVersion, type CachedVersion } from "./version-cache";
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from "./errors";

/** Static checks beyond the schema; every problem is listed in one 400. */
export function assertValidDefinition(definition: WorkflowDefinition): void {
  const found = validateDefinition(definition, { plugins: PLUGIN_NAMES, errorCodes: RETRY_ON_CODES });
  if (found.length > 0) {
    throw new ValidationError(
      found.map((p) => ({ ...p, in: "body" as const })),
      `The definition has ${found.length} problem${found.length === 1 ? "" : "s"}.`,
    );
  }
}

/** The 404 of a workflow (or of one of its versions) the tenant does not have. */
export function workflowNotFound(id: string, version?: number): NotFoundError {
  return new NotFoundError("WORKFLOW_NOT_FOUND", version === undefined ? `No workflow '${id}'.` : `Workflow '${id}' has no version ${version}.`);
}

export interface ResolvedDefinition {
  workflowId: string;
  /** 0 for an inline definition. */
  workflowVersion: number;
  /** Shared by every request of the isolate for a registered version (version-cache.ts): never mutate it. */
  definition: WorkflowDefinition;
  hash: string;
  /** The shared budgets that apply, when read with a registered definition (same round trip). */
  budgetIds?: string[];
}

/**
 * The definition a start runs: the inline one (validated here), or the tenant's registered version
 * (not archived). A registered one costs one D1 round trip: which version is current, whether the
 * workflow is archived and the applicable budgets are read every time; the definition itself only
 * when this isolate does not hold that version yet.
 */
export async function resolveDefinition(db: D1Database, tenant: string, body: StartExecutionBody): Promise<ResolvedDefinition> {
  if ("definition" in body) {
    assertValidDefinition(body.definition);
    return { workflowId: body.definition.id, workflowVersion: 0, definition: body.definition, hash: await sha256Hex(canonicalJson(body.definition)) };
  }
  const { version: record, budgetIds } = await readStartHead(db, tenant, body.workflow_id, body.version, heldVersion(tenant, body.workflow_id, body.version));
  if (!record) throw workflowNotFound(body.workflow_id, body.version);
  if (record.archivedAt !== null) throw new ConflictError("WORKFLOW_ARCHIVED", `Workflow '${body.workflow_id}' is archived: it takes no new executions.`);
  const { definition, hash } = await versionOf(db, tenant, record.workflowId, record.version, record.definition, record.hash);
  return { workflowId: record.workflowId, workflowVersion: record.version, definition, hash, budgetIds };
}

/** The version's definition: the text just read, else the isolate's copy, else (evicted meanwhile) read again. */
async function versionOf(db: D1Database, tenant: string, workflowId: string, version: number, text: string | null, hash: string): Promise<CachedVersion> {
  if (text !== null) return keepVersion(tenant, workflowId, version, text, hash);
  const held = cachedVersion(tenant, workflowId, version);
  if (held) return held;
  const record = await findWorkflowVersion(db, tenant, workflowId, version);
  if (!record) throw workflowNotFound(workflowId, version); // cannot happen: versions are never deleted
  return keepVersion(tenant, workflowId, version, record.definition, record.hash);
}

/** Features of the definition language this engine cannot run yet: refused before anything starts. */
export function unsupportedFeatures(def: WorkflowDefinition): FieldError[] {
  return unrunnableSteps(def).map((p) => ({ ...p, in: "body" as const }));
}

export function assertRunnable(def: WorkflowDefinition): void {
  const problems = unsupportedFeatures(def);
  if (problems.length > 0) throw new UnprocessableError("FEATURE_NOT_AVAILABLE", "The workflow uses features this engine cannot run yet.", problems);
}

export function assertValidInput(def: WorkflowDefinition, input: unknown): void {
  if (!def.input_schema) return;
  const problems = validateJsonValue(def.input_schema, input);
  if (problems.length > 0) throw inputSchemaError(problems);
}

/** The 400 of an input that does not match the workflow's `input_schema` (`problems`: JSON Pointers inside the input). */
export function inputSchemaError(problems: readonly { path: string; message: string }[]): ValidationError {
  return new ValidationError(
    problems.map((p) => ({ path: `/input${p.path}`, message: p.message, code: "INPUT_SCHEMA", in: "body" as const })),
    `The input does not match the workflow's input_schema (${problems.length} problem${problems.length === 1 ? "" : "s"}).`,
  );
}
