/**
 * What an execution costs to run: the object counts the storage rows and D1 rows it writes (the
 * units both are billed in) and reports them once the ended execution's index is flushed.
 */
import { describe, expect, it } from "vitest";
import { eventually, tenantWithKeys } from "../helpers/api";
import { NAP_THEN_GO, chain, start, stepsOf, waitForStatus } from "../helpers/executions";
import { advanceAndRunAlarm, inObject, stubOf } from "../helpers/objects";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";

async function usageOfFlushed(id: string) {
  return eventually(() =>
    inObject(id, (o) => {
      expect(o.runtime.outbox.pending()).toBe(0);
      return o.runtime.billedRows();
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
    // A pure step that succeeds at once writes its row (once, when it ends: nothing is written for
    // a step before it starts, and its only attempt is the row itself) and its two events.
    expect(u5.storage_rows_written).toBeGreaterThan(5 * 3);
    expect(u25.storage_rows_written - u5.storage_rows_written).toBe(20 * 3);
    expect(u5.d1_rows_written).toBeGreaterThanOrEqual(1);
    // D1 holds the index and its telemetry rollups (migration 0007): the row, its index entries and
    // later updates, the day's rollup row per update, and, when the execution ends, one duration
    // rollup row per step — the only D1 rows that grow with the steps.
    expect(u25.d1_rows_written - u5.d1_rows_written).toBe(20);
  });

  it("writes no row for a step that has not started, and still shows it pending, across a restart", async () => {
    const t = await tenantWithKeys("lazy-steps");
    const res = await start(t.operator, NAP_THEN_GO);
    const id = res.body.id;
    await waitForStatus(t.viewer, id, ["waiting"]);
    const rows = () => runInDurableObject(stubOf(id), (_o, state) => state.storage.sql.exec<{ id: string; status: string }>("SELECT id, status FROM steps ORDER BY id").toArray());
    expect(await rows()).toEqual([{ id: "nap", status: "waiting" }]);
    await evictDurableObject(stubOf(id));
    expect((await stepsOf(t.viewer, id)).map((s) => [s.id, s.status])).toEqual([
      ["nap", "waiting"],
      ["go", "pending"],
    ]);
    // It runs as declared once its turn comes.
    await advanceAndRunAlarm(id, 600_000);
    const done = await waitForStatus(t.viewer, id, ["completed"]);
    expect(done.output).toBe("awake");
    expect(await rows()).toEqual([
      { id: "go", status: "completed" },
      { id: "nap", status: "completed" },
    ]);
  });
});
