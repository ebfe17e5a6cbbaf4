/**
 * Starting an execution: with an Idempotency-Key, first find the execution the key already made
 * (a replay answers from it, whatever became of the workflow since); then resolve the definition
 * (registered version or inline), check the input against `input_schema`, derive the execution id
 * (from tenant + Idempotency-Key when given, so a concurrent duplicate reaches the same Durable
 * Object and cannot create a second execution), and create it in its Durable Object.
 */
import { canonicalJson } from "../../../engine/canonical-json";
import { validateJsonValue } from "../../../engine/json-schema-validate";
import { stepRunners } from "../../../engine/steps/registry";
import { sha256Hex, toHex } from "../../../lib/digest";
import { parseRfc3339 } from "../../../lib/time";
import type { WorkflowDefinition } from "../../../schemas/definition";
import type { Execution, StartExecutionBody } from "../../../schemas/executions";
import type { FieldError } from "../../../schemas/errors";
import { findWorkflowVersion } from "../../../store/workflows";
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from "../../errors";
import type { Principal } from "../../permissions";
import { assertValidDefinition } from "../workflows/workflows.handlers";

export interface ResolvedDefinition {
  workflowId: string;
  workflowVersion: number;
  definition: WorkflowDefinition;
  hash: string;
}

export async function resolveDefinition(db: D1Database, p: Principal, body: StartExecutionBody): Promise<ResolvedDefinition> {
  if ("definition" in body) {
    assertValidDefinition(body.definition);
    return { workflowId: body.definition.id, workflowVersion: 0, definition: body.definition, hash: await sha256Hex(canonicalJson(body.definition)) };
  }
  const record = await findWorkflowVersion(db, p.tenant, body.workflow_id, body.version);
  if (!record) {
    throw new NotFoundError(
      "WORKFLOW_NOT_FOUND",
      body.version === undefined ? `No workflow '${body.workflow_id}'.` : `Workflow '${body.workflow_id}' has no version ${body.version}.`,
    );
  }
  if (record.archivedAt !== null) throw new ConflictError("WORKFLOW_ARCHIVED", `Workflow '${body.workflow_id}' is archived: it takes no new executions.`);
  return {
    workflowId: record.workflowId,
    workflowVersion: record.version,
    definition: JSON.parse(record.definition) as WorkflowDefinition,
    hash: record.hash,
  };
}

/** Features of the definition language this engine cannot run yet: refused before anything starts. */
export function unsupportedFeatures(def: WorkflowDefinition): FieldError[] {
  const out: FieldError[] = [];
  def.steps.forEach((step, i) => {
    if (!stepRunners[step.type]) out.push({ path: `/steps/${i}/type`, message: `step type '${step.type}' cannot run yet`, in: "body" });
  });
  if (def.concurrency) out.push({ path: "/concurrency", message: "concurrency limits cannot run yet", in: "body" });
  return out;
}

export function assertValidInput(def: WorkflowDefinition, input: unknown): void {
  if (!def.input_schema) return;
  const problems = validateJsonValue(def.input_schema, input);
  if (problems.length > 0) {
    throw new ValidationError(
      problems.map((p) => ({ path: `/input${p.path}`, message: p.message, code: "INPUT_SCHEMA", in: "body" as const })),
      `The input does not match the workflow's input_schema (${problems.length} problem${problems.length === 1 ? "" : "s"}).`,
    );
  }
}

/** How long an Idempotency-Key is remembered (the IETF draft's and Stripe's 24 hours). */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** True when the key that created `e` is older than IDEMPOTENCY_KEY_TTL_MS: the key starts a new execution. */
export function idempotencyKeyExpired(e: Execution, now: number): boolean {
  const createdAt = parseRfc3339(e.created_at);
  return createdAt !== null && createdAt < now - IDEMPOTENCY_KEY_TTL_MS;
}

/**
 * `Retry-After` (seconds) of a `?wait=` that ran out: until a sleep ends (at most a minute), a few
 * seconds while a person is asked, otherwise one.
 */
export function retryAfterSeconds(e: Execution, now: number): number {
  const w = e.waiting_for;
  const wakeAt = w?.kind === "sleep" && w.until !== undefined ? parseRfc3339(w.until) : null;
  if (wakeAt !== null) return Math.min(60, Math.max(1, Math.ceil((wakeAt - now) / 1000)));
  if (w?.kind === "approval" || w?.kind === "answers") return 5;
  return 1;
}

/**
 * The execution id: random, or derived from tenant + Idempotency-Key (+ a generation) so that
 * every request with that key — concurrent ones included — is routed to the same Durable Object,
 * whose single thread lets only one of them create. A key older than IDEMPOTENCY_KEY_TTL_MS has
 * expired: the caller moves on to the next generation, i.e. a new execution.
 */
export async function executionIdFor(tenant: string, idempotencyKey: string | undefined, generation = 0): Promise<string> {
  if (idempotencyKey === undefined) return `ex_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
  const suffix = generation === 0 ? "" : `\n${generation}`;
  return `ex_${(await sha256Hex(`idempotency\n${tenant}\n${idempotencyKey}${suffix}`)).slice(0, 32)}`;
}

export function assertRunnable(def: WorkflowDefinition): void {
  const problems = unsupportedFeatures(def);
  if (problems.length > 0) throw new UnprocessableError("FEATURE_NOT_AVAILABLE", "The workflow uses features this engine cannot run yet.", problems);
}
