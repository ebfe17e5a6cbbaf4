import { createRoute, z } from "@hono/zod-openapi";
import { Bulk, BulkIdParam, StartBulkBody } from "../../../schemas/bulk";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, jsonRequest, problems } from "../../openapi";
import { SECURITY } from "../../router";

const tags = [TAGS.executions];

export const startBulk = createRoute({
  method: "post",
  path: "/executions/bulk",
  operationId: "startBulk",
  tags,
  summary: "Cancel or retry every execution a listing filter matches, in the background",
  description:
    "Answers 202 at once with the bulk (`Location: /v1/bulk/{id}`); its object then walks the listing of `filter` (the filters of " +
    "`GET /v1/executions`) a page at a time and applies `action` to each execution as `POST /v1/executions/{id}/cancel` or `…/retry` " +
    "would, writing one audit row per execution changed (`execution.cancel` / `execution.retry`, `detail.bulk_id`). An execution that " +
    "cannot take the action (already ended, for a cancel; not failed or timed out, for a retry) is counted `skipped` and left as it is. " +
    "`created_before` defaults to now, so executions started later are not caught. The same request again — the same `Idempotency-Key`, " +
    "or without one the same action and filter with an explicit past `created_before` — answers 200 with the same bulk " +
    "(`Idempotent-Replayed: true`) and acts on nothing again; the same key with another body is 422. Audited as `execution.bulk`.",
  security: SECURITY,
  middleware: guard({ permission: "executions:operate", action: "execution.bulk" }),
  request: {
    body: jsonRequest(StartBulkBody),
    headers: z.object({
      "idempotency-key": z.string().min(1).max(255).optional().openapi({ description: "Makes the request safe to send again (per tenant)." }),
    }),
  },
  responses: {
    202: {
      ...jsonContent(Bulk, "Accepted: the bulk runs in the background"),
      headers: { Location: { description: "The bulk: `/v1/bulk/{id}`.", required: true, schema: { type: "string" } } },
    },
    200: {
      ...jsonContent(Bulk, "The same request again: the bulk it already made"),
      headers: {
        Location: { description: "The bulk: `/v1/bulk/{id}`.", required: true, schema: { type: "string" } },
        "Idempotent-Replayed": { description: "`true`: this answers an earlier request.", schema: { type: "string", enum: ["true"] } },
      },
    },
    ...problems(400, 413, 415, 422),
  },
});

export const getBulk = createRoute({
  method: "get",
  path: "/bulk/{id}",
  operationId: "getBulk",
  tags,
  summary: "A bulk action and its progress: matched, done, skipped, failed",
  security: SECURITY,
  middleware: guard({ permission: "executions:read", action: "bulk.read" }),
  request: { params: BulkIdParam },
  responses: { 200: jsonContent(Bulk, "The bulk"), ...problems(400, 404) },
});
