import type { RouteHandler } from "@hono/zod-openapi";
import { bulkRpc } from "../../../durable/bulk/client";
import { BULK_ID_PATTERN } from "../../../schemas/bulk";
import { startBulk } from "../../../services/bulk";
import { NotFoundError } from "../../../services/errors";
import { principalOf } from "../../middleware/guard";
import type { AppEnv } from "../../types";
import type { getBulk, startBulk as startBulkRoute } from "./bulk.routes";

export const start: RouteHandler<typeof startBulkRoute, AppEnv> = async (c) => {
  const p = principalOf(c);
  const body = c.req.valid("json");
  const outcome = await startBulk(c.env, {
    tenant: p.tenant,
    actor: p.keyId,
    requestId: c.get("requestId"),
    body,
    idempotencyKey: c.req.valid("header")["idempotency-key"],
  });
  c.set("auditTarget", outcome.bulk.id);
  c.set("auditDetail", { action: body.action, filter: outcome.bulk.filter });
  c.header("Location", `/v1/bulk/${outcome.bulk.id}`);
  if (outcome.kind === "replay") {
    c.header("Idempotent-Replayed", "true");
    return c.json(outcome.bulk, 200);
  }
  return c.json(outcome.bulk, 202);
};

export const get: RouteHandler<typeof getBulk, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const notFound = new NotFoundError("BULK_NOT_FOUND", `No bulk action '${id}'.`);
  // Ids that cannot exist are 404 without waking an object.
  if (!BULK_ID_PATTERN.test(id)) throw notFound;
  const bulk = await bulkRpc(c.env, id).get(principalOf(c).tenant);
  if (!bulk) throw notFound;
  return c.json(bulk, 200);
};
