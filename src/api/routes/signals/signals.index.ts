import { createRouter } from "../../router";
import * as handlers from "./signals.handlers";
import * as routes from "./signals.routes";

export const signalsRouter = createRouter().openapi(routes.sendSignal, handlers.send).openapi(routes.sendCallback, handlers.callback);
