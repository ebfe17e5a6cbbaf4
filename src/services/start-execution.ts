/**
 * Starting an execution (`POST /v1/executions`): with an Idempotency-Key, first find the execution
 * the key already made (a replay answers from it, whatever became of the workflow since); then
 * resolve the definition (registered version or inline), check it runnable and the input against
 * `input_schema`, derive the execution id (from tenant + Idempotency-Key when given, so a
 * concurrent duplicate reaches the same Durable Object and cannot create a second execution), and
 * create it in its Durable Object. The route owns the HTTP answer (status, headers) and the audit
 * row; it learns what the request is about through `StartHooks` as the start goes.
 */
import { executionRpc, type ExecutionRpc } from "../durable/execution/client";
import { planHashOf } from "../engine/approvals";
import { canonicalJson } from "../engine/canonical-json";
import { isTerminalExecution } from "../engine/state-machine";
import { modelsOf } from "../engine/steps/llm";
import { sha256Hex, toHex } from "../lib/digest";
import { parseRfc3339 } from "../lib/time";
import type { AuditRow } from "../schemas/audit";
import type { Execution, StartExecutionBody } from "../schemas/executions";
import { startContext } from "../store/start-context";
import { assertRunnable, assertValidInput, resolveDefinition } from "./definitions";
import { ExecutionTimedOutError, UnprocessableError, ValidationError } from "./errors";
import type { ExecutionBudget } from "../engine/model";
import type { WorkflowBudget, WorkflowDefinition } from "../schemas/definition";
import type { ExecutionConcurrency } from "../schemas/concurrency";
import { ConcurrencyKeyProblem, renderConcurrency } from "../engine/slots";

/**
 * The execution's own budget: the workflow's, lowered by the start body (a higher one is 400); a
 * start body alone sets one that pauses when exceeded.
 */
export function executionBudget(workflow: WorkflowBudget | undefined, start: { max_usd: number } | undefined): ExecutionBudget | null {
  if (start && workflow && start.max_usd > workflow.max_usd) {
    throw new ValidationError(
      [{ path: "/budget/max_usd", message: `must be at most the workflow's budget (${workflow.max_usd} USD)`, code: "TOO_BIG", in: "body" }],
      "A start may lower the workflow's budget, not raise it.",
    );
  }
  if (workflow) return { max_usd: start?.max_usd ?? workflow.max_usd, on_exceed: workflow.on_exceed };
  return start ? { max_usd: start.max_usd, on_exceed: "pause" } : null;
}

/**
 * The execution's concurrency (see `renderConcurrency`, engine/slots.ts). A key that cannot be
 * rendered, or renders empty or too long, refuses the start (400): it depends on the input.
 */
export async function executionConcurrency(
  def: WorkflowDefinition,
  input: unknown,
  execution: { id: string; workflow_id: string; workflow_version: number },
  priority: number | undefined,
): Promise<ExecutionConcurrency | null> {
  try {
    return await renderConcurrency(def, input, execution, priority);
  } catch (err) {
    if (!(err instanceof ConcurrencyKeyProblem)) throw err;
    throw new ValidationError([{ path: "/input", message: err.message, code: "CONCURRENCY_KEY", in: "body" }], "The workflow's concurrency key cannot be made from this input.");
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

export interface StartRequest {
  tenant: string;
  body: StartExecutionBody;
  idempotencyKey: string | undefined;
  /** The origin the request came to (`https://host`): where the execution's callback URLs point. */
  origin?: string | null;
}

/** The workflow an execution runs, as its audit row names it. */
export type StartSubject = {
  workflow_id: string;
  workflow_version: number;
};

export interface StartHooks {
  /**
   * What the request is about, as it becomes known (`target`: the execution id, null before one is
   * chosen): called before each step that may fail, so a refused start is audited with it.
   */
  about(target: string | null, subject: StartSubject): void;
  /** The audit row the object records in the transaction that creates the execution (null: not audited). */
  auditRow(): AuditRow | null;
}

export type StartOutcome =
  /** The Idempotency-Key already made this execution, with the same request: answer from it. */
  | { kind: "replay"; id: string; execution: Execution }
  | { kind: "created"; id: string; execution: Execution; rpc: ExecutionRpc };

/** Starts an execution, or finds the one the request's Idempotency-Key already started. */
export async function startExecution(env: Env, req: StartRequest, hooks: StartHooks): Promise<StartOutcome> {
  const { tenant, body, idempotencyKey } = req;
  const requestHash = idempotencyKey === undefined ? null : await sha256Hex(canonicalJson(body));

  const replay = (id: string, existing: { execution: Execution; sameRequest: boolean }): StartOutcome => {
    hooks.about(id, { workflow_id: existing.execution.workflow_id, workflow_version: existing.execution.workflow_version });
    if (!existing.sameRequest) {
      throw new UnprocessableError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request body.");
    }
    return { kind: "replay", id, execution: existing.execution };
  };

  // A key already used is answered from the execution it created, before the definition is
  // resolved: a replay does not depend on what became of the workflow since (archived, new
  // versions). Nothing is written on this path.
  let generation = 0;
  if (requestHash !== null) {
    for (; ; generation++) {
      const id = await executionIdFor(tenant, idempotencyKey, generation);
      const existing = await executionRpc(env, id).existing(tenant, requestHash);
      if (existing === null) break;
      if (!idempotencyKeyExpired(existing.execution, Date.now())) return replay(id, existing);
    }
  }

  const resolved = await resolveDefinition(env.DB, tenant, body);
  assertRunnable(resolved.definition);
  const input = body.input ?? {};
  assertValidInput(resolved.definition, input);
  const budget = executionBudget(resolved.definition.budget, body.budget);

  const planHash = await planHashOf(resolved.hash, input);
  // Pinned like the definition: a price changed later does not reprice this execution's calls, and
  // a child workflow registered again later does not change what its workflow steps run.
  const { prices, budgetIds, childVersions, missingChildren } = await startContext(env.DB, tenant, resolved.workflowId, resolved.definition, modelsOf(resolved.definition), env.PRICES, resolved.budgetIds);
  if (missingChildren.length > 0) {
    throw new UnprocessableError(
      "CHILD_WORKFLOW_NOT_FOUND",
      "The workflow starts child workflows this tenant does not have (or has archived).",
      missingChildren.map((m) => ({ path: m.path, message: `no workflow '${m.workflowId}'${m.version !== undefined ? ` version ${m.version}` : ""} to start`, in: "body" as const })),
    );
  }
  const subject: StartSubject = { workflow_id: resolved.workflowId, workflow_version: resolved.workflowVersion };
  hooks.about(null, subject);
  for (; ; generation++) {
    const id = await executionIdFor(tenant, idempotencyKey, generation);
    hooks.about(id, subject);
    const rpc = executionRpc(env, id);
    const concurrency = await executionConcurrency(resolved.definition, input, { id, workflow_id: resolved.workflowId, workflow_version: resolved.workflowVersion }, body.priority);
    const result = await rpc.create({
      id,
      tenant,
      workflowId: resolved.workflowId,
      workflowVersion: resolved.workflowVersion,
      definitionHash: resolved.hash,
      definition: resolved.definition,
      input,
      labels: body.labels ?? {},
      requestHash,
      planHash,
      prices,
      budget,
      budgetIds,
      concurrency,
      origin: req.origin ?? null,
      parent: null,
      depth: 1,
      childVersions,
      audit: hooks.auditRow(),
    });
    if (result.kind === "created") return { kind: "created", id, execution: result.execution, rpc };
    // A concurrent duplicate created it between the look-up and here.
    if (!idempotencyKeyExpired(result.execution, Date.now())) return replay(id, result);
  }
}

export interface Waited {
  execution: Execution;
  /** The execution has ended (and not `timed_out`: that is thrown). */
  ended: boolean;
  /** When to look again, for an execution that has not ended. */
  retryAfterSeconds: number;
}

/**
 * `?wait=`: waits up to `waitSeconds` for the execution to end. One that ended `timed_out` while
 * the caller waited is the 504 of SPEC §4 (it exists; read it by id).
 */
export async function awaitEnd(rpc: ExecutionRpc, tenant: string, id: string, waitSeconds: number, current: Execution): Promise<Waited> {
  const latest = (await rpc.waitForEnd(tenant, waitSeconds * 1000)) ?? current;
  if (latest.status === "timed_out") throw new ExecutionTimedOutError(id);
  const ended = isTerminalExecution(latest.status);
  return { execution: latest, ended, retryAfterSeconds: ended ? 0 : retryAfterSeconds(latest, Date.now()) };
}
