/** The event log under transitions with many events: every one written, seqs gapless. */
import { describe, expect, it } from "vitest";
import { call, tenantWithKeys } from "../helpers/api";
import { eventsOf, expectContiguous, start, waitForStatus } from "../helpers/executions";

describe("event log", () => {
  it("a transition with more events than one statement may bind (cancelling 30 sleeping steps) keeps them all, in order", async () => {
    const t = await tenantWithKeys("evlog-many");
    const definition = { id: "many-naps", parallelism: 50, steps: Array.from({ length: 30 }, (_, i) => ({ id: `nap${i}`, type: "wait", seconds: 600 })) };
    const res = await start(t.operator, { definition });
    await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    expect((await call("POST", `/v1/executions/${res.body.id}/cancel`, { key: t.operator })).status).toBe(200);
    const events = await eventsOf(t.viewer, res.body.id);
    expectContiguous(events);
    const tail = events.slice(-31);
    expect(tail.filter((e) => e.type === "step.cancelled").map((e) => e.step_id)).toEqual(Array.from({ length: 30 }, (_, i) => `nap${i}`));
    expect(tail.at(-1)!.type).toBe("execution.cancelled");
  });
});
