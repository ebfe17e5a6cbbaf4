import jsonata from "jsonata";
import { describe, expect, it } from "vitest";
import { evaluateExpression } from "../../src/engine/evaluate";
import { NotJsonError, toPlainJson } from "../../src/engine/plain-json";

/** Every object and array inside `value` has the standard prototype (what workerd's RPC accepts). */
function assertPlain(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  expect(Object.getPrototypeOf(value)).toBe(Array.isArray(value) ? Array.prototype : Object.prototype);
  for (const item of Object.values(value)) assertPlain(item);
}

describe("toPlainJson", () => {
  it("gives JSONata's null-prototype objects the standard prototype, at every depth", async () => {
    const raw: unknown = await jsonata('{ "value": 42, "nested": { "list": [{ "a": 1 }, { "b": [1, 2] }] } }').evaluate({});
    expect(Object.getPrototypeOf(raw)).toBeNull(); // the library value that workerd's RPC refuses
    const out = toPlainJson(raw);
    assertPlain(out);
    expect(out).toEqual({ value: 42, nested: { list: [{ a: 1 }, { b: [1, 2] }] } });
  });

  it("evaluateExpression returns plain data for objects, arrays, nested values and scalars", async () => {
    for (const [source, expected] of [
      ['{ "value": 42 }', { value: 42 }],
      ["[1, { 'a': [true, null] }]", [1, { a: [true, null] }]],
      ["$map([1,2], function($v) { { 'v': $v } })", [{ v: 1 }, { v: 2 }]],
      ["'text'", "text"],
      ["3.5", 3.5],
      ["null", null],
    ] as const) {
      const out = await evaluateExpression(source, { input: {}, steps: {}, execution: { id: "ex", workflow_id: "w", workflow_version: 1, attempt: 1, started_at: null } });
      assertPlain(out);
      expect(out).toEqual(expected);
    }
  });

  it("follows JSON's rules for values JSON has no form for", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const out = toPlainJson({ p: new Point(1, 2), d: new Date(0), f: () => 1, u: undefined, n: Number.NaN, arr: [undefined, () => 1] });
    assertPlain(out);
    expect(out).toEqual({ p: { x: 1, y: 2 }, d: "1970-01-01T00:00:00.000Z", n: null, arr: [null, null] });
    expect(toPlainJson(undefined)).toBeUndefined();
  });

  it("returns a plain value as it is, without a copy", () => {
    const value = { a: [1, { b: "c" }] };
    expect(toPlainJson(value)).toBe(value);
  });

  it("refuses cycles and BigInts", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toPlainJson(cyclic)).toThrow(NotJsonError);
    expect(() => toPlainJson({ n: 1n })).toThrow(NotJsonError);
    // The same object twice, side by side, is not a cycle.
    const shared = { x: 1 };
    expect(toPlainJson([shared, shared])).toEqual([{ x: 1 }, { x: 1 }]);
  });
});
