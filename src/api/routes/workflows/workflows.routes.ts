import { createRoute } from "@hono/zod-openapi";
import { WorkflowDefinition } from "../../../schemas/definition";
import { PageQuery } from "../../../schemas/pages";
import {
  GetWorkflowQuery,
  ListWorkflowsQuery,
  WorkflowIdParam,
  WorkflowPage,
  WorkflowVersion,
  WorkflowVersionPage,
} from "../../../schemas/workflows";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, jsonRequest, problems } from "../../openapi";
import { SECURITY } from "../../router";

const tags = [TAGS.workflows];
const read = guard({ permission: "workflows:read", action: "workflow.read" });

export const registerWorkflow = createRoute({
  method: "post",
  path: "/workflows",
  operationId: "registerWorkflow",
  tags,
  summary: "Register a definition: a new id is version 1, a changed definition the next version",
  description:
    "Content identical to the latest version (compared on canonical JSON) returns that version with 200 and creates nothing. " +
    "Static problems (duplicate ids, unknown needs, cycles, bad JSONata, references to steps that are not upstream, invalid input_schema, limits) are all listed in one 400.",
  security: SECURITY,
  middleware: guard({ permission: "workflows:write", action: "workflow.register" }),
  request: { body: jsonRequest(WorkflowDefinition) },
  responses: {
    201: jsonContent(WorkflowVersion, "A new version was created"),
    200: jsonContent(WorkflowVersion, "Identical to the latest version; nothing created"),
    ...problems(400, 409, 413, 415),
  },
});

export const listWorkflows = createRoute({
  method: "get",
  path: "/workflows",
  operationId: "listWorkflows",
  tags,
  summary: "List workflows (the latest version of each), ordered by id",
  security: SECURITY,
  middleware: read,
  request: { query: ListWorkflowsQuery },
  responses: { 200: jsonContent(WorkflowPage, "A page of workflows"), ...problems(400) },
});

export const getWorkflow = createRoute({
  method: "get",
  path: "/workflows/{id}",
  operationId: "getWorkflow",
  tags,
  summary: "A workflow definition: the latest version, or `?version=`",
  security: SECURITY,
  middleware: read,
  request: { params: WorkflowIdParam, query: GetWorkflowQuery },
  responses: { 200: jsonContent(WorkflowVersion, "The version"), ...problems(400, 404) },
});

export const listWorkflowVersions = createRoute({
  method: "get",
  path: "/workflows/{id}/versions",
  operationId: "listWorkflowVersions",
  tags,
  summary: "Versions of a workflow with their hashes, newest first",
  security: SECURITY,
  middleware: read,
  request: { params: WorkflowIdParam, query: PageQuery },
  responses: { 200: jsonContent(WorkflowVersionPage, "A page of versions"), ...problems(400, 404) },
});

export const archiveWorkflow = createRoute({
  method: "delete",
  path: "/workflows/{id}",
  operationId: "archiveWorkflow",
  tags,
  summary: "Archive a workflow: no new executions; its versions and history are kept",
  security: SECURITY,
  middleware: guard({ permission: "workflows:write", action: "workflow.archive" }),
  request: { params: WorkflowIdParam },
  responses: { 200: jsonContent(WorkflowVersion, "The archived workflow's latest version"), ...problems(400, 404) },
});
