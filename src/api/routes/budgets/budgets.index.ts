import { createRouter } from "../../router";
import * as handlers from "./budgets.handlers";
import * as routes from "./budgets.routes";

export const budgetsRouter = createRouter()
  .openapi(routes.createBudget, handlers.create)
  .openapi(routes.listBudgets, handlers.list)
  .openapi(routes.getBudget, handlers.get)
  .openapi(routes.updateBudget, handlers.update)
  .openapi(routes.deleteBudget, handlers.remove);
