import { createRouter } from "../../router";
import * as handlers from "./concurrency.handlers";
import * as routes from "./concurrency.routes";

export const concurrencyRouter = createRouter().openapi(routes.getConcurrencyKey, handlers.get);
