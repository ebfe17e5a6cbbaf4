import { createRoute } from "@hono/zod-openapi";
import { Budget, BudgetIdParam, BudgetPage, CreateBudgetBody, ListBudgetsQuery, MAX_TENANT_BUDGETS, UpdateBudgetBody } from "../../../schemas/budgets";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, jsonRequest, problems } from "../../openapi";
import { SECURITY } from "../../router";

const tags = [TAGS.budgets];
const read = guard({ permission: "budgets:read", action: "budget.read" });

export const createBudget = createRoute({
  method: "post",
  path: "/budgets",
  operationId: "createBudget",
  tags,
  summary: "Create a shared budget: a spending limit per UTC day or month for the tenant or one workflow",
  description:
    "Applies to executions started from now on (each reserves a call's maximum cost before making it, and the call is made only if it fits). " +
    "`workflow_id` is required for scope `workflow` and not allowed for scope `tenant`. " +
    `A tenant holds at most ${MAX_TENANT_BUDGETS} budgets: one more is 409 \`BUDGET_LIMIT_REACHED\`. Audited as \`budget.create\`.`,
  security: SECURITY,
  middleware: guard({ permission: "budgets:write", action: "budget.create" }),
  request: { body: jsonRequest(CreateBudgetBody) },
  responses: { 201: jsonContent(Budget, "The budget, with nothing spent yet"), ...problems(400, 409, 413, 415) },
});

export const listBudgets = createRoute({
  method: "get",
  path: "/budgets",
  operationId: "listBudgets",
  tags,
  summary: "List the tenant's budgets, with what each has spent and reserved in its current period",
  description: "Newest first. `spent_usd` and `reserved_usd` are read live from each budget.",
  security: SECURITY,
  middleware: read,
  request: { query: ListBudgetsQuery },
  responses: { 200: jsonContent(BudgetPage, "A page of budgets, newest first"), ...problems(400) },
});

export const getBudget = createRoute({
  method: "get",
  path: "/budgets/{id}",
  operationId: "getBudget",
  tags,
  summary: "One budget, with what it has spent and reserved in its current period",
  description: "404 `BUDGET_NOT_FOUND` for a deleted budget, or one of another tenant.",
  security: SECURITY,
  middleware: read,
  request: { params: BudgetIdParam },
  responses: { 200: jsonContent(Budget, "The budget"), ...problems(400, 404) },
});

export const updateBudget = createRoute({
  method: "patch",
  path: "/budgets/{id}",
  operationId: "updateBudget",
  tags,
  summary: "Change a budget's limit (wakes every execution waiting on it)",
  description:
    "Sets `max_usd`; every execution paused on this budget (`waiting_for.kind: budget`) is woken to reserve again against the new limit. " +
    "Audited as `budget.update` with the previous and the new limit.",
  security: SECURITY,
  middleware: guard({ permission: "budgets:write", action: "budget.update" }),
  request: { params: BudgetIdParam, body: jsonRequest(UpdateBudgetBody) },
  responses: { 200: jsonContent(Budget, "The budget with its new limit"), ...problems(400, 404, 413, 415) },
});

export const deleteBudget = createRoute({
  method: "delete",
  path: "/budgets/{id}",
  operationId: "deleteBudget",
  tags,
  summary: "Delete a budget (it stops limiting at once; executions waiting on it are woken)",
  description: "Executions already running stop reserving against it. Audited as `budget.delete`.",
  security: SECURITY,
  middleware: guard({ permission: "budgets:write", action: "budget.delete" }),
  request: { params: BudgetIdParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 404) },
});
