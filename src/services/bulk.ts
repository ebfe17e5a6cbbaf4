/**
 * Starting a bulk action (`POST /v1/executions/bulk`, SPEC §10): freeze the filter, derive the bulk
 * id, and hand the bulk to its Durable Object, which runs it in the background.
 *
 * The id decides what "the same request again" is, and a second request with the same id reaches
 * the same object, which answers the bulk it already is and acts on nothing again:
 * - with an `Idempotency-Key`: from (tenant, key). The object keeps a hash of the action and the
 *   filter as sent; the same key with another body is 422 `IDEMPOTENCY_KEY_REUSED`. A key names
 *   its bulk for good (unlike a start's 24 hours: a bulk's record is small and is what makes a
 *   rerun safe).
 * - without one: from (tenant, action, frozen filter). A filter with an explicit `created_before`
 *   in the past is the same bulk when sent again; without one, `created_before` is frozen at now,
 *   so each request is a new bulk — which only finds the executions that still can take the action.
 */
import { bulkRpc } from "../durable/bulk/client";
import { canonicalJson } from "../engine/canonical-json";
import { sha256Hex } from "../lib/digest";
import { isoTime, parseRfc3339 } from "../lib/time";
import type { Bulk, BulkFilter, StartBulkBody } from "../schemas/bulk";
import { UnprocessableError, ValidationError } from "./errors";

/**
 * The filter as the bulk runs it: `created_before` set, and never later than `now` (so executions
 * started after the request are not caught), times in one spelling.
 */
export function freezeFilter(filter: BulkFilter, now: number): BulkFilter {
  const given = filter.created_before === undefined ? now : timeOf(filter.created_before, "created_before");
  const before = Math.min(given, now);
  const after = filter.created_after === undefined ? null : timeOf(filter.created_after, "created_after");
  if (after !== null && after >= before) {
    throw new ValidationError([{ path: "/filter/created_after", message: "must be earlier than created_before, which is at most now", in: "body" }]);
  }
  return { ...filter, ...(after !== null ? { created_after: isoTime(after) } : {}), created_before: isoTime(before) };
}

/** The schema checked the format; a value of that format that is no instant (February 30) is 400 too. */
function timeOf(value: string, field: string): number {
  const ms = parseRfc3339(value);
  if (ms === null) throw new ValidationError([{ path: `/filter/${field}`, message: `'${value}' is not an RFC 3339 date-time with an offset.`, in: "body" }]);
  return ms;
}

/** The bulk id of a request (see the module's comment). */
export async function bulkIdFor(tenant: string, idempotencyKey: string | undefined, action: StartBulkBody["action"], frozen: BulkFilter): Promise<string> {
  const basis = idempotencyKey !== undefined ? `bulk-key\n${tenant}\n${idempotencyKey}` : `bulk\n${tenant}\n${action}\n${canonicalJson(frozen)}`;
  return `bk_${(await sha256Hex(basis)).slice(0, 32)}`;
}

export interface StartBulkRequest {
  tenant: string;
  /** The caller's key id: the actor of the audit rows the bulk writes. */
  actor: string;
  requestId: string;
  body: StartBulkBody;
  idempotencyKey: string | undefined;
}

/** Creates the bulk, or finds the one this request already made (`replay`). */
export async function startBulk(env: Env, req: StartBulkRequest): Promise<{ kind: "created" | "replay"; bulk: Bulk }> {
  const now = Date.now();
  const filter = freezeFilter(req.body.filter, now);
  const id = await bulkIdFor(req.tenant, req.idempotencyKey, req.body.action, filter);
  // Under a key, the request as sent (its created_before may be left to default); else the id says it all.
  const requestHash = await sha256Hex(canonicalJson({ action: req.body.action, filter: req.idempotencyKey !== undefined ? req.body.filter : filter }));
  const result = await bulkRpc(env, id).create({ id, tenant: req.tenant, action: req.body.action, filter, requestHash, actor: req.actor, requestId: req.requestId, createdAt: now });
  if (result.kind === "request_differs") throw new UnprocessableError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request body.");
  return result;
}
