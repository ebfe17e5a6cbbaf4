import { createRoute, z } from "@hono/zod-openapi";
import { Timestamp } from "../../../schemas/pages";
import { TAGS, jsonContent, publicProblems } from "../../openapi";

export const Health = z.object({ status: z.literal("ok"), service: z.literal("stepline"), time: Timestamp }).openapi("Health");

export const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: [TAGS.service],
  summary: "Liveness",
  security: [], // public: no key
  responses: { 200: jsonContent(Health, "The service is up"), ...publicProblems() },
});

export const definitionJsonSchema = createRoute({
  method: "get",
  path: "/v1/schemas/workflow-definition.json",
  operationId: "getWorkflowDefinitionSchema",
  tags: [TAGS.service],
  summary: "JSON Schema (2020-12) of a workflow definition, for editors validating definition files",
  security: [], // public: no key
  responses: {
    200: jsonContent(
      z.record(z.string(), z.unknown()).openapi({ description: "A JSON Schema (draft 2020-12) document." }),
      "The JSON Schema",
    ),
    ...publicProblems(),
  },
});
