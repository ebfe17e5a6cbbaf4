import { createRoute } from "@hono/zod-openapi";
import { DryRunBody, DryRunResult } from "../../../schemas/dry-run";
import { WorkflowIdParam } from "../../../schemas/workflows";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, jsonRequest, problems } from "../../openapi";
import { SECURITY } from "../../router";

export const testWorkflow = createRoute({
  method: "post",
  path: "/workflows/{id}/test",
  operationId: "testWorkflow",
  tags: [TAGS.workflows],
  summary: "Dry-run a workflow: play it out with mocks, answers and signals, sending and storing nothing",
  description:
    "Runs the workflow (the latest version, or `version`) through the same engine as a real execution, in memory. " +
    "Unmocked http and llm steps complete with output null and say what they `would_send` (secrets masked); child workflows, " +
    "webhooks, costs, listings and inbox items are never made. Waits are fast-forwarded; approval gates are decided by `approve` " +
    "(default true); input steps take `answers`, event steps `signals` (without them the wait runs into its timeout). Mocked errors " +
    "go through the step's retry policy. The input is checked as a start's is; unknown step ids in `mocks` or `answers`, wrong " +
    "answers and unknown or invalid signals are all listed in one 400.",
  security: SECURITY,
  middleware: guard({ permission: "executions:operate", action: "workflow.test" }),
  request: { params: WorkflowIdParam, body: jsonRequest(DryRunBody) },
  responses: { 200: jsonContent(DryRunResult, "How the run would go"), ...problems(400, 404, 409, 413, 415, 422) },
});
