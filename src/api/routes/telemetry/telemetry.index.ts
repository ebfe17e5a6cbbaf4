import { createRouter } from "../../router";
import * as handlers from "./telemetry.handlers";
import * as routes from "./telemetry.routes";

export const telemetryRouter = createRouter()
  .openapi(routes.getTelemetrySummary, handlers.summary)
  .openapi(routes.getWorkflowStats, handlers.workflowStats);
