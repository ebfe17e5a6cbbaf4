import { z, type RouteHandler } from "@hono/zod-openapi";
import { eventSocketRequest, eventStreamRequest } from "../../../durable/execution/client";
import { allowedExecutionCommands, isTerminalExecution } from "../../../engine/state-machine";
import type { Execution, ExecutionSummary } from "../../../schemas/executions";
import type { AuditRow } from "../../../schemas/audit";
import { awaitEnd, startExecution as startExecutionUseCase } from "../../../services/start-execution";
import { inputSchemaError } from "../../../services/definitions";
import * as index from "../../../store/executions";
import { auditEntryFor } from "../../audit-entry";
import { executionNotFound, executionStub } from "../../execution-stub";
import { signStreamToken } from "../../stream-token";
import { ConflictError, InvalidStateError, NotFoundError, UpgradeRequiredError, ValidationError } from "../../../services/errors";
import { principalOf } from "../../middleware/guard";
import { decodeCursor, isoTime, parseTime, toPage } from "../../paging";
import type { AppEnv } from "../../types";
import type {
  cancelExecution,
  getExecution,
  getExecutionCosts,
  getExecutionResult,
  listExecutionEvents,
  listExecutionSteps,
  listExecutions,
  pauseExecution,
  resumeExecution,
  retryExecution,
  answerStep,
  decideApproval,
  raiseExecutionBudget,
  createStreamToken,
  openExecutionSocket,
  startExecution,
} from "./executions.routes";


function stepNotFound(id: string, stepId: string | undefined): NotFoundError {
  return new NotFoundError("STEP_NOT_FOUND", `Execution '${id}' has no step '${stepId}'.`);
}


function located(id: string): string {
  return `/v1/executions/${id}`;
}

export const start: RouteHandler<typeof startExecution, AppEnv> = async (c) => {
  const p = principalOf(c);
  const body = c.req.valid("json");
  const { wait } = c.req.valid("query");
  const outcome = await startExecutionUseCase(
    c.env,
    { tenant: p.tenant, body, idempotencyKey: c.req.valid("header")["idempotency-key"], origin: new URL(c.req.url).origin },
    {
      about: (target, subject) => {
        if (target !== null) c.set("auditTarget", target);
        c.set("auditDetail", subject);
      },
      auditRow: () => auditEntryFor(c, 202),
    },
  );
  c.header("Location", located(outcome.id));
  if (outcome.kind === "replay") {
    c.header("Idempotent-Replayed", "true");
    return c.json(outcome.execution, 200);
  }
  c.set("auditHandedOff", true);
  if (wait !== undefined && wait > 0) {
    const waited = await awaitEnd(outcome.rpc, p.tenant, outcome.id, wait, outcome.execution);
    if (waited.ended) return c.json(waited.execution, 200);
    c.header("Retry-After", String(waited.retryAfterSeconds));
    return c.json(waited.execution, 202);
  }
  return c.json(outcome.execution, 202);
};

const Position = z.object({ c: z.number().int(), i: z.string() });

function toSummary(r: index.ExecutionIndexRow): ExecutionSummary {
  return {
    id: r.id,
    workflow_id: r.workflowId,
    workflow_version: r.workflowVersion,
    status: r.status,
    labels: r.labels,
    created_at: isoTime(r.createdAt),
    ...(r.startedAt !== null ? { started_at: isoTime(r.startedAt) } : {}),
    ...(r.endedAt !== null ? { ended_at: isoTime(r.endedAt) } : {}),
    // Rows indexed before costs were recorded have none: they cost nothing that was recorded.
    cost: { total_usd: r.costUsd ?? 0, input_tokens: r.inputTokens ?? 0, output_tokens: r.outputTokens ?? 0 },
    ...(r.parent ? { parent: { execution_id: r.parent.executionId, step_id: r.parent.stepId } } : {}),
    ...(r.errorCode !== null ? { error_code: r.errorCode } : {}),
  };
}

export const list: RouteHandler<typeof listExecutions, AppEnv> = async (c) => {
  const p = principalOf(c);
  const q = c.req.valid("query");
  const position = decodeCursor(q.cursor, Position);
  const colon = q.label?.indexOf(":") ?? -1;
  const { rows, rowsRead } = await index.listExecutions(c.env.DB, {
    tenant: p.tenant,
    workflowId: q.workflow_id,
    parentId: q.parent_id,
    status: q.status,
    label: q.label !== undefined ? { key: q.label.slice(0, colon), value: q.label.slice(colon + 1) } : undefined,
    createdAfter: parseTime(q.created_after, "/created_after"),
    createdBefore: parseTime(q.created_before, "/created_before"),
    before: position && { createdAt: position.c, id: position.i },
    limit: q.limit,
  });
  c.set("d1RowsRead", rowsRead); // in the request log: what a listing page costs
  return c.json(toPage(rows, q.limit, toSummary, (r) => ({ c: r.createdAt, i: r.id })), 200);
};

export const get: RouteHandler<typeof getExecution, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const execution = await executionStub(c.env, id).get(p.tenant);
  if (!execution) throw executionNotFound(id);
  return c.json(execution, 200);
};

export const result: RouteHandler<typeof getExecutionResult, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const e = await executionStub(c.env, id).get(p.tenant);
  if (!e) throw executionNotFound(id);
  if (!isTerminalExecution(e.status)) throw new InvalidStateError("read the result of", e.status, allowedExecutionCommands(e.status, "user"));
  return c.json({ id: e.id, status: e.status, ...(e.output !== undefined ? { output: e.output } : {}), ...(e.error ? { error: e.error } : {}) }, 200);
};

export const steps: RouteHandler<typeof listExecutionSteps, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const items = await executionStub(c.env, id).steps(p.tenant);
  if (!items) throw executionNotFound(id);
  return c.json({ items }, 200);
};

export const costs: RouteHandler<typeof getExecutionCosts, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const ledger = await executionStub(c.env, id).costs(p.tenant);
  if (!ledger) throw executionNotFound(id);
  return c.json(ledger, 200);
};

/** True when the client asks for Server-Sent Events rather than a JSON page. */
function wantsEventStream(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept);
}

export const events: RouteHandler<typeof listExecutionEvents, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const { after, limit } = c.req.valid("query");
  if (wantsEventStream(c.req.header("accept"))) {
    const lastEventId = c.req.valid("header")["last-event-id"];
    const from = lastEventId !== undefined ? Number(lastEventId) : after;
    const stream = await executionStub(c.env, id).fetch(eventStreamRequest(p.tenant, from));
    if (stream.status === 404) throw executionNotFound(id);
    // Re-wrapped so its headers are ours to extend (X-Request-Id); the route's types describe only
    // the JSON bodies, hence the cast.
    return new Response(stream.body, stream) as never;
  }
  const page = await executionStub(c.env, id).events(p.tenant, { after, limit });
  if (!page) throw executionNotFound(id);
  const last = page.items[page.items.length - 1]?.seq ?? after;
  return c.json({ items: page.items, next_after: last, terminal: page.terminal }, 200);
};

/** Carries out a command on the execution; the execution after it, or the API error that answers it. */
async function carryOut(env: Env, id: string, tenant: string, command: "cancel" | "pause" | "resume" | "retry", audit: AuditRow | null): Promise<Execution> {
  const outcome = await executionStub(env, id).command(tenant, command, audit);
  if (outcome.ok) return outcome.execution;
  if (outcome.reason === "not_found") throw executionNotFound(id);
  throw new InvalidStateError(command, outcome.status, outcome.allowed);
}

function commandHandler(command: "cancel" | "pause" | "resume") {
  const handler: RouteHandler<typeof cancelExecution, AppEnv> = async (c) => {
    const execution = await carryOut(c.env, c.req.valid("param").id, principalOf(c).tenant, command, auditEntryFor(c, 200));
    c.set("auditHandedOff", true);
    return c.json(execution, 200);
  };
  return handler;
}

export const cancel = commandHandler("cancel");
export const pause: RouteHandler<typeof pauseExecution, AppEnv> = commandHandler("pause");
export const resume: RouteHandler<typeof resumeExecution, AppEnv> = commandHandler("resume");
/** A plain retry, or a retry from a step (with a new input). */
export const retry: RouteHandler<typeof retryExecution, AppEnv> = async (c) => {
  const body = c.req.valid("json");
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  if (body.from_step === undefined) {
    if (body.input !== undefined) throw new ValidationError([{ path: "/from_step", message: "a new input reruns from a step: from_step is required with input", in: "body" }]);
    const execution = await carryOut(c.env, id, p.tenant, "retry", auditEntryFor(c, 200));
    c.set("auditHandedOff", true);
    return c.json(execution, 200);
  }
  // The audit row says where the rerun starts and whether it runs on a new input (its plan hash changes).
  c.set("auditDetail", { from_step: body.from_step, new_input: body.input !== undefined });
  const outcome = await executionStub(c.env, id).rerun(p.tenant, { fromStep: body.from_step, newInput: body.input !== undefined ? { value: body.input } : null }, auditEntryFor(c, 200));
  if (!outcome.ok) {
    switch (outcome.reason) {
      case "not_found":
        throw executionNotFound(id);
      case "step_not_found":
        throw stepNotFound(id, body.from_step);
      case "invalid_input":
        throw inputSchemaError(outcome.problems);
      case "invalid_state":
        throw new InvalidStateError("rerun", outcome.status, outcome.allowed);
    }
  }
  c.set("auditHandedOff", true);
  return c.json(outcome.execution, 200);
};

export const streamToken: RouteHandler<typeof createStreamToken, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  if (!(await executionStub(c.env, id).get(p.tenant))) throw executionNotFound(id);
  const { token, expiresAt } = await signStreamToken(c.env.STREAM_TOKEN_SECRET, p, id, Date.now());
  return c.json({ token, expires_at: isoTime(expiresAt), events_url: `/v1/executions/${id}/events?token=${encodeURIComponent(token)}` }, 201);
};

export const socket: RouteHandler<typeof openExecutionSocket, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const { after } = c.req.valid("query");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new UpgradeRequiredError();
  const res = await executionStub(c.env, id).fetch(eventSocketRequest(p.tenant, after));
  if (res.status === 404 || !res.webSocket) throw executionNotFound(id);
  // Re-wrapped so X-Request-Id can be added; the route's types do not describe a 101.
  return new Response(null, { status: 101, webSocket: res.webSocket, headers: res.headers }) as never;
};

export const raiseBudget: RouteHandler<typeof raiseExecutionBudget, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const { max_usd } = c.req.valid("json");
  c.set("auditDetail", { max_usd });
  const outcome = await executionStub(c.env, id).raiseBudget(p.tenant, { maxUsd: max_usd }, auditEntryFor(c, 200));
  if (!outcome.ok) {
    switch (outcome.reason) {
      case "not_found":
        throw executionNotFound(id);
      case "invalid_state":
        throw new InvalidStateError("raise the budget of", outcome.status, []);
      case "no_budget":
        throw new ConflictError("NO_BUDGET", "The execution has no budget of its own to raise (its workflow sets none, nor did its start).");
      case "not_higher":
        throw new ValidationError(
          [{ path: "/max_usd", message: `must be more than the current budget (${outcome.current} USD)`, code: "TOO_SMALL", in: "body" }],
          "A budget can only be raised here.",
        );
    }
  }
  c.set("auditHandedOff", true);
  return c.json(outcome.execution, 200);
};

export const approval: RouteHandler<typeof decideApproval, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  c.set("auditDetail", { decision: body.decision, ...(body.step_id ? { step_id: body.step_id } : {}), ...(body.comment ? { comment: body.comment } : {}) });
  const outcome = await executionStub(c.env, id).decide(p.tenant, body, auditEntryFor(c, 200));
  if (!outcome.ok) {
    switch (outcome.reason) {
      case "not_found":
        throw executionNotFound(id);
      case "step_not_found":
        throw stepNotFound(id, body.step_id);
      case "not_waiting":
        throw new ConflictError(
          "INVALID_STATE",
          body.step_id === undefined ? "The execution is not waiting for an approval." : `Step '${body.step_id}' is not waiting for an approval.`,
        );
      case "already_decided":
        throw new ConflictError(
          "APPROVAL_ALREADY_DECIDED",
          `This approval was already decided (${outcome.gate.status}${outcome.gate.decided_at ? ` at ${outcome.gate.decided_at}` : ""}).`,
        );
      case "step_id_required":
        throw new ValidationError(
          [{ path: "/step_id", message: `required: steps waiting for approval: ${outcome.waiting.join(", ")}`, code: "REQUIRED", in: "body" }],
          "Say which step this decision is for.",
        );
      case "plan_hash_mismatch":
        throw new ConflictError(
          "PLAN_HASH_MISMATCH",
          body.plan_hash === undefined
            ? "This approval needs the plan_hash of the plan that was reviewed."
            : "plan_hash is not the execution's plan hash: the plan reviewed is not the one that would run.",
        );
      case "invalid_state":
        throw new InvalidStateError(body.decision, outcome.status, outcome.allowed);
    }
  }
  c.set("auditHandedOff", true);
  return c.json(outcome.execution, 200);
};

export const answers: RouteHandler<typeof answerStep, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id, step_id: stepId } = c.req.valid("param");
  const body = c.req.valid("json");
  c.set("auditDetail", { step_id: stepId });
  const outcome = await executionStub(c.env, id).answer(p.tenant, { stepId, answers: body.answers }, auditEntryFor(c, 200));
  if (!outcome.ok) {
    switch (outcome.reason) {
      case "not_found":
        throw executionNotFound(id);
      case "step_not_found":
        throw stepNotFound(id, stepId);
      case "not_waiting":
        throw new ConflictError("INVALID_STATE", `Step '${stepId}' is not waiting for answers (it is ${outcome.stepStatus}; the execution is ${outcome.status}).`, {
          current_status: outcome.status,
        });
      case "invalid_answers":
        throw new ValidationError(
          outcome.problems.map((pr) => ({ path: `/answers${pr.path}`, message: pr.message, code: "INVALID_ANSWER", in: "body" as const })),
          `${outcome.problems.length} answer${outcome.problems.length === 1 ? " is" : "s are"} wrong or missing.`,
        );
    }
  }
  c.set("auditHandedOff", true);
  return c.json(outcome.execution, 200);
};
