/**
 * Pure steps (transform) run before anything is recorded and are written in bursts: the log,
 * the steps and their attempts must read exactly as if each had been recorded on its own.
 */
import { describe, expect, it } from "vitest";
import { tenantWithKeys } from "../helpers/api";
import { chain, eventsOf, expectContiguous, start, stepsOf } from "../helpers/executions";

describe("pure steps written in bursts", () => {
  it("a chain longer than a burst: every step once, one attempt each, the log in order", async () => {
    const t = await tenantWithKeys("pure-long");
    const res = await start(t.operator, { definition: chain("pure-70", 70), input: { n: 5 } }, { wait: 30 });
    expect(res.body.status, res.text).toBe("completed");
    expect(res.body.output).toBe(74);
    const steps = await stepsOf(t.viewer, res.body.id);
    expect(steps).toHaveLength(70);
    for (const [i, s] of steps.entries()) {
      expect(s.status).toBe("completed");
      expect(s.output).toBe(5 + i);
      expect(s.attempts).toEqual([{ attempt: 1, status: "completed", started_at: expect.any(String), ended_at: expect.any(String), output: 5 + i }]);
    }
    const events = await eventsOf(t.viewer, res.body.id);
    expectContiguous(events);
    expect(events.map((e) => [e.type, e.step_id ?? null])).toEqual([
      ["execution.created", null],
      ["execution.started", null],
      ...Array.from({ length: 70 }, (_, i) => [
        ["step.started", `s${i}`],
        ["step.completed", `s${i}`],
      ]).flat(),
      ["execution.completed", null],
    ]);
    // Times never go backwards along the log.
    const times = events.map((e) => Date.parse(e.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("a failing step after a burst: the completed ones are written first, the failure after them", async () => {
    const t = await tenantWithKeys("pure-fail");
    const definition = chain("pure-fail", 40);
    definition.steps[39] = { id: "s39", type: "transform", needs: ["s38"], expression: "$error('no')" };
    const res = await start(t.operator, { definition, input: { n: 1 } }, { wait: 30 });
    expect(res.body.status, res.text).toBe("failed");
    expect(res.body.error).toMatchObject({ step_id: "s39" });
    const events = await eventsOf(t.viewer, res.body.id);
    expectContiguous(events);
    const tail = events.slice(-4).map((e) => [e.type, e.step_id ?? null]);
    expect(tail).toEqual([
      ["step.completed", "s38"],
      ["step.started", "s39"],
      ["step.failed", "s39"],
      ["execution.failed", null],
    ]);
    const steps = await stepsOf(t.viewer, res.body.id);
    expect(steps.filter((s) => s.status === "completed")).toHaveLength(39);
  });
});
