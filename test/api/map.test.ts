/**
 * Map steps (SPEC §9) through the real app and real objects: 1,000 items in order, the tolerance
 * (a count, a percentage, crossed: the items in flight cancelled), evictions mid-map, http items
 * with retries against the local upstream, children per item, and the items page.
 */
import { describe, expect, it } from "vitest";
import { abortAllDurableObjects } from "cloudflare:test";
import { call, eventually, tenantWithKeys } from "../helpers/api";
import type { EventBody } from "../helpers/executions";
import { eventsOf, start, stepsOf, waitForStatus } from "../helpers/executions";
import { inObject } from "../helpers/objects";

const squares = (n: number, extra: Record<string, unknown> = {}) => ({
  definition: {
    id: "squares",
    steps: [{ id: "each", type: "map", items: "{{ [1..input.n] }}", concurrency: 10, step: { id: "sq", type: "transform", expression: "item * item + index * 0" }, ...extra }],
    output: "steps.each.output",
  },
  input: { n },
});

/** Every event of the execution (pages of 1,000). */
async function allEvents(key: string, id: string): Promise<EventBody[]> {
  const out: EventBody[] = [];
  for (;;) {
    const res = await call<{ items: EventBody[]; next_after: number; terminal: boolean }>("GET", `/v1/executions/${id}/events?limit=1000&after=${out.length}`, { key });
    expect(res.status, res.text).toBe(200);
    out.push(...res.body.items);
    if (res.body.items.length < 1000) return out;
  }
}

describe("map steps", { timeout: 60_000 }, () => {
  it("1,000 items at concurrency 10 complete, outputs in item order; one row and one event per item", async () => {
    const t = await tenantWithKeys();
    const started = await start(t.operator, squares(1000));
    expect(started.status, started.text).toBe(202);
    const done = await waitForStatus(t.viewer, started.body.id, ["completed", "failed", "partial"], 30_000);
    expect(done.status, JSON.stringify(done.error)).toBe("completed");
    expect(done.output).toEqual(Array.from({ length: 1000 }, (_, i) => (i + 1) * (i + 1)));
    const events = await allEvents(t.viewer, done.id);
    const completed = events.filter((e) => e.type === "map.item.completed");
    expect(completed.map((e) => e.data.index).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(await inObject(done.id, (o) => o.runtime.maps.loadItems("each").length)).toBe(1000);
  });
});

interface ItemBody {
  index: number;
  status: string;
  attempts: { attempt: number; status: string; error?: { code: string } }[];
  output?: unknown;
  error?: { code: string };
  child_execution_id?: string;
}

const itemsOf = async (key: string, id: string, query = "") => {
  const res = await call<{ items: ItemBody[]; next_cursor: string | null }>("GET", `/v1/executions/${id}/steps/each/items${query}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body;
};

/** Items 1..n; those divisible by 5 fail (a transform that raises), the others double. */
const fivesFail = (n: number, tolerated?: number | string) => ({
  definition: {
    id: "fives-fail",
    steps: [
      {
        id: "each",
        type: "map",
        items: "{{ [1..input.n] }}",
        ...(tolerated !== undefined ? { tolerated_failures: tolerated } : {}),
        step: { id: "double", type: "transform", expression: "item % 5 = 0 ? $error('no fives') : item * 2" },
      },
    ],
    output: "steps.each.output",
  },
  input: { n },
});

describe("map tolerance", { timeout: 30_000 }, () => {
  it("a count: failures within it complete the map with null outputs, and the execution ends partial", async () => {
    const t = await tenantWithKeys();
    const started = await start(t.operator, fivesFail(10, 2));
    const done = await waitForStatus(t.viewer, started.body.id, ["completed", "failed", "partial"]);
    expect(done.status).toBe("partial");
    expect(done.output).toEqual([2, 4, 6, 8, null, 12, 14, 16, 18, null]);
    const step = (await stepsOf(t.viewer, done.id))[0]!;
    expect(step).toMatchObject({ status: "completed", error: { code: "MAP_ITEMS_FAILED" } });
    const events = await eventsOf(t.viewer, done.id);
    expect(events.filter((e) => e.type === "map.item.failed").map((e) => e.data.index)).toEqual([4, 9]);
    expect(events.filter((e) => e.type === "map.item.failed").every((e) => !("output" in e.data))).toBe(true);
  });

  it("a percentage, rounded down: 20% of 10 tolerates 2; 10% of 15 tolerates 1, so 3 failures fail the map MAP_FAILED", async () => {
    const t = await tenantWithKeys();
    const within = await start(t.operator, fivesFail(10, "20%"));
    expect((await waitForStatus(t.viewer, within.body.id, ["completed", "failed", "partial"])).status).toBe("partial");
    const beyond = await start(t.operator, fivesFail(15, "10%"));
    const failed = await waitForStatus(t.viewer, beyond.body.id, ["completed", "failed", "partial"]);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({ code: "MAP_FAILED", step_id: "each", details: { failed: 2, tolerated: 1 } });
  });

  it("crossing the tolerance cancels the items in flight", async () => {
    const t = await tenantWithKeys();
    const started = await start(t.operator, {
      definition: {
        id: "one-fails-fast",
        steps: [
          {
            id: "each",
            type: "map",
            items: ["status/400", "slow?ms=20000", "slow?ms=20000", "slow?ms=20000", "slow?ms=20000"],
            concurrency: 3,
            step: { id: "call", type: "http", request: { method: "GET", url: "http://127.0.0.1:9999/{{ item }}" } },
          },
        ],
      },
    });
    const failed = await waitForStatus(t.viewer, started.body.id, ["completed", "failed", "partial"], 15_000);
    expect(failed.error).toMatchObject({ code: "MAP_FAILED", details: { failed: 1, tolerated: 0, first_error: { code: "HTTP_STATUS" } } });
    const { items } = await itemsOf(t.viewer, failed.id);
    expect(items.map((i) => [i.index, i.status])).toEqual([
      [0, "failed"],
      [1, "cancelled"],
      [2, "cancelled"],
      [3, "pending"],
      [4, "pending"],
    ]);
  });

  it("more items than the limit fail the step MAP_TOO_LARGE", async () => {
    const t = await tenantWithKeys();
    const started = await start(t.operator, squares(1001));
    const failed = await waitForStatus(t.viewer, started.body.id, ["completed", "failed"]);
    expect(failed.error).toMatchObject({ code: "MAP_TOO_LARGE", details: { count: 1001, max: 1000 } });
  });
});

describe("map items", { timeout: 30_000 }, () => {
  it("paged in index order under a status filter, with a cursor; 404 for a step that is not a map", async () => {
    const t = await tenantWithKeys();
    const started = await start(t.operator, fivesFail(30, 10));
    const done = await waitForStatus(t.viewer, started.body.id, ["completed", "failed", "partial"]);
    expect(done.status).toBe("partial");
    const first = await itemsOf(t.viewer, done.id, "?status=failed&limit=4");
    expect(first.items.map((i) => i.index)).toEqual([4, 9, 14, 19]);
    expect(first.items[0]).toMatchObject({ status: "failed", error: { code: "EXPRESSION_ERROR" }, attempts: [{ attempt: 1, status: "failed" }] });
    expect(first.next_cursor).not.toBeNull();
    const second = await itemsOf(t.viewer, done.id, `?status=failed&limit=4&cursor=${first.next_cursor}`);
    expect(second.items.map((i) => i.index)).toEqual([24, 29]);
    expect(second.next_cursor).toBeNull();
    const completed = await itemsOf(t.viewer, done.id, "?status=completed&limit=2");
    expect(completed.items).toEqual([
      { index: 0, status: "completed", attempts: [expect.objectContaining({ attempt: 1, status: "completed" })], output: 2 },
      { index: 1, status: "completed", attempts: [expect.objectContaining({ attempt: 1, status: "completed" })], output: 4 },
    ]);
    const notMap = await call("GET", `/v1/executions/${done.id}/steps/nope/items`, { key: t.viewer });
    expect(notMap.status).toBe(404);
    const bad = await call("GET", `/v1/executions/${done.id}/steps/each/items?status=nope`, { key: t.viewer });
    expect(bad.status).toBe(400);
  });
});

describe("map items over http", { timeout: 60_000 }, () => {
  it("http items with retries against the local upstream: each flaky item succeeds on its third attempt", async () => {
    const t = await tenantWithKeys();
    const tag = `m${crypto.randomUUID().slice(0, 8)}`;
    const started = await start(t.operator, {
      definition: {
        id: "flaky-items",
        steps: [
          {
            id: "each",
            type: "map",
            items: "{{ [0..5] }}",
            concurrency: 3,
            step: {
              id: "call",
              type: "http",
              request: { method: "GET", url: `http://127.0.0.1:9999/flaky/${tag}-{{ item }}/2` },
              retry: { max_attempts: 3, initial_interval_ms: 10, jitter: false },
            },
          },
        ],
        output: "$count(steps.each.output[status = 200])",
      },
    });
    const done = await waitForStatus(t.viewer, started.body.id, ["completed", "failed", "partial"], 30_000);
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: "completed", output: 6 });
    const { items } = await itemsOf(t.viewer, done.id);
    for (const item of items) {
      expect(item.attempts.map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
        [1, "failed", "HTTP_STATUS"],
        [2, "failed", "HTTP_STATUS"],
        [3, "completed", undefined],
      ]);
    }
  });

  it("evicted mid-map several times: no item lost, none completed twice, outputs complete", async () => {
    const t = await tenantWithKeys();
    const started = await start(t.operator, {
      definition: {
        id: "slow-items",
        steps: [{ id: "each", type: "map", items: "{{ [0..39] }}", concurrency: 5, step: { id: "call", type: "http", request: { method: "GET", url: "http://127.0.0.1:9999/slow?ms=40&i={{ item }}" } } }],
        output: "$count(steps.each.output[status = 200])",
      },
    });
    const id = started.body.id;
    for (let round = 0; round < 3; round++) {
      await eventually(async () => {
        const completed = (await itemsOf(t.viewer, id, "?status=completed&limit=1000")).items.length;
        if (completed < (round + 1) * 8) throw new Error(`only ${completed} items completed`);
      }, 15_000);
      await abortAllDurableObjects(); // mid-map, items in flight: as a crash or a deploy would
    }
    const done = await waitForStatus(t.viewer, id, ["completed", "failed", "partial"], 30_000);
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: "completed", output: 40 });
    const events = await eventsOf(t.viewer, id);
    const completedIndexes = events.filter((e) => e.type === "map.item.completed").map((e) => e.data.index as number);
    expect(completedIndexes.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(events.filter((e) => e.type === "step.completed")).toHaveLength(1);
    const interrupted = (await itemsOf(t.viewer, id, "?limit=1000")).items.filter((i) => i.attempts.some((a) => a.error?.code === "INTERRUPTED"));
    expect(interrupted.length).toBeGreaterThan(0); // the evictions did cut items off
  });

  it("a workflow sub-step starts a child per item; the outputs are the children's", async () => {
    const t = await tenantWithKeys();
    await call("POST", "/v1/workflows", { key: t.operator, body: { id: "triple", steps: [{ id: "x3", type: "transform", expression: "input.n * 3" }], output: "steps.x3.output" } });
    const started = await start(t.operator, {
      definition: {
        id: "fan-children",
        steps: [{ id: "each", type: "map", items: [1, 2, 3, 4], concurrency: 2, step: { id: "child", type: "workflow", workflow_id: "triple", input: { n: "{{ item }}" } } }],
        output: "steps.each.output",
      },
    });
    const done = await waitForStatus(t.viewer, started.body.id, ["completed", "failed", "partial"], 20_000);
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: "completed", output: [3, 6, 9, 12] });
    const children = await call<{ items: { id: string; parent: unknown }[] }>("GET", `/v1/executions?parent_id=${done.id}`, { key: t.viewer });
    expect(children.body.items).toHaveLength(4);
  });

  it("refused at start: a map item cannot run a step that waits (422 FEATURE_NOT_AVAILABLE)", async () => {
    const t = await tenantWithKeys();
    const res = await start(t.operator, {
      definition: { id: "waits-per-item", steps: [{ id: "each", type: "map", items: [1], step: { id: "ask", type: "input", questions: [{ id: "ok", prompt: "ok?", type: "boolean" }] } }] },
    });
    expect(res.status).toBe(422);
    expect((res.body as unknown as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(["/steps/0/step/type"]);
  });
});
