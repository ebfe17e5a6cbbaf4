import type { RouteHandler } from "@hono/zod-openapi";
import type { PriceBook } from "../../../schemas/costs";
import * as prices from "../../../store/prices";
import { ApiError, ConflictError, NotFoundError } from "../../../services/errors";
import { log } from "../../../lib/log";
import { principalOf } from "../../middleware/guard";
import { isoTime } from "../../paging";
import type { AppEnv } from "../../types";
import type { PriceEntry, deletePrice, getPrice, listPrices, setPrice } from "./prices.routes";

/** The deployment is misconfigured: a 500 that says which setting, and nothing else of the server. */
class ConfigurationError extends ApiError {
  constructor(detail: string) {
    super(500, "CONFIGURATION_ERROR", "Configuration error", detail);
  }
}

/** The deployment's defaults, or a loud 500 naming the variable when it is not valid. */
function defaultsOf(env: Env, requestId: string): PriceBook {
  try {
    return prices.deploymentPrices(env.PRICES);
  } catch (err) {
    if (!(err instanceof prices.PricesConfigurationError)) throw err;
    log("error", "invalid configuration", { request_id: requestId, variable: err.variable, problems: err.problems });
    throw new ConfigurationError(`${err.message} Fix the deployment's ${err.variable} variable.`);
  }
}

function tenantEntry(r: prices.PriceRecord): PriceEntry {
  return { model: r.model, ...prices.priceOf(r), source: "tenant", updated_at: isoTime(r.updatedAt) };
}

function defaultEntry(model: string, defaults: PriceBook): PriceEntry | null {
  const price = Object.hasOwn(defaults, model) ? defaults[model] : undefined;
  return price ? { model, ...price, source: "deployment", updated_at: null } : null;
}

function noPrice(model: string): NotFoundError {
  return new NotFoundError("PRICE_NOT_FOUND", `No price for model '${model}': neither this tenant nor the deployment sets one.`);
}

export const list: RouteHandler<typeof listPrices, AppEnv> = async (c) => {
  const p = principalOf(c);
  const defaults = defaultsOf(c.env, c.get("requestId"));
  const own = await prices.listTenantPrices(c.env.DB, p.tenant);
  const byModel = new Map<string, PriceEntry>();
  for (const model of Object.keys(defaults)) byModel.set(model, defaultEntry(model, defaults)!);
  for (const r of own) byModel.set(r.model, tenantEntry(r));
  // Code-point order, as SQLite's BINARY collation orders the tenant's rows.
  const items = [...byModel.values()].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
  return c.json({ items }, 200);
};

export const get: RouteHandler<typeof getPrice, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { model } = c.req.valid("param");
  const defaults = defaultsOf(c.env, c.get("requestId"));
  const own = await prices.findTenantPrice(c.env.DB, p.tenant, model);
  const entry = own ? tenantEntry(own) : defaultEntry(model, defaults);
  if (!entry) throw noPrice(model);
  return c.json(entry, 200);
};

export const set: RouteHandler<typeof setPrice, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { model } = c.req.valid("param");
  const body = c.req.valid("json");
  const result = await prices.setTenantPrice(c.env.DB, {
    tenant: p.tenant,
    model,
    inputUsdPerMtok: body.input_usd_per_mtok,
    outputUsdPerMtok: body.output_usd_per_mtok,
    updatedBy: p.keyId,
    updatedAt: Date.now(),
  });
  if (!result.ok) {
    throw new ConflictError(
      "PRICE_LIMIT_REACHED",
      `This tenant already has ${prices.MAX_TENANT_PRICES} prices of its own; remove one (DELETE /v1/prices/{model}) before adding '${model}'.`,
    );
  }
  c.set("auditDetail", { model, previous: result.previous && prices.priceOf(result.previous), price: prices.priceOf(result.current) });
  return c.json(tenantEntry(result.current), 200);
};

export const remove: RouteHandler<typeof deletePrice, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { model } = c.req.valid("param");
  const removed = await prices.deleteTenantPrice(c.env.DB, p.tenant, model);
  if (!removed) throw new NotFoundError("PRICE_NOT_FOUND", `This tenant has no price of its own for model '${model}'.`);
  c.set("auditDetail", { model, previous: prices.priceOf(removed) });
  return c.body(null, 204);
};
