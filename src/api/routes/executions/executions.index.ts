import { createRouter } from "../../router";
import * as handlers from "./executions.handlers";
import * as routes from "./executions.routes";

export const executionsRouter = createRouter()
  .openapi(routes.startExecution, handlers.start)
  .openapi(routes.listExecutions, handlers.list)
  .openapi(routes.getExecution, handlers.get)
  .openapi(routes.getExecutionResult, handlers.result)
  .openapi(routes.listExecutionSteps, handlers.steps)
  .openapi(routes.getExecutionCosts, handlers.costs)
  .openapi(routes.listExecutionEvents, handlers.events)
  .openapi(routes.cancelExecution, handlers.cancel)
  .openapi(routes.pauseExecution, handlers.pause)
  .openapi(routes.resumeExecution, handlers.resume)
  .openapi(routes.retryExecution, handlers.retry)
  .openapi(routes.createStreamToken, handlers.streamToken)
  .openapi(routes.openExecutionSocket, handlers.socket)
  .openapi(routes.decideApproval, handlers.approval)
  .openapi(routes.raiseExecutionBudget, handlers.raiseBudget)
  .openapi(routes.answerStep, handlers.answers);
