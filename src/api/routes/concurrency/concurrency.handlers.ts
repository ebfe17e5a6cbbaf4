/** /v1/concurrency: a key's state, read live from its Durable Object (one per tenant and key). */
import type { RouteHandler } from "@hono/zod-openapi";
import { concurrencyRpc } from "../../../durable/concurrency/client";
import { principalOf } from "../../middleware/guard";
import type { AppEnv } from "../../types";
import type { getConcurrencyKey } from "./concurrency.routes";

export const get: RouteHandler<typeof getConcurrencyKey, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { key } = c.req.valid("param");
  return c.json(await concurrencyRpc(c.env, p.tenant, key).state(p.tenant, key), 200);
};
