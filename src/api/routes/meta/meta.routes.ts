import { createRoute, z } from "@hono/zod-openapi";
import { jsonContent } from "../../openapi";

export const Health = z.object({ status: z.literal("ok"), service: z.literal("stepline"), time: z.string() }).openapi("Health");

export const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Service"],
  summary: "Liveness",
  responses: { 200: jsonContent(Health, "The service is up") },
});

export const definitionJsonSchema = createRoute({
  method: "get",
  path: "/v1/schemas/workflow-definition.json",
  tags: ["Service"],
  summary: "JSON Schema (2020-12) of a workflow definition, for editors validating definition files",
  responses: { 200: jsonContent(z.record(z.string(), z.unknown()), "The JSON Schema") },
});
