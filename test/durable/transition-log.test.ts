/**
 * The transition log: one row per transaction (its events and the steps it changed), split only
 * when a transaction's JSON would pass a row's limit; events read back gapless by seq, and each
 * step's last record wins.
 */
import { describe, expect, it } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import { ROW_CHARS, TransitionLog, packRows } from "../../src/durable/storage/transition-log";
import { ensureSchema } from "../../src/durable/storage/sqlite-schema";
import { pendingStep } from "../../src/durable/storage/state-store";
import type { StepRecord } from "../../src/engine/model";
import { stubOf } from "../helpers/objects";

const step = (id: string, patch: Partial<StepRecord> = {}): StepRecord => ({ ...pendingStep(id, 0), status: "completed", attempts: 1, startedAt: 1, endedAt: 2, ...patch });
const event = (seq: number) => ({ seq, time: "1970-01-01T00:00:00.000Z", type: "step.completed" as const, data: {} });

function withLog<T>(fn: (log: TransitionLog, sql: SqlStorage, storage: DurableObjectStorage) => T): Promise<T> {
  return runInDurableObject(stubOf(`transition-log-${crypto.randomUUID()}`), (_o, state) => {
    state.storage.transactionSync(() => ensureSchema(state.storage.sql));
    return fn(new TransitionLog(state.storage.sql), state.storage.sql, state.storage);
  });
}

const rowsOf = (sql: SqlStorage) => sql.exec<{ seq: number; part: number; e: number; s: number }>(
  "SELECT seq, part, json_array_length(COALESCE(events, '[]')) AS e, json_array_length(COALESCE(steps, '[]')) AS s FROM transition_log ORDER BY seq, part",
).toArray();

describe("packRows", () => {
  it("puts a transaction's events and steps in one row while they fit", () => {
    const rows = packRows([event(4), event(5)], [step("a"), step("b")], 5, () => 99);
    expect(rows.map((r) => [r.seq, r.part, r.events.length, r.steps.length])).toEqual([[5, 0, 2, 2]]);
  });

  it("splits past ROW_CHARS: rows of events keyed by their last seq, rows of steps alone after them", () => {
    const big = "x".repeat(ROW_CHARS / 2);
    let part = 0;
    const rows = packRows([event(1), event(2), event(3)], [step("a", { output: big }), step("b", { output: big }), step("c")], 3, () => ++part);
    const sized = rows.map((r) => [r.seq, r.part, r.events.length, r.steps.length]);
    expect(sized).toEqual([
      [3, 0, 3, 1],
      [3, 1, 0, 2],
    ]);
    for (const r of rows) expect([...r.events, ...r.steps].join(",").length).toBeLessThanOrEqual(ROW_CHARS + 100);
  });
});

describe("TransitionLog", () => {
  it("writes one row per transaction; pages of events cross rows with no gap; each step's last record wins", async () => {
    const out = await withLog((log, sql, storage) => {
      storage.transactionSync(() => log.append(10, [{ type: "execution.created" }, { type: "execution.started" }]));
      storage.transactionSync(() =>
        log.append(20, [{ type: "step.started", stepId: "a" }, { type: "step.completed", stepId: "a", data: { output: 1 } }], [step("a", { output: 1 })]),
      );
      // A transaction that changed a step without an event: its row follows at the same seq.
      storage.transactionSync(() => log.append(30, [], [step("a", { output: 2, attempts: 2 })]));
      storage.transactionSync(() => log.append(40, [{ type: "step.completed", stepId: "b" }], [step("b", { output: null })]));
      return {
        rows: rowsOf(sql),
        page1: log.after(0, 3).map((e) => e.seq),
        page2: log.after(3, 3).map((e) => e.seq),
        last: log.lastSeq(),
        steps: [...log.steps().values()],
      };
    });
    expect(out.rows).toEqual([
      { seq: 2, part: 0, e: 2, s: 0 },
      { seq: 4, part: 0, e: 2, s: 1 },
      { seq: 4, part: 1, e: 0, s: 1 },
      { seq: 5, part: 0, e: 1, s: 1 },
    ]);
    expect(out.page1).toEqual([1, 2, 3]);
    expect(out.page2).toEqual([4, 5]);
    expect(out.last).toBe(5);
    // `null` is an output; a step with no output has none.
    expect(out.steps.map((s) => [s.id, s.output, s.attempts])).toEqual([
      ["a", 2, 2],
      ["b", null, 1],
    ]);
  });

  it("a transaction larger than a row keeps every event and step, in order", async () => {
    const big = "y".repeat(ROW_CHARS - 1000);
    const out = await withLog((log, sql, storage) => {
      storage.transactionSync(() =>
        log.append(
          1,
          ["a", "b", "c"].map((id) => ({ type: "step.completed" as const, stepId: id, data: { note: big } })),
          ["a", "b", "c"].map((id) => step(id, { output: big })),
        ),
      );
      return { rows: rowsOf(sql).length, events: log.after(0, 10).map((e) => [e.seq, e.step_id]), steps: [...log.steps().keys()], last: log.lastSeq() };
    });
    expect(out.rows).toBe(6);
    expect(out.events).toEqual([
      [1, "a"],
      [2, "b"],
      [3, "c"],
    ]);
    expect(out.steps).toEqual(["a", "b", "c"]);
    expect(out.last).toBe(3);
  });

  it("a rolled-back transaction leaves nothing, and the next one takes the same seqs", async () => {
    const out = await withLog((log, _sql, storage) => {
      storage.transactionSync(() => log.append(1, [{ type: "execution.created" }]));
      expect(() =>
        storage.transactionSync(() => {
          log.append(2, [{ type: "execution.started" }], [step("a")]);
          throw new Error("rolled back");
        }),
      ).toThrow("rolled back");
      log.forget();
      storage.transactionSync(() => log.append(3, [{ type: "execution.started" }]));
      return { events: log.after(0, 10).map((e) => [e.seq, e.type]), steps: log.steps().size };
    });
    expect(out.events).toEqual([
      [1, "execution.created"],
      [2, "execution.started"],
    ]);
    expect(out.steps).toBe(0);
  });
});
