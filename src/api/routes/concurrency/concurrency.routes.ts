import { createRoute } from "@hono/zod-openapi";
import { ConcurrencyKeyParam, ConcurrencyState } from "../../../schemas/concurrency";
import { MAX_LISTED_QUEUE } from "../../../schemas/limits";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, problems } from "../../openapi";
import { SECURITY } from "../../router";

export const getConcurrencyKey = createRoute({
  method: "get",
  path: "/concurrency/{key}",
  operationId: "getConcurrencyKey",
  tags: [TAGS.concurrency],
  summary: "A concurrency key: the executions holding its slots and those queued for one",
  description:
    "The key as rendered for executions (e.g. `deploy:api:production`), URL-encoded in the path. `running` lists the holders, oldest first; " +
    `\`queued\` the waiting executions in admission order (priority, then first in, first out; at most ${MAX_LISTED_QUEUE}). ` +
    "A key nobody holds or waits for answers `limit: null` with empty lists. Keys are the tenant's own: another tenant's key with the same text is not seen.",
  security: SECURITY,
  middleware: guard({ permission: "concurrency:read", action: "concurrency.read" }),
  request: { params: ConcurrencyKeyParam },
  responses: { 200: jsonContent(ConcurrencyState, "The key's holders and queue"), ...problems(400) },
});
