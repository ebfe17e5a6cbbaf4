import { createRoute, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { MAX_USD_PER_MTOK, MODEL_NAME_PATTERN, ModelName, Price } from "../../../schemas/costs";
import { Timestamp } from "../../../schemas/pages";
import { MAX_TENANT_PRICES } from "../../../store/prices";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, jsonRequest, problems } from "../../openapi";
import { SECURITY } from "../../router";
import type { AppEnv } from "../../types";

// ---- wire shapes of this resource (Price, ModelName and the limits are src/schemas/costs.ts)

export const PriceSource = z.enum(["tenant", "deployment"]).openapi({
  description: "`tenant`: the tenant's own price (`PUT /v1/prices/{model}`); `deployment`: the deployment's default (the `PRICES` variable).",
});

export const PriceEntry = z
  .object({
    model: z.string().openapi({ example: "@cf/meta/llama-3.1-8b-instruct" }),
    input_usd_per_mtok: Price.shape.input_usd_per_mtok,
    output_usd_per_mtok: Price.shape.output_usd_per_mtok,
    source: PriceSource,
    updated_at: Timestamp.nullable().openapi({ description: "When the tenant set its price; null for a deployment default." }),
  })
  .openapi("PriceEntry", {
    example: {
      model: "@cf/meta/llama-3.1-8b-instruct",
      input_usd_per_mtok: 0.28,
      output_usd_per_mtok: 0.83,
      source: "tenant",
      updated_at: "2026-11-22T10:15:00.000Z",
    },
  });
export type PriceEntry = z.infer<typeof PriceEntry>;

export const PriceList = z
  .object({ items: z.array(PriceEntry).openapi({ description: "Every effective price, ordered by model." }) })
  .openapi("PriceList");

export const SetPriceBody = z
  .strictObject({
    input_usd_per_mtok: Price.shape.input_usd_per_mtok,
    output_usd_per_mtok: Price.shape.output_usd_per_mtok,
  })
  .openapi("SetPrice", {
    description: `USD per million tokens, each from 0 to ${MAX_USD_PER_MTOK}.`,
    example: { input_usd_per_mtok: 0.28, output_usd_per_mtok: 0.83 },
  });

export const ModelParam = z.object({
  model: ModelName.openapi({
    param: { name: "model", in: "path" },
    description: "The model's name, URL-encoded: each `/` of `@cf/…` names is sent as `%2F` (`@cf%2Fmeta%2Fllama-3.1-8b-instruct`).",
    example: "@cf/meta/llama-3.1-8b-instruct",
  }),
});

// ---- routes

const tags = [TAGS.prices];
const read = guard({ permission: "prices:read", action: "price.read" });

/**
 * The model as the audit target, set before `guard` so that a denied attempt names it too (`guard`
 * only knows `{id}`). Only a well-formed name: the path is the caller's text.
 */
const modelAsAuditTarget = createMiddleware<AppEnv>(async (c, next) => {
  const model = c.req.param("model");
  if (model && MODEL_NAME_PATTERN.test(model)) c.set("auditTarget", model);
  await next();
});

export const listPrices = createRoute({
  method: "get",
  path: "/prices",
  operationId: "listPrices",
  tags,
  summary: "The tenant's effective prices: its own over the deployment's defaults",
  description:
    "Every model with a price for this tenant, ordered by model: the tenant's own prices (`source: tenant`) and the deployment's " +
    `defaults it does not override (\`source: deployment\`). Not paged: a tenant holds at most ${MAX_TENANT_PRICES} prices of its own. ` +
    "An execution prices its llm calls with the prices in force when it started; changing a price never rewrites recorded costs.",
  security: SECURITY,
  middleware: read,
  responses: { 200: jsonContent(PriceList, "The effective prices"), ...problems() },
});

export const getPrice = createRoute({
  method: "get",
  path: "/prices/{model}",
  operationId: "getPrice",
  tags,
  summary: "One model's effective price",
  description: "The tenant's own price of the model, else the deployment's default; 404 `PRICE_NOT_FOUND` when neither has one.",
  security: SECURITY,
  middleware: [modelAsAuditTarget, read],
  request: { params: ModelParam },
  responses: { 200: jsonContent(PriceEntry, "The effective price"), ...problems(400, 404) },
});

export const setPrice = createRoute({
  method: "put",
  path: "/prices/{model}",
  operationId: "setPrice",
  tags,
  summary: "Set the tenant's own price of a model (over any deployment default)",
  description:
    "Creates or replaces the tenant's price; executions started from now on use it. " +
    `A tenant holds at most ${MAX_TENANT_PRICES} prices of its own: a new model past that is 409 \`PRICE_LIMIT_REACHED\`. Audited as \`price.set\`.`,
  security: SECURITY,
  middleware: [modelAsAuditTarget, guard({ permission: "prices:write", action: "price.set" })],
  request: { params: ModelParam, body: jsonRequest(SetPriceBody) },
  responses: { 200: jsonContent(PriceEntry, "The tenant's price, as stored"), ...problems(400, 404, 409, 413, 415) },
});

export const deletePrice = createRoute({
  method: "delete",
  path: "/prices/{model}",
  operationId: "deletePrice",
  tags,
  summary: "Remove the tenant's own price of a model (the deployment default, if any, applies again)",
  description: "404 `PRICE_NOT_FOUND` when the tenant has no price of its own for the model (a deployment default cannot be removed). Audited as `price.delete`.",
  security: SECURITY,
  middleware: [modelAsAuditTarget, guard({ permission: "prices:write", action: "price.delete" })],
  request: { params: ModelParam },
  responses: { 204: { description: "Removed" }, ...problems(400, 404) },
});
