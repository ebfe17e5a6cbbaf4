import { createRoute, z } from "@hono/zod-openapi";
import { ExecutionIdParam } from "../../../schemas/executions";
import { MapItemPage, MapItemsQuery } from "../../../schemas/map-items";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, problems } from "../../openapi";
import { SECURITY } from "../../router";

export const listMapItems = createRoute({
  method: "get",
  path: "/executions/{id}/steps/{step_id}/items",
  operationId: "listMapItems",
  tags: [TAGS.executions],
  summary: "List a map step's items",
  description:
    "The items of a `map` step in index order, each with its status, attempts, output or error (an item that has not started is " +
    "`pending`), filtered by `status` and paged with `cursor`. 404 `STEP_NOT_FOUND` for a step the execution does not have or that is " +
    "not a map step.",
  security: SECURITY,
  middleware: guard({ permission: "executions:read", action: "execution.read" }),
  request: {
    params: ExecutionIdParam.extend({ step_id: z.string().min(1).max(64).openapi({ param: { name: "step_id", in: "path" }, example: "notices" }) }),
    query: MapItemsQuery,
  },
  responses: { 200: jsonContent(MapItemPage, "A page of items"), ...problems(400, 404) },
});
