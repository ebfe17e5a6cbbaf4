/**
 * Outputs of every shape cross the Worker ↔ object boundary and come back as JSON: objects,
 * arrays, nested values, strings, numbers and null, from JSONata, from http JSON bodies and from
 * plugins; read back through the start (sync wait), the execution, its result and its steps.
 */
import { describe, expect, it } from "vitest";
import { call, type Execution, uniqueId, upstreamUrl } from "../helpers/client";

async function runInline(steps: unknown[], output: string, input: unknown = {}): Promise<Execution> {
  const res = await call<Execution>("POST", "/v1/executions?wait=20", {
    body: { definition: { id: uniqueId("shapes"), steps, output }, input },
  });
  expect(res.status, res.text).toBe(200);
  expect(res.body.status, res.text).toBe("completed");
  return res.body;
}

const SHAPES: [string, string, unknown][] = [
  ["an object", '{ "value": 42 }', { value: 42 }],
  ["an array", "[1, 'two', true]", [1, "two", true]],
  ["nested values", "{ 'a': { 'b': [ { 'c': null }, [1, 2] ] } }", { a: { b: [{ c: null }, [1, 2]] } }],
  ["a string", "'hello'", "hello"],
  ["a number", "3.25", 3.25],
  ["null", "null", null],
  ["a mapped list of objects", "$map([1, 2], function($v) { { 'n': $v } })", [{ n: 1 }, { n: 2 }]],
];

describe("outputs of every shape", () => {
  for (const [what, expression, expected] of SHAPES) {
    it(`a transform whose output is ${what} reads back through start, get, result and steps`, async () => {
      const started = await runInline([{ id: "v", type: "transform", expression }], "steps.v.output");
      expect(started.output).toEqual(expected);
      const got = await call<Execution>("GET", `/v1/executions/${started.id}`);
      expect(got.status, got.text).toBe(200);
      expect(got.body.output).toEqual(expected);
      const result = await call<{ output: unknown }>("GET", `/v1/executions/${started.id}/result`);
      expect(result.status, result.text).toBe(200);
      expect(result.body.output).toEqual(expected);
      const steps = await call<{ items: { id: string; status: string; output: unknown }[] }>("GET", `/v1/executions/${started.id}/steps`);
      expect(steps.status, steps.text).toBe(200);
      expect(steps.body.items[0]).toMatchObject({ id: "v", status: "completed", output: expected });
    });
  }

  for (const [what, , expected] of SHAPES.slice(0, 6)) {
    it(`an http step whose JSON body is ${what} reads back as its output's body`, async () => {
      const url = `${upstreamUrl}/json?value=${encodeURIComponent(JSON.stringify(expected))}`;
      const e = await runInline([{ id: "h", type: "http", request: { method: "GET", url } }], "steps.h.output.body");
      expect(e.output).toEqual(expected);
      const steps = await call<{ items: { output: { body: unknown } }[] }>("GET", `/v1/executions/${e.id}/steps`);
      expect(steps.status, steps.text).toBe(200);
      expect(steps.body.items[0]?.output.body).toEqual(expected);
    });
  }

  it("the SPEC's own example: an object built over an http step's JSON body", async () => {
    const e = await runInline(
      [
        { id: "fetch", type: "http", request: { method: "GET", url: `${upstreamUrl}/json` } },
        { id: "check", type: "transform", needs: ["fetch"], expression: "{ 'total': $sum(steps.fetch.output.body.items), 'nested': steps.fetch.output.body.nested }" },
      ],
      "{ 'total': steps.check.output.total, 'body': steps.fetch.output.body }",
    );
    expect(e.output).toEqual({ total: 6, body: { name: "stepline", items: [1, 2, 3], nested: { ok: true } } });
    const steps = await call<{ items: { id: string; output: unknown }[] }>("GET", `/v1/executions/${e.id}/steps`);
    expect(steps.status, steps.text).toBe(200);
    expect(steps.body.items.find((s) => s.id === "fetch")?.output).toMatchObject({ status: 200, body: { items: [1, 2, 3] } });
    expect(steps.body.items.find((s) => s.id === "check")?.output).toEqual({ total: 6, nested: { ok: true } });
  });

  it("plugins: json.validate and text.template results read back", async () => {
    const e = await runInline(
      [
        {
          id: "valid",
          type: "plugin",
          plugin: "json.validate",
          args: { schema: { type: "object", required: ["n"], properties: { n: { type: "number" } } }, data: "{{ { 'n': 'x' } }}" },
        },
        { id: "text", type: "plugin", plugin: "text.template", args: { template: "Hi {{ input.name }}", values: {} } },
      ],
      "{ 'valid': steps.valid.output, 'text': steps.text.output }",
      { name: "Ada" },
    );
    expect(e.output).toMatchObject({ valid: { valid: false }, text: { text: "Hi Ada" } });
    const valid = (e.output as { valid: { errors: unknown[] } }).valid;
    expect(valid.errors.length).toBeGreaterThan(0);
  });
});
