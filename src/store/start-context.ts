/**
 * What an execution pins from the registry when it starts, read in one go: the prices of the models
 * its llm steps name, the shared budgets that apply to it, and the versions of the child workflows
 * its `workflow` steps start. Read by the Worker for a start request and by a parent's object for a
 * child, so both pin the same things the same way.
 */
import type { PriceBook } from "../schemas/costs";
import type { WorkflowDefinition } from "../schemas/definition";
import { applicableBudgetIds, applicableBudgetsStatement, budgetIdsOf } from "./budgets";
import { deploymentPrices, resolvePrices } from "./prices";
import { pinChildVersions, workflowVersionHeadOf, workflowVersionStatement, type MissingChild, type WorkflowVersionHead } from "./workflows";

export interface StartContext {
  prices: PriceBook;
  budgetIds: string[];
  /** The latest version of each child workflow named without one. */
  childVersions: Record<string, number>;
  /** Child workflows named that the tenant does not have (the execution cannot start). */
  missingChildren: MissingChild[];
}

/**
 * `models`: the models the definition's llm steps name; `pricesConfig`: the deployment's PRICES;
 * `budgetIds`: the applicable budgets when already read (`readStartHead`), else they are read here.
 * A definition without llm or workflow steps whose budgets are known costs no query.
 */
export async function startContext(
  db: D1Database,
  tenant: string,
  workflowId: string,
  definition: WorkflowDefinition,
  models: readonly string[],
  pricesConfig: string | undefined,
  budgetIds?: string[],
): Promise<StartContext> {
  const [prices, budgets, children] = await Promise.all([
    resolvePrices(db, tenant, models, deploymentPrices(pricesConfig)),
    budgetIds ?? applicableBudgetIds(db, tenant, workflowId),
    pinChildVersions(db, tenant, definition),
  ]);
  return { prices, budgetIds: budgets, childVersions: children.pins, missingChildren: children.missing };
}

/**
 * A start's first read, in one round trip: the workflow version to run (the given one, or the
 * latest) with its archive mark, and the shared budgets that apply. The definition text comes back
 * only when the version found is not `held` (see `workflowVersionStatement`).
 */
export async function readStartHead(
  db: D1Database,
  tenant: string,
  workflowId: string,
  version: number | undefined,
  held: number | null,
): Promise<{ version: WorkflowVersionHead | null; budgetIds: string[] }> {
  const [found, budgets] = await db.batch([workflowVersionStatement(db, tenant, workflowId, version, held), applicableBudgetsStatement(db, tenant, workflowId)]);
  return { version: workflowVersionHeadOf(found?.results[0]), budgetIds: budgetIdsOf(budgets?.results ?? []) };
}
