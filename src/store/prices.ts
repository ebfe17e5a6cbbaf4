/**
 * Model prices (SPEC §7 "Prices"): each tenant's own prices in D1 (`prices`), over the deployment's
 * defaults (the `PRICES` variable). A tenant's price wins over the default for the same model; a
 * model with neither has no price. Prices are USD per million tokens.
 *
 * Invariants: a tenant holds at most MAX_TENANT_PRICES prices of its own (checked inside the write,
 * so concurrent writes cannot pass it); `deploymentPrices` never silently ignores a bad variable.
 */
import { z } from "@hono/zod-openapi";
import { ModelName, Price, type PriceBook } from "../schemas/costs";

/** Most prices of its own one tenant may hold: the whole list is read at once, never paged. */
export const MAX_TENANT_PRICES = 1_000;

/** The variable that holds the deployment's default prices. */
export const PRICES_VARIABLE = "PRICES";

/** One tenant price as stored. Times are epoch milliseconds. */
export interface PriceRecord {
  tenant: string;
  model: string;
  inputUsdPerMtok: number;
  outputUsdPerMtok: number;
  /** API key id of the admin who set it. */
  updatedBy: string | null;
  updatedAt: number;
}

interface PriceRow {
  tenant: string;
  model: string;
  input_usd_per_mtok: number;
  output_usd_per_mtok: number;
  updated_by: string | null;
  updated_at: number;
}

const COLUMNS = "tenant, model, input_usd_per_mtok, output_usd_per_mtok, updated_by, updated_at";

function toRecord(row: PriceRow): PriceRecord {
  return {
    tenant: row.tenant,
    model: row.model,
    inputUsdPerMtok: row.input_usd_per_mtok,
    outputUsdPerMtok: row.output_usd_per_mtok,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  };
}

/** The price part of a record, as a `Price`. */
export function priceOf(r: PriceRecord): Price {
  return { input_usd_per_mtok: r.inputUsdPerMtok, output_usd_per_mtok: r.outputUsdPerMtok };
}

/** Every price of the tenant's own, ordered by model (at most MAX_TENANT_PRICES rows). */
export async function listTenantPrices(db: D1Database, tenant: string): Promise<PriceRecord[]> {
  const { results } = await db.prepare(`SELECT ${COLUMNS} FROM prices WHERE tenant = ?1 ORDER BY model`).bind(tenant).all<PriceRow>();
  return results.map(toRecord);
}

export async function findTenantPrice(db: D1Database, tenant: string, model: string): Promise<PriceRecord | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM prices WHERE tenant = ?1 AND model = ?2`).bind(tenant, model).first<PriceRow>();
  return row ? toRecord(row) : null;
}

export type SetPriceResult =
  | { ok: true; previous: PriceRecord | null; current: PriceRecord }
  /** The tenant already holds MAX_TENANT_PRICES prices and this model is not one of them: nothing written. */
  | { ok: false; reason: "limit" };

/**
 * Sets (inserts or replaces) the tenant's price of a model, unless that would take the tenant past
 * `limit` prices. One D1 batch, one transaction: `previous` is the row the write replaced.
 */
export async function setTenantPrice(db: D1Database, record: PriceRecord, limit = MAX_TENANT_PRICES): Promise<SetPriceResult> {
  const [before, written] = await db.batch<PriceRow>([
    db.prepare(`SELECT ${COLUMNS} FROM prices WHERE tenant = ?1 AND model = ?2`).bind(record.tenant, record.model),
    // INSERT … SELECT … WHERE: the row is written only when it replaces one or the tenant is under
    // the limit; the WHERE also keeps SQLite from reading ON CONFLICT as a join's ON.
    db
      .prepare(
        `INSERT INTO prices (${COLUMNS})
         SELECT ?1, ?2, ?3, ?4, ?5, ?6
         WHERE EXISTS (SELECT 1 FROM prices WHERE tenant = ?1 AND model = ?2)
            OR (SELECT COUNT(*) FROM prices WHERE tenant = ?1) < ?7
         ON CONFLICT (tenant, model) DO UPDATE SET
           input_usd_per_mtok = excluded.input_usd_per_mtok,
           output_usd_per_mtok = excluded.output_usd_per_mtok,
           updated_by = excluded.updated_by,
           updated_at = excluded.updated_at
         RETURNING ${COLUMNS}`,
      )
      .bind(record.tenant, record.model, record.inputUsdPerMtok, record.outputUsdPerMtok, record.updatedBy, record.updatedAt, limit),
  ]);
  const row = written?.results[0];
  if (!row) return { ok: false, reason: "limit" };
  const previous = before?.results[0];
  return { ok: true, previous: previous ? toRecord(previous) : null, current: toRecord(row) };
}

/** Removes the tenant's own price of a model and returns it; null when it had none. */
export async function deleteTenantPrice(db: D1Database, tenant: string, model: string): Promise<PriceRecord | null> {
  const row = await db
    .prepare(`DELETE FROM prices WHERE tenant = ?1 AND model = ?2 RETURNING ${COLUMNS}`)
    .bind(tenant, model)
    .first<PriceRow>();
  return row ? toRecord(row) : null;
}

/**
 * The effective price of each named model for the tenant: its own price, else the deployment
 * default; a model with neither is left out. One D1 query, none when `models` is empty. The names
 * travel as one JSON array (`json_each`), so any number of models stays one query within D1's
 * limit of bound parameters.
 */
export async function resolvePrices(db: D1Database, tenant: string, models: readonly string[], defaults: PriceBook): Promise<PriceBook> {
  const wanted = [...new Set(models)];
  if (wanted.length === 0) return {};
  const { results } = await db
    .prepare(
      `SELECT model, input_usd_per_mtok, output_usd_per_mtok FROM prices
       WHERE tenant = ?1 AND model IN (SELECT value FROM json_each(?2))`,
    )
    .bind(tenant, JSON.stringify(wanted))
    .all<Pick<PriceRow, "model" | "input_usd_per_mtok" | "output_usd_per_mtok">>();
  const own = new Map(results.map((r) => [r.model, { input_usd_per_mtok: r.input_usd_per_mtok, output_usd_per_mtok: r.output_usd_per_mtok }]));
  const book: PriceBook = {};
  for (const model of wanted) {
    // Object.hasOwn: a model named like an Object.prototype member ("constructor") is just a name.
    const price = own.get(model) ?? (Object.hasOwn(defaults, model) ? defaults[model] : undefined);
    if (price) book[model] = { input_usd_per_mtok: price.input_usd_per_mtok, output_usd_per_mtok: price.output_usd_per_mtok };
  }
  return book;
}

// ---- deployment defaults

/**
 * The `PRICES` variable is not a valid price book. Its message names the variable and where each
 * problem is (model and field), without echoing the text: safe to show a caller.
 */
export class PricesConfigurationError extends Error {
  readonly variable = PRICES_VARIABLE;
  constructor(readonly problems: string[]) {
    super(`The ${PRICES_VARIABLE} variable is not valid: ${problems.join("; ")}.`);
    this.name = "PricesConfigurationError";
  }
}

/** The variable's shape: model names as a definition may write them, each with a complete price and nothing else. */
const DeploymentPriceBook = z.record(ModelName, z.strictObject(Price.shape));

const MAX_LISTED_PROBLEMS = 5;

function parseDeploymentPrices(raw: string | undefined): PriceBook {
  if (raw === undefined || raw.trim() === "") return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new PricesConfigurationError(['it is not JSON (expected { "<model>": { "input_usd_per_mtok": n, "output_usd_per_mtok": n } })']);
  }
  const parsed = DeploymentPriceBook.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.map(String).join(".") : "(the whole value)"}: ${i.message}`);
    const more = problems.length - MAX_LISTED_PROBLEMS;
    throw new PricesConfigurationError(more > 0 ? [...problems.slice(0, MAX_LISTED_PROBLEMS), `and ${more} more`] : problems);
  }
  // Frozen: the book is shared by every request of the isolate; a caller must copy, not edit it.
  const book: PriceBook = {};
  for (const [model, price] of Object.entries(parsed.data)) book[model] = Object.freeze({ ...price });
  return Object.freeze(book);
}

/** One entry: a deployment has one value, so the cache holds the last one read (result or error). */
let cached: { raw: string | undefined; book: PriceBook } | { raw: string | undefined; error: PricesConfigurationError } | null = null;

/**
 * The deployment's default prices from the `PRICES` variable (`env.PRICES`), parsed and validated
 * once per value. Empty or absent: no defaults. Not valid: throws PricesConfigurationError, every
 * time it is asked (the variable does not fix itself), so a bad value fails loudly instead of
 * leaving every model unpriced. The result is frozen and shared.
 */
export function deploymentPrices(raw: string | undefined): PriceBook {
  if (cached === null || cached.raw !== raw) {
    try {
      cached = { raw, book: parseDeploymentPrices(raw) };
    } catch (err) {
      if (!(err instanceof PricesConfigurationError)) throw err;
      cached = { raw, error: err };
    }
  }
  if ("error" in cached) throw cached.error;
  return cached.book;
}
