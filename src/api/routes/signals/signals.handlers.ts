/**
 * Signals for event steps (SPEC §9): by name with an API key (`POST /v1/executions/{id}/signals/{event}`),
 * or through an event step's one-use callback URL (`POST /v1/callbacks/{token}`, no key: the token
 * is the authority). Both are carried out by the execution's object.
 */
import type { RouteHandler } from "@hono/zod-openapi";
import { executionRpc } from "../../../durable/execution/client";
import { verifyCallbackToken } from "../../../lib/callback-token";
import type { SignalResult } from "../../../schemas/execution-rpc";
import { ConflictError, NotFoundError, ValidationError } from "../../../services/errors";
import { auditEntryFor } from "../../audit-entry";
import { executionNotFound, executionStub } from "../../execution-stub";
import { isoTime } from "../../../lib/time";
import { principalOf } from "../../middleware/guard";
import type { AppEnv } from "../../types";
import type { sendCallback, sendSignal } from "./signals.routes";

type Delivered = Extract<SignalResult, { ok: true }>;

/** The delivery, or the problem that refused it (`notFound`: what a missing execution or step answers). */
function delivered(outcome: SignalResult, id: string, event: string, notFound: NotFoundError): Delivered {
  if (outcome.ok) return outcome;
  switch (outcome.reason) {
    case "not_found":
      throw notFound;
    case "unknown_event":
      throw new NotFoundError("EVENT_NOT_FOUND", `No event step of execution '${id}' waits for '${event}'.`);
    case "invalid_state":
      throw new ConflictError("INVALID_STATE", `Execution '${id}' has ended (${outcome.status}): it takes no more signals.`, { current_status: outcome.status });
    case "full":
      throw new ConflictError("SIGNALS_FULL", `Execution '${id}' already keeps 100 signals no step has taken.`);
    case "used":
      throw new ConflictError("CALLBACK_USED", "This callback was used already, or its step no longer waits for it.");
    case "invalid_data":
      throw new ValidationError(
        outcome.problems.map((pr) => ({ path: `/data${pr.path}`, message: pr.message, code: "INVALID_SIGNAL", in: "body" as const })),
        "The signal's data does not match the event step's schema.",
      );
  }
}

export const send: RouteHandler<typeof sendSignal, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id, event } = c.req.valid("param");
  const body = c.req.valid("json");
  const rpc = executionStub(c.env, id);
  c.set("auditDetail", { event });
  const outcome = delivered(await rpc.signal(p.tenant, { event, data: body.data ?? null }, auditEntryFor(c, 200)), id, event, executionNotFound(id));
  c.set("auditHandedOff", true);
  return c.json({ event, step_id: outcome.stepId, kept: outcome.stepId === null, execution: outcome.execution }, 200);
};

export const callback: RouteHandler<typeof sendCallback, AppEnv> = async (c) => {
  const { token } = c.req.valid("param");
  const body = c.req.valid("json");
  // Forged, altered, expired, or for an execution that is gone: all the same 404, saying nothing more.
  const notFound = new NotFoundError("CALLBACK_NOT_FOUND", "No callback at this address (it may have expired).");
  const claims = await verifyCallbackToken(c.env.STREAM_TOKEN_SECRET, token, Date.now());
  if (!claims) throw notFound;
  const rpc = executionRpc(c.env, claims.executionId);
  const outcome = delivered(await rpc.callback(claims.tenant, { stepId: claims.stepId, attempt: claims.attempt, data: body.data ?? null }), claims.executionId, "", notFound);
  // No key, so nothing of the execution is shown: only that the signal arrived.
  return c.json({ event: outcome.event, step_id: claims.stepId, received_at: isoTime(outcome.receivedAt) }, 200);
};
