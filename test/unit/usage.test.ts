import { describe, expect, it } from "vitest";
import { NO_COST, UsageMeter, addUsage, costAt, estimateTokens, roundUsd, usageEntries } from "../../src/engine/usage";

const PRICE = { input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6 };

describe("usage arithmetic", () => {
  it("a call costs its tokens at the price per million, rounded to 1e-10 USD", () => {
    expect(costAt(PRICE, 1_000_000, 0)).toBe(0.15);
    expect(costAt(PRICE, 3, 7)).toBe(0.0000046500);
    // 0.1 + 0.2 style float noise does not survive the rounding
    expect(roundUsd(0.1 + 0.2)).toBe(0.3);
  });

  it("estimates tokens as one per 4 characters, rounded up", () => {
    expect([estimateTokens(""), estimateTokens("abc"), estimateTokens("abcd"), estimateTokens("abcde")]).toEqual([0, 1, 1, 2]);
  });

  it("the meter prices known models, leaves unknown ones null, and a refused call (no tokens) costs 0", () => {
    const meter = new UsageMeter({ m: PRICE });
    expect(meter.call("m", 10, 20)).toEqual({ model: "m", input_tokens: 10, output_tokens: 20, cost_usd: costAt(PRICE, 10, 20), price: PRICE });
    expect(meter.call("unknown", 10, 20)).toMatchObject({ cost_usd: null, price: null });
    expect(meter.call("unknown", 0, 0)).toMatchObject({ cost_usd: 0, price: null });
    expect(meter.declared(0.123456789012345)).toEqual({ model: null, input_tokens: 0, output_tokens: 0, cost_usd: 0.123456789, price: null });
    expect(meter.calls).toHaveLength(4);
    // A model named like a member of Object.prototype is just a name without a price.
    expect(new UsageMeter({}).price("constructor")).toBeNull();
  });

  it("records are numbered from 1 within their attempt; totals add the known costs only", () => {
    const meter = new UsageMeter({ m: PRICE });
    meter.call("m", 1_000_000, 0);
    meter.call("x", 5, 5);
    const entries = usageEntries(meter.calls, "s", 2, 1_000);
    expect(entries.map((e) => [e.stepId, e.attempt, e.call, e.item, e.time])).toEqual([
      ["s", 2, 1, null, 1_000],
      ["s", 2, 2, null, 1_000],
    ]);
    expect(addUsage(NO_COST, entries)).toEqual({ total_usd: 0.15, input_tokens: 1_000_005, output_tokens: 5 });
    expect(NO_COST).toEqual({ total_usd: 0, input_tokens: 0, output_tokens: 0 });
  });
});
