import { createRouter } from "../../router";
import * as handlers from "./map-items.handlers";
import * as routes from "./map-items.routes";

export const mapItemsRouter = createRouter().openapi(routes.listMapItems, handlers.list);
