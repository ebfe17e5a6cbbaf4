/**
 * What an execution pins from the registry when it starts, read in one go: the prices of the models
 * its llm steps name, the shared budgets that apply to it, and the versions of the child workflows
 * its `workflow` steps start. Read by the Worker for a start request and by a parent's object for a
 * child, so both pin the same things the same way.
 */
import type { PriceBook } from "../schemas/costs";
import type { WorkflowDefinition } from "../schemas/definition";
import { applicableBudgetIds } from "./budgets";
import { deploymentPrices, resolvePrices } from "./prices";
import { pinChildVersions, type MissingChild } from "./workflows";

export interface StartContext {
  prices: PriceBook;
  budgetIds: string[];
  /** The latest version of each child workflow named without one. */
  childVersions: Record<string, number>;
  /** Child workflows named that the tenant does not have (the execution cannot start). */
  missingChildren: MissingChild[];
}

/** `models`: the models the definition's llm steps name; `pricesConfig`: the deployment's PRICES. */
export async function startContext(
  db: D1Database,
  tenant: string,
  workflowId: string,
  definition: WorkflowDefinition,
  models: readonly string[],
  pricesConfig: string | undefined,
): Promise<StartContext> {
  const [prices, budgetIds, children] = await Promise.all([
    resolvePrices(db, tenant, models, deploymentPrices(pricesConfig)),
    applicableBudgetIds(db, tenant, workflowId),
    pinChildVersions(db, tenant, definition),
  ]);
  return { prices, budgetIds, childVersions: children.pins, missingChildren: children.missing };
}
