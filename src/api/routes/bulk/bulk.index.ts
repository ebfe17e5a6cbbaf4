import { createRouter } from "../../router";
import * as handlers from "./bulk.handlers";
import * as routes from "./bulk.routes";

export const bulkRouter = createRouter().openapi(routes.startBulk, handlers.start).openapi(routes.getBulk, handlers.get);
