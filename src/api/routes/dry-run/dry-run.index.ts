import { createRouter } from "../../router";
import * as handlers from "./dry-run.handlers";
import * as routes from "./dry-run.routes";

export const dryRunRouter = createRouter().openapi(routes.testWorkflow, handlers.test);
