import type { RouteHandler } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { NotFoundError } from "../../../services/errors";
import { executionNotFound, executionStub } from "../../execution-stub";
import { decodeCursor, encodeCursor } from "../../paging";
import type { AppEnv } from "../../types";
import { principalOf } from "../../middleware/guard";
import type { listMapItems } from "./map-items.routes";

/** The cursor: the index of the last item of the previous page. */
const Position = z.object({ i: z.int().min(0) });

export const list: RouteHandler<typeof listMapItems, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id, step_id } = c.req.valid("param");
  const q = c.req.valid("query");
  const after = decodeCursor(q.cursor, Position)?.i ?? -1;
  const page = await executionStub(c.env, id).items(p.tenant, { stepId: step_id, ...(q.status ? { status: q.status } : {}), after, limit: q.limit });
  if (!page.ok) {
    if (page.reason === "not_found") throw executionNotFound(id);
    throw new NotFoundError("STEP_NOT_FOUND", page.reason === "not_a_map" ? `Step '${step_id}' is not a map step.` : `Execution '${id}' has no step '${step_id}'.`);
  }
  const items = page.items.slice(0, q.limit);
  const more = page.items.length > q.limit;
  return c.json({ items, next_cursor: more ? encodeCursor({ i: items.at(-1)!.index }) : null }, 200);
};
