import { describe, expect, it } from "vitest";
import { compilePlan, planNext, PlanError } from "../../src/engine/scheduler";
import type { PlanStep, StepRuntimeState } from "../../src/engine/scheduler";
import type { StepStatus } from "../../src/schemas/executions";

const NOW = 1_700_000_000_000;
const s = (id: string, needs: string[] = [], on_error?: "fail" | "continue"): PlanStep =>
  on_error === undefined ? { id, needs } : { id, needs, on_error };

/** `{ a: "completed", b: ["pending", NOW + 5] }` → the states map. */
function states(entries: Record<string, StepStatus | [StepStatus, number | null]>): Map<string, StepRuntimeState> {
  return new Map(
    Object.entries(entries).map(([id, v]) => [id, Array.isArray(v) ? { status: v[0], nextAttemptAt: v[1] } : { status: v }]),
  );
}

const opts = (parallelism = 10, now = NOW) => ({ now, parallelism });

describe("compilePlan", () => {
  it("indexes needs and dependents and orders steps topologically (declaration order among ready ones)", () => {
    const plan = compilePlan([s("d", ["b", "c"]), s("b", ["a"]), s("a"), s("c", ["a", "a"])]);
    expect(plan.ids).toEqual(["d", "b", "a", "c"]);
    expect(plan.needs).toEqual([[1, 3], [2], [], [2]]);
    expect(plan.dependents).toEqual([[], [0], [1, 3], [0]]);
    expect(plan.topological.map((i) => plan.ids[i])).toEqual(["a", "b", "c", "d"]);
    expect(plan.edgeCount).toBe(4);
    expect(plan.tolerated).toEqual([false, false, false, false]);
  });

  it("refuses cycles, unknown needs and duplicate ids", () => {
    expect(() => compilePlan([s("a", ["b"]), s("b", ["a"]), s("c")])).toThrow(new PlanError("the steps form a cycle through: a, b"));
    expect(() => compilePlan([s("a", ["zz"])])).toThrow(PlanError);
    expect(() => compilePlan([s("a"), s("a")])).toThrow("step 'a' is declared twice");
  });
});

describe("planNext", () => {
  it("starts the roots of a fresh plan in declaration order", () => {
    const steps = [s("b"), s("a"), s("c", ["a"])];
    expect(planNext(steps, new Map(), opts())).toEqual({ start: ["b", "a"], skip: [], failedBy: null, done: null, nextWakeAt: null });
  });

  it("walks a chain one step at a time and detects the end", () => {
    const plan = compilePlan([s("a"), s("b", ["a"]), s("c", ["b"])]);
    expect(planNext(plan, states({ a: "pending", b: "pending", c: "pending" }), opts()).start).toEqual(["a"]);
    expect(planNext(plan, states({ a: "running", b: "pending", c: "pending" }), opts()).start).toEqual([]);
    expect(planNext(plan, states({ a: "completed", b: "pending", c: "pending" }), opts()).start).toEqual(["b"]);
    expect(planNext(plan, states({ a: "completed", b: "completed", c: "pending" }), opts()).start).toEqual(["c"]);
    expect(planNext(plan, states({ a: "completed", b: "completed", c: "completed" }), opts())).toEqual({
      start: [],
      skip: [],
      failedBy: null,
      done: "completed",
      nextWakeAt: null,
    });
  });

  it("runs both branches of a diamond and joins only when both ended", () => {
    const plan = compilePlan([s("a"), s("b", ["a"]), s("c", ["a"]), s("d", ["b", "c"])]);
    expect(planNext(plan, states({ a: "completed" }), opts()).start).toEqual(["b", "c"]);
    expect(planNext(plan, states({ a: "completed", b: "completed", c: "running" }), opts()).start).toEqual([]);
    expect(planNext(plan, states({ a: "completed", b: "completed", c: "waiting" }), opts()).start).toEqual([]);
    expect(planNext(plan, states({ a: "completed", b: "completed", c: "completed" }), opts()).start).toEqual(["d"]);
  });

  it("fan-in: runs a step with some skipped and some completed needs; skips one whose needs are all skipped", () => {
    const plan = compilePlan([s("a"), s("b"), s("c"), s("mixed", ["a", "b"]), s("allskipped", ["b", "c"])]);
    expect(planNext(plan, states({ a: "completed", b: "skipped", c: "skipped" }), opts())).toEqual({
      start: ["mixed"],
      skip: ["allskipped"],
      failedBy: null,
      done: null,
      nextWakeAt: null,
    });
    // A need still running holds the step even if another need was skipped.
    expect(planNext(plan, states({ a: "running", b: "skipped", c: "running" }), opts())).toMatchObject({ start: [], skip: [] });
  });

  it("cascades a skip through the whole closure in one call, and finishes when that ends everything", () => {
    // a skipped → b, c skipped → d (needs b, c) skipped → e (needs d) skipped; f (needs d and root g) runs.
    const plan = compilePlan([s("e", ["d"]), s("d", ["b", "c"]), s("c", ["a"]), s("b", ["a"]), s("a"), s("g"), s("f", ["d", "g"])]);
    expect(planNext(plan, states({ a: "skipped", g: "completed" }), opts())).toEqual({
      start: ["f"],
      skip: ["e", "d", "c", "b"],
      failedBy: null,
      done: null,
      nextWakeAt: null,
    });
    expect(planNext(plan, states({ a: "skipped", g: "completed", f: "completed" }), opts())).toEqual({
      start: [],
      skip: ["e", "d", "c", "b"],
      failedBy: null,
      done: "completed",
      nextWakeAt: null,
    });
  });

  it("never skips a step without needs", () => {
    expect(planNext([s("a")], states({}), opts()).skip).toEqual([]);
  });

  it("caps starts at parallelism minus running steps; waiting steps take no slot", () => {
    const steps = [s("r1"), s("r2"), s("w1"), s("w2"), s("p1"), s("p2"), s("p3"), s("p4")];
    const st = states({ r1: "running", r2: "running", w1: "waiting", w2: "waiting" });
    expect(planNext(steps, st, opts(4)).start).toEqual(["p1", "p2"]);
    expect(planNext(steps, st, opts(3)).start).toEqual(["p1"]);
    expect(planNext(steps, st, opts(2)).start).toEqual([]);
    expect(planNext(steps, st, opts(1)).start).toEqual([]);
    expect(planNext(steps, st, opts(100)).start).toEqual(["p1", "p2", "p3", "p4"]);
  });

  it("does not start a step in retry backoff before its time, and wakes for the earliest one", () => {
    const steps = [s("a"), s("b"), s("c"), s("d")];
    const st = states({ a: ["pending", NOW + 5_000], b: ["pending", NOW + 2_000], c: ["pending", NOW], d: ["pending", null] });
    expect(planNext(steps, st, opts())).toEqual({ start: ["c", "d"], skip: [], failedBy: null, done: null, nextWakeAt: NOW + 2_000 });
    expect(planNext(steps, st, opts(10, NOW + 2_000))).toMatchObject({ start: ["b", "c", "d"], nextWakeAt: NOW + 5_000 });
    expect(planNext(steps, st, opts(10, NOW + 5_000))).toMatchObject({ start: ["a", "b", "c", "d"], nextWakeAt: null });
  });

  it("a step in backoff takes no slot, and a due step still waits for a free slot", () => {
    const steps = [s("a"), s("b"), s("c")];
    const st = states({ a: ["pending", NOW + 1_000], b: "running", c: ["pending", NOW - 1] });
    expect(planNext(steps, st, opts(1))).toMatchObject({ start: [], nextWakeAt: NOW + 1_000 });
    expect(planNext(steps, st, opts(2))).toMatchObject({ start: ["c"], nextWakeAt: NOW + 1_000 });
  });

  it("ignores backoff times of steps whose needs are not met", () => {
    const steps = [s("a"), s("b", ["a"])];
    expect(planNext(steps, states({ a: "running", b: ["pending", NOW + 1_000] }), opts()).nextWakeAt).toBeNull();
  });

  it("lets dependents of a tolerated failure run and ends partial", () => {
    const plan = compilePlan([s("a", [], "continue"), s("b", ["a"]), s("c")]);
    expect(planNext(plan, states({ a: "failed", c: "completed" }), opts())).toEqual({
      start: ["b"],
      skip: [],
      failedBy: null,
      done: null,
      nextWakeAt: null,
    });
    expect(planNext(plan, states({ a: "failed", b: "completed", c: "completed" }), opts())).toEqual({
      start: [],
      skip: [],
      failedBy: null,
      done: "partial",
      nextWakeAt: null,
    });
  });

  it("a completed step that tolerated failures of its own (a map's items: its error set) ends the execution partial", () => {
    const plan = compilePlan([s("map"), s("b", ["map"])]);
    const tolerated = new Map([
      ["map", { status: "completed" as const, error: { code: "MAP_ITEMS_FAILED" } }],
      ["b", { status: "completed" as const }],
    ]);
    expect(planNext(plan, tolerated, opts()).done).toBe("partial");
    expect(planNext(plan, states({ map: "completed", b: "completed" }), opts()).done).toBe("completed");
  });

  it("a tolerated failure is not a skip: a step needing only it runs", () => {
    const plan = compilePlan([s("a", [], "continue"), s("b", ["a"])]);
    expect(planNext(plan, states({ a: "failed" }), opts())).toMatchObject({ start: ["b"], skip: [] });
  });

  it("an untolerated failure sets failedBy (first declared) and proposes nothing new", () => {
    const plan = compilePlan([s("x"), s("a"), s("b", ["a"]), s("c"), s("d", [], "fail"), s("late", [], "fail")]);
    const st = states({ x: "running", a: "failed", c: ["pending", NOW + 1_000], d: "completed", late: "failed" });
    expect(planNext(plan, st, opts())).toEqual({ start: [], skip: [], failedBy: "a", done: null, nextWakeAt: null });
  });

  it("ends failed once every step ended with an untolerated failure among them", () => {
    const plan = compilePlan([s("a"), s("b", ["a"], "continue"), s("c")]);
    expect(planNext(plan, states({ a: "failed", b: "cancelled", c: "completed" }), opts())).toEqual({
      start: [],
      skip: [],
      failedBy: "a",
      done: "failed",
      nextWakeAt: null,
    });
  });

  it("treats a cancelled step as a failure (tolerated with on_error: continue)", () => {
    const plan = compilePlan([s("a", [], "continue"), s("b", ["a"]), s("c")]);
    expect(planNext(plan, states({ a: "cancelled", c: "completed" }), opts())).toMatchObject({ start: ["b"], failedBy: null });
    expect(planNext(plan, states({ a: "cancelled", b: "completed", c: "completed" }), opts()).done).toBe("partial");
    expect(planNext(plan, states({ a: "completed", b: "completed", c: "cancelled" }), opts())).toMatchObject({
      failedBy: "c",
      done: "failed",
    });
  });

  it("is not done while a step runs, waits or is pending", () => {
    const steps = [s("a"), s("b")];
    for (const other of ["pending", "running", "waiting"] as const) {
      expect(planNext(steps, states({ a: "completed", b: other }), opts()).done).toBeNull();
    }
    expect(planNext(steps, states({ a: "completed", b: "skipped" }), opts()).done).toBe("completed");
  });

  it("does not propose steps that are already running, waiting or ended", () => {
    const steps = [s("a"), s("b"), s("c"), s("d")];
    expect(planNext(steps, states({ a: "running", b: "waiting", c: "completed", d: "skipped" }), opts()).start).toEqual([]);
  });

  it("plans a 100-step chain: one start per call, done at the end", () => {
    const steps = Array.from({ length: 100 }, (_, i) => s(`s${i}`, i === 0 ? [] : [`s${i - 1}`]));
    const plan = compilePlan(steps);
    const st = new Map<string, StepRuntimeState>();
    let started = 0;
    for (;;) {
      const decision = planNext(plan, st, opts());
      if (decision.done !== null) {
        expect(decision.done).toBe("completed");
        break;
      }
      expect(decision.start).toHaveLength(1);
      st.set(decision.start[0] as string, { status: "completed" });
      started++;
    }
    expect(started).toBe(100);
  });

  it("skips a 250-step chain below a skipped root in one call", () => {
    const steps = Array.from({ length: 250 }, (_, i) => s(`s${i}`, i === 0 ? [] : [`s${i - 1}`]));
    const decision = planNext(steps, states({ s0: "skipped" }), opts());
    expect(decision.skip).toHaveLength(249);
    expect(decision.skip[0]).toBe("s1");
    expect(decision.done).toBe("completed");
  });
});
