/**
 * What an execution costs to run: the object counts the storage rows and D1 rows it writes (the
 * units both are billed in) and reports them once the ended execution's index is flushed.
 */
import { describe, expect, it } from "vitest";
import { eventually, tenantWithKeys } from "../helpers/api";
import { chain, start, waitForStatus } from "../helpers/executions";
import { inObject } from "../helpers/objects";

async function usageOfFlushed(id: string) {
  return eventually(() =>
    inObject(id, (o) => {
      expect(o.engine.outbox.pending()).toBe(0);
      return o.engine.usage();
    }),
  );
}

describe("usage", () => {
  it("counts storage rows per step and the D1 rows of the index flush", async () => {
    const t = await tenantWithKeys("usage");
    const small = await start(t.operator, { definition: chain("usage-5", 5), input: { n: 1 } });
    const large = await start(t.operator, { definition: chain("usage-25", 25), input: { n: 1 } });
    await waitForStatus(t.viewer, small.body.id, ["completed"]);
    await waitForStatus(t.viewer, large.body.id, ["completed"]);
    const u5 = await usageOfFlushed(small.body.id);
    const u25 = await usageOfFlushed(large.body.id);
    // Each step writes its row, its attempt and its events: the count grows with the steps.
    expect(u5.storage_rows_written).toBeGreaterThan(5 * 3);
    expect(u25.storage_rows_written - u5.storage_rows_written).toBeGreaterThanOrEqual(20 * 3);
    // …and no more than its row at creation (2: the row and its key), its final state and its two
    // events (a first attempt that succeeded is not stored twice): what a pure step costs.
    expect(u25.storage_rows_written - u5.storage_rows_written).toBeLessThanOrEqual(20 * 5);
    expect(u5.d1_rows_written).toBeGreaterThanOrEqual(1);
    // D1 holds the index only: its rows (the row, its index entries, a later update) do not grow per step.
    expect(u25.d1_rows_written).toBeLessThan(25);
  });
});
