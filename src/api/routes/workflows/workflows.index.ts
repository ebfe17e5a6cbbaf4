import { createRouter } from "../../router";
import * as handlers from "./workflows.handlers";
import * as routes from "./workflows.routes";

export const workflowsRouter = createRouter()
  .openapi(routes.registerWorkflow, handlers.register)
  .openapi(routes.listWorkflows, handlers.list)
  .openapi(routes.getWorkflow, handlers.get)
  .openapi(routes.listWorkflowVersions, handlers.versions)
  .openapi(routes.archiveWorkflow, handlers.archive);
