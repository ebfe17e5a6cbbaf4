import { createRoute, z } from "@hono/zod-openapi";
import {
  EventPage,
  EventsQuery,
  Execution,
  ExecutionIdParam,
  ExecutionPage,
  ExecutionResult,
  ListExecutionsQuery,
  StartExecutionBody,
  StartExecutionQuery,
  StepList,
  StreamToken,
  AnswersBody,
  ApprovalBody,
  RaiseBudgetBody,
  RetryBody,
} from "../../../schemas/executions";
import { ExecutionCosts } from "../../../schemas/costs";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, jsonRequest, problems } from "../../openapi";
import { SECURITY } from "../../router";

const tags = [TAGS.executions];
const read = guard({ permission: "executions:read", action: "execution.read" });

export const startExecution = createRoute({
  method: "post",
  path: "/executions",
  operationId: "startExecution",
  tags,
  summary: "Start an execution of a registered or inline workflow",
  description:
    "Answers 202 with `Location` at once, or with `?wait=N` holds the response until the execution ends (200 with its status, output or error) " +
    "or N seconds pass (202 with `Retry-After`); an execution that ends `timed_out` meanwhile is 504 `EXECUTION_TIMED_OUT` carrying its `execution_id`. " +
    "An `Idempotency-Key` header (kept per tenant) makes retries safe: the same key and body return the same execution " +
    "(`Idempotent-Replayed: true`); the same key with another body is 422.",
  security: SECURITY,
  middleware: guard({ permission: "executions:operate", action: "execution.start" }),
  request: {
    body: jsonRequest(StartExecutionBody),
    query: StartExecutionQuery,
    headers: z.object({
      "idempotency-key": z.string().min(1).max(255).optional().openapi({ description: "Deduplicates starts (per tenant)." }),
    }),
  },
  responses: {
    202: {
      ...jsonContent(Execution, "Started (or still running when the wait ended)"),
      headers: {
        Location: { description: "The execution: `/v1/executions/{id}`.", required: true, schema: { type: "string" } },
        "Retry-After": {
          description: "Only when `?wait=` ran out: seconds to wait before reading the execution again (until a sleep ends, at most 60).",
          schema: { type: "integer", minimum: 1 },
        },
      },
    },
    200: {
      ...jsonContent(Execution, "Ended within the wait, or an idempotent replay"),
      headers: {
        Location: { description: "The execution: `/v1/executions/{id}`.", required: true, schema: { type: "string" } },
        "Idempotent-Replayed": { description: "`true` when this answers an earlier request with the same Idempotency-Key.", schema: { type: "string", enum: ["true"] } },
      },
    },
    ...problems(400, 404, 409, 413, 415, 422, 504),
  },
});

export const listExecutions = createRoute({
  method: "get",
  path: "/executions",
  operationId: "listExecutions",
  tags,
  summary: "List executions, newest first (from the index)",
  security: SECURITY,
  middleware: read,
  request: { query: ListExecutionsQuery },
  responses: { 200: jsonContent(ExecutionPage, "A page of executions"), ...problems(400) },
});

export const getExecution = createRoute({
  method: "get",
  path: "/executions/{id}",
  operationId: "getExecution",
  tags,
  summary: "An execution: status, timestamps, waiting_for, output or error",
  security: SECURITY,
  middleware: read,
  request: { params: ExecutionIdParam },
  responses: { 200: jsonContent(Execution, "The execution"), ...problems(400, 404) },
});

export const getExecutionResult = createRoute({
  method: "get",
  path: "/executions/{id}/result",
  operationId: "getExecutionResult",
  tags,
  summary: "Output or error of an ended execution (409 while it runs)",
  security: SECURITY,
  middleware: read,
  request: { params: ExecutionIdParam },
  responses: { 200: jsonContent(ExecutionResult, "The result"), ...problems(400, 404, 409) },
});

export const listExecutionSteps = createRoute({
  method: "get",
  path: "/executions/{id}/steps",
  operationId: "listExecutionSteps",
  tags,
  summary: "Every step: status, attempts with timings, output, error",
  security: SECURITY,
  middleware: read,
  request: { params: ExecutionIdParam },
  responses: { 200: jsonContent(StepList, "The steps, in definition order"), ...problems(400, 404) },
});

export const getExecutionCosts = createRoute({
  method: "get",
  path: "/executions/{id}/costs",
  operationId: "getExecutionCosts",
  tags: [TAGS.costs],
  summary: "The execution's usage ledger and its totals",
  description:
    "Every llm call (fallbacks and retried attempts included) and every declared step cost, with the price each was computed " +
    "with. Read from the execution itself: exact before the index catches up.",
  security: SECURITY,
  middleware: read,
  request: { params: ExecutionIdParam },
  responses: { 200: jsonContent(ExecutionCosts, "The ledger, oldest record first"), ...problems(400, 404) },
});

export const listExecutionEvents = createRoute({
  method: "get",
  path: "/executions/{id}/events",
  operationId: "listExecutionEvents",
  tags,
  summary: "The event log after `after`: a JSON page, or Server-Sent Events with `Accept: text/event-stream`",
  description:
    "With `Accept: text/event-stream` the response is an SSE stream: the log replayed from `after` (or the `Last-Event-ID` header), " +
    "then live events, each as `id: <seq>`, `event: <type>`, `data: <Event JSON>`; keepalive comments every 15 s; the stream ends " +
    "after the terminal event. Reconnecting with the last seen id resumes with no gap and no duplicate.",
  security: SECURITY,
  middleware: guard({ permission: "executions:read", action: "execution.read", streamToken: true }),
  request: {
    params: ExecutionIdParam,
    query: EventsQuery.extend({
      token: z.string().max(1024).optional().openapi({ description: "A stream token (for browsers' EventSource, which cannot send headers)." }),
    }),
    headers: z.object({
      "last-event-id": z.string().regex(/^\d{1,15}$/).optional().openapi({ description: "SSE: resume after this seq (wins over `after`)." }),
    }),
  },
  responses: {
    200: {
      description: "Events in seq order",
      content: {
        "application/json": { schema: EventPage },
        "text/event-stream": { schema: z.string().openapi({ description: "SSE frames; `data` is an Event." }) },
      },
    },
    ...problems(400, 404),
  },
});

function commandRoute(command: "cancel" | "pause" | "resume" | "retry", summary: string) {
  return createRoute({
    method: "post",
    path: `/executions/{id}/${command}`,
    operationId: `${command}Execution`,
    tags,
    summary,
    security: SECURITY,
    middleware: guard({ permission: "executions:operate", action: `execution.${command}` }),
    request: { params: ExecutionIdParam },
    responses: { 200: jsonContent(Execution, "The execution after the request"), ...problems(400, 404, 409) },
  });
}

export const cancelExecution = commandRoute("cancel", "Cancel: in-flight requests are aborted (409 when already ended)");
export const pauseExecution = commandRoute("pause", "Pause between steps (running steps finish)");
export const resumeExecution = commandRoute("resume", "Resume a paused execution");
export const retryExecution = createRoute({
  method: "post",
  path: "/executions/{id}/retry",
  operationId: "retryExecution",
  tags,
  summary: "Re-run a failed or timed-out execution from its failed steps, or any ended one from a step",
  description:
    "Without a body: the failed and cancelled steps of a `failed` or `timed_out` execution run again, completed ones keep their " +
    "outputs. With `{ from_step, input? }`: that step and everything downstream of it run again on any ended execution (completed " +
    "included), with a new input when given (checked against `input_schema`, recorded with a new plan hash). " +
    "`GET …/retry-preview` says beforehand what would run again. Audited as `execution.retry`.",
  security: SECURITY,
  middleware: guard({ permission: "executions:operate", action: "execution.retry" }),
  request: { params: ExecutionIdParam, body: { required: false, content: { "application/json": { schema: RetryBody } } } },
  responses: { 200: jsonContent(Execution, "The execution after the request"), ...problems(400, 404, 409, 413, 415) },
});

export const createStreamToken = createRoute({
  method: "post",
  path: "/executions/{id}/stream-token",
  operationId: "createStreamToken",
  tags,
  summary: "A short-lived token for browsers to open this execution's event stream (`?token=`)",
  description:
    "EventSource and WebSocket cannot send headers. The token is bound to your tenant and this execution, expires after 5 minutes, " +
    "and is accepted only as `?token=` on this execution's stream routes.",
  security: SECURITY,
  middleware: guard({ permission: "executions:read", action: "execution.stream_token" }),
  request: { params: ExecutionIdParam },
  responses: {
    201: jsonContent(StreamToken, "The token"),
    ...problems(400, 404),
  },
});

export const openExecutionSocket = createRoute({
  method: "get",
  path: "/executions/{id}/ws",
  operationId: "openExecutionSocket",
  tags,
  summary: "WebSocket of the execution's events: a snapshot, the log replayed from `?after=`, then live",
  description:
    "Send `Upgrade: websocket`. The first message is `{ type: \"snapshot\", execution }`; then every Event after `after` in seq " +
    "order, replayed then live with no gap and no duplicate. The socket closes with 1000 after the terminal event. Browsers " +
    "authenticate with `?token=` (see stream-token).",
  security: SECURITY,
  middleware: guard({ permission: "executions:read", action: "execution.read", streamToken: true }),
  request: {
    params: ExecutionIdParam,
    query: z.object({
      after: z.coerce.number().int().min(0).default(0).openapi({ description: "Replay events with seq greater than this." }),
      token: z.string().max(1024).optional().openapi({ description: "A stream token, for browsers." }),
    }),
  },
  responses: {
    101: { description: "Switching protocols: the WebSocket" },
    ...problems(400, 404, 426),
  },
});

export const decideApproval = createRoute({
  method: "post",
  path: "/executions/{id}/approval",
  operationId: "decideApproval",
  tags,
  summary: "Approve or reject what an execution is waiting for",
  description:
    "Decides a pending approval gate: the execution's own (workflow approval level 1 or 2, no `step_id`), a step's (level 3) or an " +
    "approval step's (`step_id`). Approve lets the execution or the step proceed; reject ends the execution `rejected`. At level 2 " +
    "the decision must carry the execution's `plan_hash` (another or none is 409 `PLAN_HASH_MISMATCH`). A gate is decided once: a " +
    "second decision is 409 `APPROVAL_ALREADY_DECIDED`. Approver and admin keys only. The decision, its approver and comment are " +
    "recorded on the execution (`approvals`), in its events and in the audit log.",
  security: SECURITY,
  middleware: guard({ permission: "executions:decide", action: "execution.approval" }),
  request: { params: ExecutionIdParam, body: jsonRequest(ApprovalBody) },
  responses: { 200: jsonContent(Execution, "The execution after the decision"), ...problems(400, 404, 409, 413, 415) },
});

export const raiseExecutionBudget = createRoute({
  method: "post",
  path: "/executions/{id}/budget",
  operationId: "raiseExecutionBudget",
  tags: [TAGS.costs],
  summary: "Raise the execution's own budget",
  description:
    "Sets the execution's budget (`budget.max_usd`) higher. Steps paused because a call did not fit it (`waiting_for.kind: budget`, " +
    "`budget.id: execution`) reserve again and run on. Approver and admin keys only; audited, and a `budget.raised` event. " +
    "409 `NO_BUDGET` when the execution has none, `INVALID_STATE` when it has ended; a `max_usd` not above the current one is 400.",
  security: SECURITY,
  middleware: guard({ permission: "executions:decide", action: "execution.budget.raise" }),
  request: { params: ExecutionIdParam, body: jsonRequest(RaiseBudgetBody) },
  responses: { 200: jsonContent(Execution, "The execution with its new budget"), ...problems(400, 404, 409, 413, 415) },
});

export const answerStep = createRoute({
  method: "post",
  path: "/executions/{id}/steps/{step_id}/answers",
  operationId: "answerStep",
  tags,
  summary: "Answer the questions an input step is waiting for",
  description:
    "Answers are checked against the questions (400 lists every wrong or missing answer and changes nothing); accepted answers " +
    "become the step's output and the run continues. A step that is not waiting for answers is 409.",
  security: SECURITY,
  middleware: guard({ permission: "executions:decide", action: "execution.answer" }),
  request: {
    params: ExecutionIdParam.extend({
      step_id: z.string().min(1).max(64).openapi({ param: { name: "step_id", in: "path" }, example: "confirm" }),
    }),
    body: jsonRequest(AnswersBody),
  },
  responses: { 200: jsonContent(Execution, "The execution after the answers"), ...problems(400, 404, 409, 413, 415) },
});
