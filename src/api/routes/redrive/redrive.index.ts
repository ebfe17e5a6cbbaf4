import { createRouter } from "../../router";
import * as handlers from "./redrive.handlers";
import * as routes from "./redrive.routes";

export const redriveRouter = createRouter().openapi(routes.previewRetry, handlers.preview);
