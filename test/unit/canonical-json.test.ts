import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/engine/canonical-json";

describe("canonicalJson", () => {
  it("sorts keys recursively and drops whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: "x" } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}',
    );
  });

  it("gives the same string whatever the key order", () => {
    const one = { id: "w", steps: [{ type: "http", id: "a", request: { url: "u", method: "GET" } }], output: "x" };
    const two = { output: "x", steps: [{ request: { method: "GET", url: "u" }, id: "a", type: "http" }], id: "w" };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
    expect(canonicalJson(one)).toBe('{"id":"w","output":"x","steps":[{"id":"a","request":{"method":"GET","url":"u"},"type":"http"}]}');
  });

  it("keeps array order (arrays are ordered data)", () => {
    expect(canonicalJson([2, 1])).toBe("[2,1]");
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it("orders keys by UTF-16 code units, not by locale", () => {
    // "Z" (0x5A) < "a" (0x61) < "é" (0xE9) < "😀" (0xD83D…) < "ｆ" (0xFF46)
    expect(canonicalJson({ "ｆ": 5, "😀": 4, é: 3, a: 2, Z: 1 })).toBe('{"Z":1,"a":2,"é":3,"😀":4,"ｆ":5}');
    expect(canonicalJson({ b: 1, B: 2, "10": 3, "9": 4 })).toBe('{"10":3,"9":4,"B":2,"b":1}');
  });

  it("drops undefined members and writes undefined array slots as null", () => {
    expect(canonicalJson({ a: undefined, b: 1, c: [undefined, 2] })).toBe('{"b":1,"c":[null,2]}');
  });

  it("serialises strings and numbers as JSON does", () => {
    expect(canonicalJson({ s: 'quote " backslash \\ newline \n tab \t' })).toBe('{"s":"quote \\" backslash \\\\ newline \\n tab \\t"}');
    expect(canonicalJson([0, -0, 1.5, 1e21, 1e-7, 123456789012345680000])).toBe("[0,0,1.5,1e+21,1e-7,123456789012345680000]");
    expect(canonicalJson(null)).toBe("null");
    expect(canonicalJson(true)).toBe("true");
  });

  it("uses toJSON (dates)", () => {
    expect(canonicalJson({ at: new Date("2026-01-02T03:04:05.000Z") })).toBe('{"at":"2026-01-02T03:04:05.000Z"}');
  });

  it("rejects what JSON cannot represent", () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ n: Infinity })).toThrow("Infinity at '/n' is not a JSON number");
    expect(() => canonicalJson(10n)).toThrow(TypeError);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow("circular reference at '/self'");
  });

  it("allows the same object twice when it is not a cycle", () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });
});
