/// <reference types="vite/client" />
import { z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { MAX_MAP_ITEMS, MAX_QUESTIONS, MAX_STEPS } from "../../src/schemas/limits";
import { Step, WorkflowDefinition } from "../../src/schemas/definition";

/** The issues of a failed parse as `path: message` lines, for exact comparisons. */
function issues(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

const minimal = { id: "w", steps: [{ id: "a", type: "transform", expression: "1" }] };
const withStep = (step: Record<string, unknown>) => ({ id: "w", steps: [step] });

describe("WorkflowDefinition schema", () => {
  it("accepts the examples unchanged (no defaults, no transforms)", () => {
    const examples = Object.values(import.meta.glob("../../examples/*.json", { eager: true, import: "default" }));
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      const parsed = WorkflowDefinition.parse(example);
      expect(parsed).toEqual(example);
    }
  });

  it("accepts a minimal definition", () => {
    expect(issues(WorkflowDefinition, minimal)).toEqual([]);
  });

  it("rejects unknown keys at every level", () => {
    expect(issues(WorkflowDefinition, { ...minimal, timeout: 5 })).toEqual([': Unrecognized key: "timeout"']);
    expect(issues(WorkflowDefinition, withStep({ id: "a", type: "transform", expression: "1", need: ["x"] }))).toEqual([
      'steps.0: Unrecognized key: "need"',
    ]);
    expect(
      issues(WorkflowDefinition, withStep({ id: "a", type: "http", request: { method: "GET", url: "https://a.example", header: {} } })),
    ).toEqual(['steps.0.request: Unrecognized key: "header"']);
    expect(issues(WorkflowDefinition, withStep({ id: "a", type: "transform", expression: "1", retry: { max_attempts: 2, backof: "constant" } }))).toEqual([
      'steps.0.retry: Unrecognized key: "backof"',
    ]);
    expect(issues(WorkflowDefinition, { ...minimal, approval: { level: 1, expires: 5 } })).toEqual(['approval: Unrecognized key: "expires"']);
  });

  it("validates the workflow id", () => {
    expect(issues(WorkflowDefinition, { ...minimal, id: "Invoice Review" })).toEqual([
      "id: a workflow id is 1-64 characters: lowercase letters, digits, '_' and '-', starting with a letter or digit",
    ]);
    expect(issues(WorkflowDefinition, { ...minimal, id: "a".repeat(65) })).toHaveLength(1);
    expect(issues(WorkflowDefinition, { ...minimal, id: "a".repeat(64) })).toEqual([]);
  });

  it("requires step ids (and needs) to be JSONata identifiers, and says why", () => {
    const message =
      "a step id is 1-64 letters, digits and '_', not starting with a digit: expressions read it as steps.<id>, " +
      "so it must be a JSONata identifier (a '-' would be read as a subtraction)";
    expect(issues(WorkflowDefinition, withStep({ id: "fetch-invoice", type: "transform", expression: "1" }))).toEqual([`steps.0.id: ${message}`]);
    expect(issues(WorkflowDefinition, withStep({ id: "1st", type: "transform", expression: "1" }))).toEqual([`steps.0.id: ${message}`]);
    expect(issues(WorkflowDefinition, withStep({ id: "a", type: "transform", expression: "1", needs: ["b-c"] }))).toEqual([`steps.0.needs.0: ${message}`]);
    expect(issues(WorkflowDefinition, withStep({ id: "_Fetch_2", type: "transform", expression: "1" }))).toEqual([]);
  });

  it("bounds the number of steps", () => {
    expect(issues(WorkflowDefinition, { id: "w", steps: [] })).toEqual(["steps: Too small: expected array to have >=1 items"]);
    const many = Array.from({ length: MAX_STEPS + 1 }, (_, i) => ({ id: `s${i}`, type: "transform", expression: "1" }));
    expect(issues(WorkflowDefinition, { id: "w", steps: many })).toEqual([`steps: Too big: expected array to have <=${MAX_STEPS} items`]);
    expect(issues(WorkflowDefinition, { id: "w", steps: many.slice(0, MAX_STEPS) })).toEqual([]);
  });

  it("checks workflow-level fields", () => {
    expect(issues(WorkflowDefinition, { ...minimal, timeout_seconds: 0 })).toHaveLength(1);
    expect(issues(WorkflowDefinition, { ...minimal, timeout_seconds: 1.5 })).toHaveLength(1);
    expect(issues(WorkflowDefinition, { ...minimal, sla_class: "slow" })).toHaveLength(1);
    expect(issues(WorkflowDefinition, { ...minimal, approval: { level: 4 } })).toHaveLength(1);
    expect(issues(WorkflowDefinition, { ...minimal, approval: { level: 3, on_expiry: "ignore" } })).toHaveLength(1);
    expect(issues(WorkflowDefinition, { ...minimal, concurrency: { key: "k", limit: 0 } })).toHaveLength(1);
    expect(issues(WorkflowDefinition, { ...minimal, parallelism: 101 })).toHaveLength(1);
    expect(issues(WorkflowDefinition, { ...minimal, input_schema: "string" })).toHaveLength(1);
    expect(
      issues(WorkflowDefinition, {
        ...minimal,
        timeout_seconds: 60,
        sla_class: "fast",
        approval: { level: 3, expires_in_seconds: 60, on_expiry: "reject" },
        concurrency: { key: "{{ input.host }}", limit: 2 },
        parallelism: 100,
        input_schema: { type: "object" },
        output: "steps.a.output",
      }),
    ).toEqual([]);
  });
});

describe("step schemas", () => {
  const common = { id: "s" };
  const parse = (step: Record<string, unknown>) => issues(Step, { ...common, ...step });

  it("rejects an unknown step type", () => {
    expect(parse({ type: "email" })).toEqual([
      "type: Invalid discriminator value. Expected 'http' | 'transform' | 'wait' | 'approval' | 'input' | 'plugin' | 'llm' | 'map' | 'workflow' | 'event'",
    ]);
  });

  it("http", () => {
    const request = { method: "POST", url: "https://a.example", headers: { "x-a": "1" }, query: { q: "2" }, body: { any: ["json", 1, null] } };
    expect(parse({ type: "http", request, expect_status: [200, 404] })).toEqual([]);
    expect(parse({ type: "http" })).toEqual(["request: Invalid input: expected object, received undefined"]);
    expect(parse({ type: "http", request: { ...request, method: "get" } })).toHaveLength(1);
    expect(parse({ type: "http", request: { ...request, method: "TRACE" } })).toHaveLength(1);
    expect(parse({ type: "http", request: { ...request, headers: { a: 1 } } })).toEqual([
      "request.headers.a: Invalid input: expected string, received number",
    ]);
    expect(parse({ type: "http", request: { method: "GET" } })).toEqual(["request.url: Invalid input: expected string, received undefined"]);
    expect(parse({ type: "http", request, expect_status: [99] })).toHaveLength(1);
    expect(parse({ type: "http", request, expect_status: [600] })).toHaveLength(1);
    expect(parse({ type: "http", request, expect_status: [] })).toHaveLength(1);
  });

  it("transform", () => {
    expect(parse({ type: "transform", expression: "1 + 1" })).toEqual([]);
    expect(parse({ type: "transform" })).toHaveLength(1);
    expect(parse({ type: "transform", expression: "" })).toHaveLength(1);
  });

  it("wait takes exactly one of seconds and until", () => {
    expect(parse({ type: "wait", seconds: 0 })).toEqual([]);
    expect(parse({ type: "wait", until: "2026-12-01T09:00:00Z" })).toEqual([]);
    expect(parse({ type: "wait" })).toEqual([": a wait step takes exactly one of 'seconds' and 'until'"]);
    expect(parse({ type: "wait", seconds: 5, until: "2026-12-01T09:00:00Z" })).toEqual([
      ": a wait step takes exactly one of 'seconds' and 'until'",
    ]);
    expect(parse({ type: "wait", seconds: -1 })).toHaveLength(1);
    expect(parse({ type: "wait", seconds: 31_536_001 })).toHaveLength(1);
  });

  it("approval", () => {
    expect(parse({ type: "approval" })).toEqual([]);
    expect(parse({ type: "approval", level: 2, comment: "ok?" })).toEqual([]);
    expect(parse({ type: "approval", level: 3 })).toHaveLength(1);
    expect(parse({ type: "approval", level: 0 })).toHaveLength(1);
  });

  it("input", () => {
    const question = { id: "ok", prompt: "Pay?", type: "boolean" };
    expect(parse({ type: "input", questions: [question], on_timeout: "default" })).toEqual([]);
    expect(parse({ type: "input", questions: [] })).toEqual(["questions: Too small: expected array to have >=1 items"]);
    expect(parse({ type: "input", questions: [{ ...question, type: "date" }] })).toHaveLength(1);
    expect(parse({ type: "input", questions: [{ ...question, id: "a-b" }] })).toHaveLength(1);
    expect(parse({ type: "input", questions: [question, { ...question }] })).toEqual(["questions.1.id: question id 'ok' is used twice"]);
    expect(parse({ type: "input", questions: [question], on_timeout: "skip" })).toHaveLength(1);
    const tooMany = Array.from({ length: MAX_QUESTIONS + 1 }, (_, i) => ({ ...question, id: `q${i}` }));
    expect(parse({ type: "input", questions: tooMany })).toEqual([`questions: Too big: expected array to have <=${MAX_QUESTIONS} items`]);
  });

  it("plugin", () => {
    expect(parse({ type: "plugin", plugin: "json.validate", args: { schema: {}, data: 1 } })).toEqual([]);
    expect(parse({ type: "plugin", plugin: "JSON validate" })).toEqual(["plugin: a plugin name is dot-separated lowercase words, e.g. 'json.validate'"]);
    expect(parse({ type: "plugin", plugin: "x", args: [1] })).toHaveLength(1);
  });

  it("llm", () => {
    expect(parse({ type: "llm", model: "@cf/meta/llama-3.1-8b-instruct", prompt: "Hi", system: "Be brief", output_schema: { type: "object" }, max_tokens: 10, temperature: 0.5 })).toEqual([]);
    expect(parse({ type: "llm", model: "m" })).toEqual(["prompt: Invalid input: expected string, received undefined"]);
    expect(parse({ type: "llm", model: "m", prompt: "p", temperature: 3 })).toHaveLength(1);
    expect(parse({ type: "llm", model: "m", prompt: "p", max_tokens: 0 })).toHaveLength(1);
  });

  it("map", () => {
    const sub = { id: "one", type: "transform", expression: "item * 2" };
    expect(parse({ type: "map", items: "{{ input.xs }}", step: sub, concurrency: 5 })).toEqual([]);
    expect(parse({ type: "map", items: [1, 2, 3], step: sub })).toEqual([]);
    expect(parse({ type: "map", items: 5, step: sub })).toHaveLength(1);
    expect(parse({ type: "map", items: Array.from({ length: MAX_MAP_ITEMS + 1 }, () => 0), step: sub })).toHaveLength(1);
    expect(parse({ type: "map", items: [], step: { id: "inner", type: "map", items: [], step: sub } })).toEqual([
      "step.type: Invalid discriminator value. Expected 'http' | 'transform' | 'wait' | 'approval' | 'input' | 'plugin' | 'llm' | 'workflow' | 'event'",
    ]);
    expect(parse({ type: "map", items: [], step: sub, concurrency: 0 })).toHaveLength(1);
    expect(parse({ type: "map", items: [], step: { ...sub, nope: 1 } })).toEqual(['step: Unrecognized key: "nope"']);
  });

  it("workflow", () => {
    expect(parse({ type: "workflow", workflow_id: "child", version: 2, input: { a: "{{ input.a }}" } })).toEqual([]);
    expect(parse({ type: "workflow", workflow_id: "Child" })).toHaveLength(1);
    expect(parse({ type: "workflow", workflow_id: "child", version: 0 })).toHaveLength(1);
  });

  it("common fields", () => {
    const base = { type: "transform", expression: "1" };
    expect(parse({ ...base, name: "N", needs: ["a"], if: "true", timeout_seconds: 86_400, on_error: "continue" })).toEqual([]);
    expect(parse({ ...base, timeout_seconds: 86_401 })).toHaveLength(1);
    expect(parse({ ...base, on_error: "ignore" })).toHaveLength(1);
    expect(parse({ ...base, if: "" })).toHaveLength(1);
  });

  it("retry policy", () => {
    const base = { type: "transform", expression: "1" };
    expect(parse({ ...base, retry: { max_attempts: 5, backoff: "exponential", initial_interval_ms: 100, max_interval_ms: 100, jitter: true, retry_on: ["STEP_TIMEOUT", "HTTP_STATUS"] } })).toEqual([]);
    expect(parse({ ...base, retry: { max_attempts: 0 } })).toHaveLength(1);
    expect(parse({ ...base, retry: { max_attempts: 101 } })).toHaveLength(1);
    expect(parse({ ...base, retry: { max_attempts: 2, backoff: "linear" } })).toHaveLength(1);
    expect(parse({ ...base, retry: { max_attempts: 2, initial_interval_ms: 1000, max_interval_ms: 999 } })).toEqual([
      "retry.max_interval_ms: max_interval_ms must not be less than initial_interval_ms",
    ]);
    // Against the default initial interval (1000 ms) when only the maximum is given.
    expect(parse({ ...base, retry: { max_attempts: 2, max_interval_ms: 500 } })).toEqual([
      "retry.max_interval_ms: max_interval_ms must not be less than initial_interval_ms",
    ]);
    expect(parse({ ...base, retry: { max_attempts: 2, retry_on: ["timeout"] } })).toEqual(["retry.retry_on.0: an error code is UPPER_SNAKE_CASE"]);
  });
});

describe("published JSON Schema", () => {
  it("converts to JSON Schema, the same for input and output", () => {
    const output = z.toJSONSchema(WorkflowDefinition);
    const input = z.toJSONSchema(WorkflowDefinition, { io: "input" });
    expect(input).toEqual(output);
    expect(output.type).toBe("object");
    expect(output.additionalProperties).toBe(false);
    expect(output.required).toEqual(["id", "steps"]);
  });

  it("documents fields, defaults and the wait step's one-of", () => {
    const schema = z.toJSONSchema(WorkflowDefinition) as { properties: Record<string, Record<string, unknown>> };
    const parallelism = schema.properties.parallelism;
    expect(parallelism).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 10 });
    const steps = schema.properties.steps as { items: { oneOf: Array<{ properties: { type: { const: string } }; oneOf?: unknown }> } };
    const wait = steps.items.oneOf.find((option) => option.properties.type.const === "wait");
    expect(wait?.oneOf).toEqual([{ required: ["seconds"] }, { required: ["until"] }]);
    expect(typeof schema.properties.id?.description).toBe("string");
  });
});
