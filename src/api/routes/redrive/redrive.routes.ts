import { createRoute } from "@hono/zod-openapi";
import { ExecutionIdParam, RetryPreview, RetryPreviewQuery } from "../../../schemas/executions";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, problems } from "../../openapi";
import { SECURITY } from "../../router";

export const previewRetry = createRoute({
  method: "get",
  path: "/executions/{id}/retry-preview",
  operationId: "previewRetry",
  tags: [TAGS.executions],
  summary: "Preview what a retry would run again",
  description:
    "The steps a retry would run again and those that keep their outputs, the side effects the rerun repeats (http requests " +
    "other than GET, HEAD and OPTIONS, llm calls, child executions, with how many attempts sent them) and what it should cost. " +
    "Without `from_step` it previews a plain retry (409 unless the execution failed or timed out); with it, a rerun from that step " +
    "(any ended execution; 404 `STEP_NOT_FOUND` for a step the workflow does not have). Changes nothing.",
  security: SECURITY,
  middleware: guard({ permission: "executions:read", action: "execution.retry_preview" }),
  request: { params: ExecutionIdParam, query: RetryPreviewQuery },
  responses: { 200: jsonContent(RetryPreview, "What a retry would do"), ...problems(400, 404, 409) },
});
