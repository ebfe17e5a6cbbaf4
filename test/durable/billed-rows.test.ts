/**
 * What an execution costs to run: the object counts the storage rows and D1 rows it writes (the
 * units both are billed in) and reports them once the ended execution's index is flushed.
 */
import { describe, expect, it } from "vitest";
import { eventually, tenantWithKeys } from "../helpers/api";
import { NAP_THEN_GO, chain, start, stepsOf, waitForStatus } from "../helpers/executions";
import { advanceAndRunAlarm, inObject, stubOf } from "../helpers/objects";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { TransitionLog } from "../../src/durable/storage/transition-log";

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
    // Pure steps that succeed at once are written in a burst: one transition-log row for all of
    // their records and events, so 20 more steps write no more rows.
    expect(u25.storage_rows_written).toBe(u5.storage_rows_written);
    // 21 measured: the schema (5), the execution row and its update, the transition log (creation,
    // start, burst), the index row queued, rewritten and deleted, the safety-net and timeout timers.
    // An early index flush on a slow machine queues and deletes one more.
    expect(u25.storage_rows_written).toBeLessThanOrEqual(24);
    expect(u5.d1_rows_written).toBeGreaterThanOrEqual(1);
    // D1 holds the index row (5 rows: the row, its primary key's and its three listing indexes'
    // entries) and the start's audit row (6: the row, its id's and three index entries, its sequence).
    // The telemetry rollups are no longer written per execution (one per step, before): a read builds
    // a day's in bulk when it first needs the whole day (migration 0012). No D1 row grows with the steps.
    expect(u25.d1_rows_written - u5.d1_rows_written).toBe(0);
    expect(u25.d1_rows_written).toBeLessThanOrEqual(11);
  });

  it("writes no record for a step that has not started, and still shows it pending, across a restart", async () => {
    const t = await tenantWithKeys("lazy-steps");
    const res = await start(t.operator, NAP_THEN_GO);
    const id = res.body.id;
    await waitForStatus(t.viewer, id, ["waiting"]);
    const rows = () =>
      runInDurableObject(stubOf(id), (_o, state) =>
        [...new TransitionLog(state.storage.sql).steps().values()].map((st) => ({ id: st.id, status: st.status })).sort((a, b) => a.id.localeCompare(b.id)),
      );
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
