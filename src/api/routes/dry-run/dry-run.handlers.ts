import type { RouteHandler } from "@hono/zod-openapi";
import { dryRunWorkflow } from "../../../services/dry-run";
import { principalOf } from "../../middleware/guard";
import type { AppEnv } from "../../types";
import type { testWorkflow } from "./dry-run.routes";

export const test: RouteHandler<typeof testWorkflow, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  return c.json(await dryRunWorkflow(c.env, p.tenant, id, c.req.valid("json")), 200);
};
