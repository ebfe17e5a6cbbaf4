/**
 * Map steps (SPEC §9) through the real wrangler dev: the `fan-out` example renders one notice per
 * target (12 items, 5 at a time) and posts them to the demo upstream's chat; its items page with a
 * cursor and a status filter (404 for a step that is not a map, 400 for a bad status); the tolerance
 * (a count: `partial` with null outputs; a percentage crossed: `failed` MAP_FAILED); the items'
 * events over SSE, before the map step's `step.completed`; a map item that would wait is 422 at start.
 */
import { describe, expect, it } from "vitest";
import { adminKey, call, type Execution, uniqueId, until } from "../helpers/client";
import { readSse } from "../helpers/streams";

interface Problem {
  code: string;
  errors?: { path: string; code?: string }[];
}
interface MapItem {
  index: number;
  status: string;
  attempts: { attempt: number; status: string; started_at?: string; ended_at?: string }[];
  output?: unknown;
  error?: { code: string };
}
interface ItemPage {
  items: MapItem[];
  next_cursor: string | null;
}
interface StepView {
  id: string;
  status: string;
  output?: unknown;
}
interface Version {
  definition: { steps: { id: string; request?: { url: string } }[] };
}

const ENDED = new Set(["completed", "partial", "failed", "cancelled", "timed_out", "rejected"]);
const ended = (e: Execution) => ENDED.has(e.status);

const WINDOW = "2026-12-05T22:00:00Z";
const TARGETS = Array.from({ length: 12 }, (_, i) => ({ host: `h${i + 1}`, owner: `o${i + 1}` }));
const notice = (i: number) => `Hello o${i + 1}, h${i + 1} restarts for maintenance at ${WINDOW}.`;

const itemsPath = (id: string, stepId: string, query = "") => `/v1/executions/${id}/steps/${stepId}/items${query}`;

/** Items 1..10; those divisible by 5 fail (a transform that raises), the others double. */
const fivesFail = (tolerated: number | string) => ({
  id: uniqueId("fives-fail"),
  steps: [
    {
      id: "each",
      type: "map",
      items: "{{ [1..10] }}",
      tolerated_failures: tolerated,
      step: { id: "double", type: "transform", expression: "item % 5 = 0 ? $error('no fives') : item * 2" },
    },
  ],
  output: "steps.each.output",
});

async function runInline(definition: Record<string, unknown>): Promise<Execution> {
  const started = await call<Execution>("POST", "/v1/executions", { body: { definition, input: {} } });
  expect(started.status, started.text).toBe(202);
  return until<Execution>(started.body.id, ended, 30_000);
}

describe("map steps", () => {
  let fanOutId: string | undefined;

  it("fan-out: one notice per target in item order, posted to the demo chat", async () => {
    const started = await call<Execution>("POST", "/v1/executions", { body: { workflow_id: "fan-out", input: { targets: TARGETS, window: WINDOW } } });
    expect(started.status, started.text).toBe(202);
    const done = await until<Execution>(started.body.id, ended, 45_000);
    expect(done.status, JSON.stringify(done.error)).toBe("completed");
    const messages = TARGETS.map((_, i) => notice(i));
    expect(done.output).toEqual({ notified: 12, messages, posted: true });
    fanOutId = done.id;

    // The post reached the demo chat, all twelve lines in one message.
    const steps = await call<{ items: StepView[] }>("GET", `/v1/executions/${done.id}/steps`);
    expect(steps.status, steps.text).toBe(200);
    const post = steps.body.items.find((s) => s.id === "post");
    expect(post).toMatchObject({ status: "completed", output: { status: 200, body: { ok: true, channel: "maintenance", lines: 12 } } });

    // And the demo upstream kept it: its address is the one npm start registered the example with.
    const version = await call<Version>("GET", "/v1/workflows/fan-out");
    expect(version.status, version.text).toBe(200);
    const url = version.body.definition.steps.find((s) => s.id === "post")?.request?.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/chat\/hooks\/maintenance$/);
    const listed = (await (await fetch(url!)).json()) as { messages: { text: string }[] };
    expect(listed.messages.map((m) => m.text)).toContain(messages.join("\n"));
  }, 60_000);

  it("the fan-out's items: paged with a cursor, filtered by status; 404 for a step that is not a map, 400 for a bad status", async () => {
    expect(fanOutId, "the fan-out run above").toBeDefined();
    const id = fanOutId!;
    const viewer = await call<{ key: string }>("POST", "/v1/api-keys", { body: { name: uniqueId("map-viewer"), role: "viewer" } });
    expect(viewer.status, viewer.text).toBe(201);

    const first = await call<ItemPage>("GET", itemsPath(id, "notices", "?limit=5"), { key: viewer.body.key });
    expect(first.status, first.text).toBe(200);
    expect(first.body.items.map((i) => i.index)).toEqual([0, 1, 2, 3, 4]);
    for (const item of first.body.items) {
      expect(item).toMatchObject({ status: "completed", output: { text: notice(item.index) } });
      expect(item.attempts).toEqual([expect.objectContaining({ attempt: 1, status: "completed" })]);
    }
    expect(first.body.next_cursor).not.toBeNull();

    const second = await call<ItemPage>("GET", itemsPath(id, "notices", `?limit=5&cursor=${encodeURIComponent(first.body.next_cursor!)}`));
    expect(second.status, second.text).toBe(200);
    expect(second.body.items.map((i) => [i.index, i.status])).toEqual([5, 6, 7, 8, 9].map((i) => [i, "completed"]));
    expect(second.body.items.map((i) => i.output)).toEqual([5, 6, 7, 8, 9].map((i) => ({ text: notice(i) })));
    const third = await call<ItemPage>("GET", itemsPath(id, "notices", `?limit=5&cursor=${encodeURIComponent(second.body.next_cursor!)}`));
    expect(third.body.items.map((i) => i.index)).toEqual([10, 11]);
    expect(third.body.next_cursor).toBeNull();

    const failed = await call<ItemPage>("GET", itemsPath(id, "notices", "?status=failed"));
    expect(failed.status, failed.text).toBe(200);
    expect(failed.body).toEqual({ items: [], next_cursor: null });

    const notMap = await call<Problem>("GET", itemsPath(id, "post"));
    expect(notMap.status, notMap.text).toBe(404);
    expect(notMap.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(notMap.body.code).toBe("STEP_NOT_FOUND");
    const noStep = await call<Problem>("GET", itemsPath(id, "nope"));
    expect([noStep.status, noStep.body.code]).toEqual([404, "STEP_NOT_FOUND"]);

    const bad = await call<Problem>("GET", itemsPath(id, "notices", "?status=bogus"));
    expect(bad.status, bad.text).toBe(400);
    expect(bad.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("tolerated failures: within a count the run ends partial with null outputs; beyond a percentage it fails MAP_FAILED", async () => {
    const partial = await runInline(fivesFail(2));
    expect(partial.status, JSON.stringify(partial.error)).toBe("partial");
    expect(partial.output).toEqual([2, 4, 6, 8, null, 12, 14, 16, 18, null]);
    const items = await call<ItemPage>("GET", itemsPath(partial.id, "each", "?status=failed"));
    expect(items.status, items.text).toBe(200);
    expect(items.body.items.map((i) => [i.index, i.status, i.error?.code])).toEqual([
      [4, "failed", "EXPRESSION_ERROR"],
      [9, "failed", "EXPRESSION_ERROR"],
    ]);

    // 10% of 10 items tolerates 1; two fail.
    const failed = await runInline(fivesFail("10%"));
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({ code: "MAP_FAILED", step_id: "each", details: { failed: 2, tolerated: 1, first_error: expect.any(Object) } });
  }, 60_000);

  it("each item's event arrives over SSE (its index, no output) before the map step completes; the run ends last", async () => {
    const definition = {
      id: uniqueId("map-sse"),
      steps: [
        { id: "each", type: "map", items: ["a", "b", "c", "d"], concurrency: 2, step: { id: "up", type: "transform", expression: "$uppercase(item) & index" } },
        { id: "after", type: "transform", needs: ["each"], expression: "$join(steps.each.output, ',')" },
      ],
      output: "steps.after.output",
    };
    const started = await call<Execution>("POST", "/v1/executions", { body: { definition, input: {} } });
    expect(started.status, started.text).toBe(202);
    const id = started.body.id;
    const sse = readSse(`/v1/executions/${id}/events`, { authorization: `Bearer ${adminKey}` }, 30_000);
    const done = await until<Execution>(id, ended);
    expect(done.status, JSON.stringify(done.error)).toBe("completed");
    expect(done.output).toBe("A0,B1,C2,D3");

    const stream = await sse;
    expect(stream.status).toBe(200);
    const events = stream.events;
    const types = events.map((e) => e.type).join(", ");
    const items = events.filter((e) => e.type === "map.item.completed");
    expect(items.map((e) => e.data.index).sort(), types).toEqual([0, 1, 2, 3]);
    for (const e of items) {
      expect(e.data).toMatchObject({ index: expect.any(Number), attempt: 1 });
      expect(e.data).not.toHaveProperty("output");
    }
    expect(events.some((e) => e.type === "map.item.failed")).toBe(false);
    const mapCompleted = events.findIndex((e) => e.type === "step.completed" && e.step_id === "each");
    expect(mapCompleted, types).toBeGreaterThanOrEqual(0);
    const lastItem = Math.max(...items.map((e) => events.indexOf(e)));
    expect(lastItem, types).toBeLessThan(mapCompleted);
    expect(events.at(-1)?.type).toBe("execution.completed");
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
  }, 45_000);

  it("a map item that would wait for a person is refused at start: 422 FEATURE_NOT_AVAILABLE at the sub-step's type", async () => {
    const definition = {
      id: uniqueId("map-input"),
      steps: [{ id: "each", type: "map", items: [1, 2], step: { id: "ask", type: "input", questions: [{ id: "ok", prompt: "ok?", type: "boolean" }] } }],
    };
    const res = await call<Problem>("POST", "/v1/executions", { body: { definition, input: {} } });
    expect(res.status, res.text).toBe(422);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe("FEATURE_NOT_AVAILABLE");
    expect(res.body.errors?.[0]?.path).toBe("/steps/0/step/type");
  });
});
