/**
 * The usage ledger's arithmetic (SPEC §7), in pure code: what a call costs at a price, the meter an
 * attempt records its calls on, and an execution's totals. The records themselves are written by
 * the Durable Object in the transaction that ends the attempt (`Decision.usage`).
 *
 * - A call's cost is `input_tokens × input price + output_tokens × output price`, per million
 *   tokens, rounded to 1e-10 USD so that sums of many records do not drift with float noise.
 * - A model with no price records `cost_usd: null` (and `price: null`): unknown, not free — unless
 *   the call used no tokens (a refusal), which costs 0. Totals add the known costs only.
 * - Every call made is a record, including a refused one (429, 5xx, timeout: no tokens, cost 0 at
 *   a known price), so "every call made is recorded and billed" holds for fallbacks and retries.
 */
import type { ExecutionCost, Price, PriceBook } from "../schemas/costs";
import { roundUsd } from "../lib/usd";

/** One call (or a declared cost) as the attempt that made it records it. */
export interface UsageCall {
  /** null: a step's declared `cost_usd`. */
  model: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  price: Price | null;
}

/** A ledger record as stored: the call, keyed by (step, item, attempt, call). */
export interface UsageEntry extends UsageCall {
  stepId: string;
  /** The map item's index; null outside a map. */
  item: number | null;
  attempt: number;
  /** 1-based within the attempt. */
  call: number;
  time: number;
}

/**
 * Tokens a text is estimated at when the provider does not say (and, under a budget, what a prompt
 * is reserved for before it is sent): one token per 4 characters, rounded up — the usual rule of
 * thumb for English text with OpenAI-style tokenizers, and the stand-in's exact count.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** (Rounding is lib/usd.ts's, shared with the store's sums.) */
export { roundUsd };

/** What `input_tokens` in and `output_tokens` out cost at `price`, in USD. */
export function costAt(price: Price, inputTokens: number, outputTokens: number): number {
  return roundUsd((inputTokens * price.input_usd_per_mtok + outputTokens * price.output_usd_per_mtok) / 1_000_000);
}

/** Records the calls of one attempt, priced from the execution's price book. */
export class UsageMeter {
  readonly calls: UsageCall[] = [];
  constructor(private readonly prices: PriceBook) {}

  price(model: string): Price | null {
    return Object.hasOwn(this.prices, model) ? this.prices[model]! : null;
  }

  /**
   * A model call that was made (answered or not): recorded, priced when a price is known. A call
   * that used no tokens (refused) costs 0 whatever the price, known or not.
   */
  call(model: string, inputTokens: number, outputTokens: number): UsageCall {
    const price = this.price(model);
    const cost = price ? costAt(price, inputTokens, outputTokens) : inputTokens === 0 && outputTokens === 0 ? 0 : null;
    const call: UsageCall = { model, input_tokens: inputTokens, output_tokens: outputTokens, cost_usd: cost, price };
    this.calls.push(call);
    return call;
  }

  /** A step's declared cost (`cost_usd`). */
  declared(costUsd: number): UsageCall {
    const call: UsageCall = { model: null, input_tokens: 0, output_tokens: 0, cost_usd: roundUsd(costUsd), price: null };
    this.calls.push(call);
    return call;
  }
}

/** The calls of an attempt as ledger records, numbered from 1. */
export function usageEntries(calls: readonly UsageCall[], stepId: string, attempt: number, time: number, item: number | null = null): UsageEntry[] {
  return calls.map((c, i) => ({ ...c, stepId, item, attempt, call: i + 1, time }));
}

export const NO_COST: Readonly<ExecutionCost> = Object.freeze({ total_usd: 0, input_tokens: 0, output_tokens: 0 });

/** `total` plus `records` (a new object). */
export function addUsage(total: Readonly<ExecutionCost>, records: Iterable<UsageCall>): ExecutionCost {
  let { total_usd, input_tokens, output_tokens } = total;
  for (const r of records) {
    if (r.cost_usd !== null) total_usd += r.cost_usd;
    input_tokens += r.input_tokens;
    output_tokens += r.output_tokens;
  }
  return { total_usd: roundUsd(total_usd), input_tokens, output_tokens };
}
