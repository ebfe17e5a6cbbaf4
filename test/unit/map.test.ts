/** Map steps decided in pure code (engine/map.ts): the item list, the tolerance, item moves, the map's end. */
import { describe, expect, it } from "vitest";
import { StepError } from "../../src/engine/errors";
import { cancelledItems, decideItemCompleted, decideItemFailed, decideMapCompleted, itemStarted, mapFailed, toleratedFailures, type MapItemRecord } from "../../src/engine/map";
import { mapItemList } from "../../src/engine/steps/map";
import type { MapStep } from "../../src/schemas/definition";
import { stepRecord } from "../helpers/records";

const NOW = Date.parse("2026-03-01T10:00:00.000Z");
const sub = (retry?: Record<string, unknown>) => ({ id: "call", type: "http", request: { method: "GET", url: "https://example.com/" }, ...(retry ? { retry } : {}) }) as MapStep["step"];
const never = (): number => {
  throw new Error("random must not be called");
};

describe("mapItemList", () => {
  it("a list as it is, a single value as a list of one, no value as none; over 1,000 fails MAP_TOO_LARGE", () => {
    expect(mapItemList([1, 2])).toEqual([1, 2]);
    expect(mapItemList("x")).toEqual(["x"]);
    expect(mapItemList(null)).toEqual([null]);
    expect(mapItemList(undefined)).toEqual([]);
    expect(mapItemList(new Array(1000).fill(0))).toHaveLength(1000);
    expect(() => mapItemList(new Array(1001).fill(0))).toThrow(expect.objectContaining({ code: "MAP_TOO_LARGE", retryable: false }));
  });
});

describe("toleratedFailures", () => {
  it("none by default; a count as given; a percentage of the items rounded down", () => {
    expect(toleratedFailures(undefined, 50)).toBe(0);
    expect(toleratedFailures(3, 50)).toBe(3);
    expect(toleratedFailures("10%", 15)).toBe(1);
    expect(toleratedFailures("10%", 9)).toBe(0);
    expect(toleratedFailures("100%", 7)).toBe(7);
    expect(toleratedFailures("12.5%", 16)).toBe(2);
  });
});

describe("item moves", () => {
  const first = itemStarted(null, "each", 3, NOW - 100);

  it("an item starts as one running row; a retry reuses it", () => {
    expect(first).toEqual({ stepId: "each", index: 3, status: "running", attempts: 1, log: [], output: undefined, error: null, startedAt: NOW - 100, endedAt: null, nextAttemptAt: null, childId: null });
    expect(itemStarted({ ...first, nextAttemptAt: NOW }, "each", 3, NOW)).toMatchObject({ attempts: 2, nextAttemptAt: null, startedAt: NOW - 100 });
  });

  it("completed at its first attempt: the row is the record (no log), one event with the index and not the output", () => {
    const d = decideItemCompleted(first, { big: "output" }, NOW - 100, NOW);
    expect(d.items).toEqual([{ ...first, status: "completed", output: { big: "output" }, endedAt: NOW }]);
    expect(d.events).toEqual([{ type: "map.item.completed", stepId: "each", data: { index: 3, attempt: 1 } }]);
  });

  it("a failure the sub-step's policy retries: logged, scheduled, no event; the last failure: map.item.failed", () => {
    const err = new StepError("HTTP_STATUS", "503", { retryable: true });
    const retried = decideItemFailed(first, err, sub({ max_attempts: 2, initial_interval_ms: 50, jitter: false }), {}, NOW - 100, NOW, never);
    const row = retried.items![0]!;
    expect(row).toMatchObject({ status: "running", nextAttemptAt: NOW + 50, error: { code: "HTTP_STATUS", attempt: 1 } });
    expect(row.log).toEqual([{ attempt: 1, status: "failed", started_at: NOW - 100, ended_at: NOW, error: { code: "HTTP_STATUS", message: "503", attempt: 1 } }]);
    expect(retried.events).toEqual([]);
    const second: MapItemRecord = itemStarted(row, "each", 3, NOW + 50);
    const failed = decideItemFailed(second, err, sub({ max_attempts: 2 }), {}, NOW + 50, NOW + 60, never);
    expect(failed.items![0]).toMatchObject({ status: "failed", attempts: 2, endedAt: NOW + 60 });
    expect(failed.items![0]!.log.map((a) => a.attempt)).toEqual([1, 2]);
    expect(failed.events).toEqual([{ type: "map.item.failed", stepId: "each", data: { index: 3, attempt: 2, error: { code: "HTTP_STATUS", message: "503", attempt: 2 } } }]);
  });

  it("open items cut short are cancelled, their attempt closed (one in backoff has none open)", () => {
    const backoff = { ...first, index: 4, nextAttemptAt: NOW + 1_000, log: [{ attempt: 1, status: "failed" as const, started_at: NOW - 10, ended_at: NOW - 5 }] };
    const [a, b] = cancelledItems([first, backoff], NOW);
    expect(a).toMatchObject({ status: "cancelled", endedAt: NOW, log: [{ attempt: 1, status: "cancelled", started_at: NOW - 100, ended_at: NOW }] });
    expect(b).toMatchObject({ status: "cancelled", nextAttemptAt: null, log: backoff.log });
  });
});

describe("the map's end", () => {
  const item = (index: number, status: MapItemRecord["status"], output?: unknown): MapItemRecord => ({ ...itemStarted(null, "each", index, NOW), status, output });

  it("outputs in item order, null for failed items; tolerated failures leave MAP_ITEMS_FAILED on a completed step", () => {
    const step = stepRecord("each", "running");
    const clean = decideMapCompleted(step, [item(1, "completed", "b"), item(0, "completed", "a")], 2, NOW);
    expect(clean.steps).toEqual([{ stepId: "each", command: "complete", patch: { output: ["a", "b"], endedAt: NOW, error: null } }]);
    expect(clean.events).toEqual([{ type: "step.completed", stepId: "each", data: { attempt: 1, items: 2, failed: 0 } }]);
    const tolerated = decideMapCompleted(step, [item(0, "completed", "a"), item(1, "failed"), item(2, "completed", null)], 3, NOW);
    expect(tolerated.steps![0]!.patch).toMatchObject({ output: ["a", null, null], error: { code: "MAP_ITEMS_FAILED", details: { failed: 1 } } });
    expect(tolerated.events[0]!.data).toMatchObject({ failed: 1, tolerated: true });
  });

  it("beyond the tolerance: MAP_FAILED, not retried, with counts and the first error", () => {
    const err = mapFailed({ id: "each", attempts: 1 }, 3, 2, { code: "HTTP_STATUS", message: "500" });
    expect(err).toMatchObject({ code: "MAP_FAILED", retryable: false, details: { failed: 3, tolerated: 2, first_error: { code: "HTTP_STATUS" } } });
  });
});
