/**
 * Costs on the wire (SPEC §7): model prices, the usage ledger's records, and an execution's cost.
 * Prices are per tenant over the deployment's defaults (the `PRICES` variable); an execution prices
 * its calls with the prices in force when it started (`PriceBook`, pinned at start like its
 * definition), and every usage record keeps the price it was computed with.
 */
import { z } from "@hono/zod-openapi";
import { Timestamp } from "./pages";

/** Most USD per million tokens a price may state (guards against a typo of a few orders of magnitude). */
export const MAX_USD_PER_MTOK = 100_000;

export const MODEL_NAME_PATTERN = /^[A-Za-z0-9@][A-Za-z0-9@._:/+-]{0,255}$/;
export const ModelName = z
  .string()
  .regex(MODEL_NAME_PATTERN, { message: "a model name is 1-256 of A-Z a-z 0-9 @ . _ : / + -, starting with a letter, digit or @" })
  .meta({ description: "A model name as the provider knows it (`@cf/…` for Workers AI).", examples: ["gpt-4o-mini", "@cf/meta/llama-3.1-8b-instruct"] });

export const Price = z
  .object({
    input_usd_per_mtok: z.number().min(0).max(MAX_USD_PER_MTOK).meta({ description: "USD per million input (prompt) tokens.", examples: [0.15] }),
    output_usd_per_mtok: z.number().min(0).max(MAX_USD_PER_MTOK).meta({ description: "USD per million output (completion) tokens.", examples: [0.6] }),
  })
  .openapi("Price");
export type Price = z.infer<typeof Price>;

/** Prices by model, as an execution pinned them at start. */
export const PriceBook = z.record(z.string(), Price);
export type PriceBook = z.infer<typeof PriceBook>;

/** One record of the usage ledger: an llm call, or a step's declared cost. */
export const UsageRecord = z
  .object({
    step_id: z.string(),
    attempt: z.number().int().min(1),
    item: z.number().int().min(0).optional().meta({ description: "The map item's index, for a record of a map item." }),
    call: z.number().int().min(1).meta({ description: "1-based within the attempt: each model tried (fallbacks) is a call." }),
    model: z.string().nullable().meta({ description: "Null for a step's declared `cost_usd`." }),
    input_tokens: z.number().int().min(0),
    output_tokens: z.number().int().min(0),
    cost_usd: z.number().nullable().meta({ description: "Null when no price was known for the model." }),
    price: Price.nullable().meta({ description: "The price the cost was computed with (kept as it was when a price changes later)." }),
    time: Timestamp,
  })
  .openapi("UsageRecord");
export type UsageRecord = z.infer<typeof UsageRecord>;

export const ExecutionCost = z
  .object({
    total_usd: z.number().meta({ description: "Sum of the priced records (unpriced calls count 0 here and are listed with `cost_usd: null`)." }),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
  })
  .openapi("ExecutionCost");
export type ExecutionCost = z.infer<typeof ExecutionCost>;

export const ExecutionCosts = ExecutionCost.extend({
  execution_id: z.string(),
  items: z.array(UsageRecord),
}).openapi("ExecutionCosts");
export type ExecutionCosts = z.infer<typeof ExecutionCosts>;
