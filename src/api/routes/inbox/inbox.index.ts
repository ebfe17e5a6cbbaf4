import { createRouter } from "../../router";
import * as handlers from "./inbox.handlers";
import * as routes from "./inbox.routes";

export const inboxRouter = createRouter().openapi(routes.listInbox, handlers.list);
