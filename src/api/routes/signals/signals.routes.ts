import { createRoute, z } from "@hono/zod-openapi";
import { EventName } from "../../../schemas/definition";
import { CallbackReceipt, ExecutionIdParam, SignalBody, SignalReceipt } from "../../../schemas/executions";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, jsonRequest, problems, publicProblems } from "../../openapi";
import { SECURITY } from "../../router";

export const sendSignal = createRoute({
  method: "post",
  path: "/executions/{id}/signals/{event}",
  operationId: "sendSignal",
  tags: [TAGS.executions],
  summary: "Send a signal to an execution's event step",
  description:
    "Completes the event step waiting for `event` with `{ data, received_at, via: \"signal\" }`, and the run goes on. With no step " +
    "waiting for it yet, the signal is kept (at most 100 per execution) and taken first in, first out by the next event step of that " +
    "name. `data` is checked against the step's `schema`: 400 lists the problems and nothing changes. A name no event step of the " +
    "execution's workflow declares is 404 `EVENT_NOT_FOUND`; an ended execution is 409; a full buffer is 409 `SIGNALS_FULL`. " +
    "Operators, approvers and admins. Audited as `execution.signal`.",
  security: SECURITY,
  middleware: guard({ permission: "executions:signal", action: "execution.signal" }),
  request: {
    params: ExecutionIdParam.extend({ event: EventName.openapi({ param: { name: "event", in: "path" }, example: "payment.settled" }) }),
    body: jsonRequest(SignalBody),
  },
  responses: { 200: jsonContent(SignalReceipt, "Delivered to a waiting step, or kept"), ...problems(400, 404, 409, 413, 415) },
});

export const sendCallback = createRoute({
  method: "post",
  path: "/callbacks/{token}",
  operationId: "sendCallback",
  tags: [TAGS.executions],
  summary: "Deliver an event step's signal through its callback URL (no API key)",
  description:
    "The URL is the event step's `callback_url` (in its `waiting_for`, its output while it waits, and its `step.waiting` event): " +
    "bound to one tenant, execution, step and attempt, valid until the step's timeout (or the execution's), usable once. " +
    "Completes the step with `{ data, received_at, via: \"callback\" }`. A second use, or one after the step stopped waiting, is 409 " +
    "`CALLBACK_USED`; a forged, altered or expired token is 404 `CALLBACK_NOT_FOUND`; `data` that does not match the step's `schema` is 400. " +
    "Answers nothing of the execution but the receipt.",
  security: [],
  request: {
    params: z.object({ token: z.string().min(1).max(2_048).openapi({ param: { name: "token", in: "path" }, example: "eyJ0Ijoi….Q2x1" }) }),
    body: jsonRequest(SignalBody),
  },
  responses: { 200: jsonContent(CallbackReceipt, "The signal was delivered"), ...publicProblems(400, 404, 409, 413, 415) },
});
