import { z } from "@hono/zod-openapi";
import { WorkflowDefinition } from "../../../schemas/definition";
import { isoTime } from "../../../lib/time";
import { createRouter } from "../../router";
import * as routes from "./meta.routes";

/** Generated once per isolate: the schema is static. */
let definitionSchema: Record<string, unknown> | undefined;

function workflowDefinitionJsonSchema(origin: string): Record<string, unknown> {
  definitionSchema ??= z.toJSONSchema(WorkflowDefinition, { target: "draft-2020-12", io: "input", reused: "ref" }) as Record<string, unknown>;
  return { ...definitionSchema, $id: `${origin}/v1/schemas/workflow-definition.json`, title: "Stepline workflow definition" };
}

export const metaRouter = createRouter()
  .openapi(routes.health, (c) => c.json({ status: "ok" as const, service: "stepline" as const, time: isoTime(Date.now()) }, 200))
  .openapi(routes.definitionJsonSchema, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(workflowDefinitionJsonSchema(new URL(c.req.url).origin), 200);
  });
