/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/engine/errors";
import { MAX_DEFINITION_BYTES } from "../../src/schemas/limits";
import { validateDefinition } from "../../src/engine/validate-definition";
import type { DefinitionProblem, ValidateDefinitionOptions } from "../../src/engine/validate-definition";
import { WorkflowDefinition } from "../../src/schemas/definition";

const PLUGINS = ["json.validate", "text.template"] as const;

/** Parses with the schema first (as registration does), so every case is schema-valid. */
function check(definition: unknown, options: ValidateDefinitionOptions = { plugins: PLUGINS }): DefinitionProblem[] {
  const parsed = WorkflowDefinition.safeParse(definition);
  if (!parsed.success) throw new Error(`test definition is not schema-valid: ${JSON.stringify(parsed.error.issues)}`);
  return validateDefinition(parsed.data, options);
}

const wf = (steps: unknown[], extra: Record<string, unknown> = {}) => ({ id: "w", steps, ...extra });
const transform = (id: string, expression = "1", more: Record<string, unknown> = {}) => ({ id, type: "transform", expression, ...more });
const http = (id: string, request: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
  id,
  type: "http",
  request: { method: "GET", url: "https://api.example/x", ...request },
  ...more,
});

describe("validateDefinition: examples", () => {
  // Every example (`npm start` registers each of them).
  it.each(Object.entries(import.meta.glob("../../examples/*.json", { eager: true, import: "default" })))("%s is valid", (_, example) => {
    expect(check(example)).toEqual([]);
  });

  it("the SPEC §2 example is valid", () => {
    const spec = {
      id: "invoice-review",
      name: "Invoice review",
      input_schema: { type: "object", required: ["invoice_id"], properties: { invoice_id: { type: "string" } } },
      timeout_seconds: 3600,
      approval: { level: 0 },
      steps: [
        http(
          "fetch",
          { url: "https://billing.example/invoices/{{ input.invoice_id }}", headers: { authorization: "Bearer {{ secrets.BILLING_TOKEN }}" } },
          { retry: { max_attempts: 3, backoff: "exponential", initial_interval_ms: 500 }, timeout_seconds: 10 },
        ),
        transform("check", "{ 'total': $sum(steps.fetch.output.body.lines.amount) }", { needs: ["fetch"] }),
        {
          id: "confirm",
          type: "input",
          needs: ["check"],
          if: "steps.check.output.total > 1000",
          questions: [{ id: "ok", prompt: "Total is over 1000. Pay it?", type: "boolean" }],
        },
        http("notify", { method: "POST", url: "https://hooks.example/paid", body: "{{ steps.check.output }}" }, { needs: ["confirm"] }),
      ],
      output: "{ 'total': steps.check.output.total }",
    };
    expect(check(spec)).toEqual([]);
  });
});

describe("validateDefinition: the step graph", () => {
  it("reports duplicate step ids at the later declaration", () => {
    expect(check(wf([transform("a"), transform("b"), transform("a")]))).toEqual([
      { path: "/steps/2/id", code: "DUPLICATE_STEP_ID", message: "step id 'a' is already used by /steps/0" },
    ]);
  });

  it("reports unknown needs, suggesting a close id", () => {
    expect(check(wf([transform("fetch"), transform("check", "1", { needs: ["fetch", "fecth", "zzz"] })]))).toEqual([
      {
        path: "/steps/1/needs/1",
        code: "UNKNOWN_STEP",
        message: "step 'check' needs 'fecth', which is not a step of this workflow (did you mean 'fetch'?)",
      },
      { path: "/steps/1/needs/2", code: "UNKNOWN_STEP", message: "step 'check' needs 'zzz', which is not a step of this workflow" },
    ]);
  });

  it("reports a step needing itself once, not also as a cycle", () => {
    expect(check(wf([transform("a", "1", { needs: ["a"] })]))).toEqual([
      { path: "/steps/0/needs/0", code: "SELF_DEPENDENCY", message: "step 'a' needs itself" },
    ]);
  });

  it("reports a cycle naming its steps in order", () => {
    const steps = [transform("a", "1", { needs: ["c"] }), transform("b", "1", { needs: ["a"] }), transform("c", "1", { needs: ["b"] })];
    expect(check(wf(steps))).toEqual([
      { path: "/steps/0/needs/0", code: "CYCLE", message: "steps form a cycle: a → b → c → a (each step needs the one before it)" },
    ]);
  });

  it("reports a 2-cycle and an independent cycle separately", () => {
    const steps = [
      transform("x", "1", { needs: ["y"] }),
      transform("y", "1", { needs: ["x"] }),
      transform("ok"),
      transform("p", "1", { needs: ["ok", "r"] }),
      transform("q", "1", { needs: ["p"] }),
      transform("r", "1", { needs: ["q"] }),
    ];
    expect(check(wf(steps))).toEqual([
      { path: "/steps/0/needs/0", code: "CYCLE", message: "steps form a cycle: x → y → x (each step needs the one before it)" },
      { path: "/steps/3/needs/1", code: "CYCLE", message: "steps form a cycle: p → q → r → p (each step needs the one before it)" },
    ]);
  });

  it("accepts a diamond", () => {
    const steps = [transform("a"), transform("b", "steps.a.output", { needs: ["a"] }), transform("c", "steps.a.output", { needs: ["a"] }), transform("d", "steps.a.output + steps.b.output + steps.c.output", { needs: ["b", "c"] })];
    expect(check(wf(steps))).toEqual([]);
  });
});

describe("validateDefinition: expressions", () => {
  it("reports JSONata syntax errors in expression, if and output with the position", () => {
    const steps = [transform("a", "$sum(1, 2"), transform("b", "1", { if: "1 +" })];
    expect(check(wf(steps, { output: "{ 'a': }" }))).toEqual([
      { path: "/output", code: "EXPRESSION_SYNTAX", message: 'invalid JSONata expression: The symbol "}" cannot be used as a unary operator (at position 8)' },
      { path: "/steps/0/expression", code: "EXPRESSION_SYNTAX", message: 'invalid JSONata expression: Expected ")" before end of expression (at position 9)' },
      { path: "/steps/1/if", code: "EXPRESSION_SYNTAX", message: "invalid JSONata expression: Unexpected end of expression (at position 3)" },
    ]);
  });

  it("reports syntax errors in {{ }} templates anywhere in a step, positioned in the whole string", () => {
    const steps = [
      http("h", {
        method: "POST",
        url: "https://api.example/{{ input.id ) }}",
        headers: { "x-trace": "{{ $uuid( }}" },
        query: { q: "{{ input.q" },
        body: { nested: ["ok", { deep: "value: {{ 1 + }}" }] },
      }),
      { id: "p", type: "plugin", plugin: "text.template", args: { template: "{{ ] }}" } },
      { id: "l", type: "llm", model: "m", prompt: "fine", system: "{{ ( }}" },
      { id: "i", type: "input", questions: [{ id: "q", prompt: "{{ 'unclosed }}", type: "string" }] },
      { id: "ap", type: "approval", comment: "{{ * * }}" },
      { id: "wt", type: "wait", until: "{{ $now( }}" },
      { id: "cw", type: "workflow", workflow_id: "child", input: { a: "{{ [ }}" } },
      { id: "m", type: "map", items: "{{ input.xs[ }}", step: transform("one", "item +") },
    ];
    const found = check(wf(steps, { concurrency: { key: "{{ input. }}", limit: 1 } }));
    expect(found.map((p) => `${p.code} ${p.path}`)).toEqual([
      "EXPRESSION_SYNTAX /concurrency/key",
      "EXPRESSION_SYNTAX /steps/0/request/body/nested/1/deep",
      "EXPRESSION_SYNTAX /steps/0/request/headers/x-trace",
      "EXPRESSION_SYNTAX /steps/0/request/query/q",
      "EXPRESSION_SYNTAX /steps/0/request/url",
      "EXPRESSION_SYNTAX /steps/1/args/template",
      "EXPRESSION_SYNTAX /steps/2/system",
      "EXPRESSION_SYNTAX /steps/3/questions/0/prompt",
      "EXPRESSION_SYNTAX /steps/4/comment",
      "EXPRESSION_SYNTAX /steps/5/until",
      "EXPRESSION_SYNTAX /steps/6/input/a",
      "EXPRESSION_SYNTAX /steps/7/items",
      "EXPRESSION_SYNTAX /steps/7/step/expression",
    ]);
    expect(found.find((p) => p.path === "/steps/0/request/query/q")?.message).toBe("invalid template: '{{' is never closed by '}}' (at position 0)");
    expect(found.find((p) => p.path === "/steps/0/request/url")?.message).toBe('invalid JSONata in {{ }}: Syntax error: ")" (at position 33)');
    expect(found.find((p) => p.path === "/steps/0/request/body/nested/1/deep")?.message).toBe(
      "invalid JSONata in {{ }}: Unexpected end of expression (at position 14)",
    );
  });

  it("reports a reference to an unknown step, suggesting a close id", () => {
    expect(check(wf([transform("fetch"), transform("b", "steps.fetc.output", { needs: ["fetch"] })]))).toEqual([
      { path: "/steps/1/expression", code: "UNKNOWN_STEP", message: "reads steps.fetc, but no step has id 'fetc' (did you mean 'fetch'?)" },
    ]);
  });

  it("reports a read of a step that is not upstream", () => {
    const steps = [transform("a"), transform("b", "steps.c.output"), transform("c", "1", { needs: ["a"] })];
    expect(check(wf(steps))).toEqual([
      {
        path: "/steps/1/expression",
        code: "NOT_UPSTREAM",
        message: "step 'b' reads steps.c but does not need it (directly or transitively); add 'c' to its needs",
      },
    ]);
  });

  it("accepts transitive upstream reads, nested in function arguments and templates", () => {
    const steps = [
      transform("a"),
      transform("b", "1", { needs: ["a"] }),
      http("c", { url: "https://api.example/{{ $string(steps.a.output) }}", body: { v: "{{ $map([1], function($x) { steps.b.output }) }}" } }, { needs: ["b"], if: "steps.a.output" }),
    ];
    expect(check(wf(steps))).toEqual([]);
  });

  it("reports not-upstream reads in if, templates, predicates and nested values", () => {
    const steps = [
      transform("a"),
      transform("b", "input.items[id = steps.a.output]"),
      http("c", { body: { list: ["{{ steps.a.output }}"] } }, { if: "$exists(steps.b.output)" }),
    ];
    expect(check(wf(steps))).toEqual([
      {
        path: "/steps/1/expression",
        code: "NOT_UPSTREAM",
        message: "step 'b' reads steps.a but does not need it (directly or transitively); add 'a' to its needs",
      },
      {
        path: "/steps/2/if",
        code: "NOT_UPSTREAM",
        message: "step 'c' reads steps.b but does not need it (directly or transitively); add 'b' to its needs",
      },
      {
        path: "/steps/2/request/body/list/0",
        code: "NOT_UPSTREAM",
        message: "step 'c' reads steps.a but does not need it (directly or transitively); add 'a' to its needs",
      },
    ]);
  });

  it("reports a step reading its own result", () => {
    expect(check(wf([transform("a", "steps.a.output + 1")]))).toEqual([
      { path: "/steps/0/expression", code: "NOT_UPSTREAM", message: "step 'a' reads steps.a, its own result, which does not exist while it runs" },
    ]);
  });

  it("lets the workflow output read any step, but not an unknown one", () => {
    const steps = [transform("a"), transform("b")];
    expect(check(wf(steps, { output: "steps.a.output + steps.b.output" }))).toEqual([]);
    expect(check(wf(steps, { output: "steps.c.output" }))).toEqual([
      { path: "/output", code: "UNKNOWN_STEP", message: "reads steps.c, but no step has id 'c'" },
    ]);
  });

  it("does not let concurrency.key read steps", () => {
    expect(check(wf([transform("a")], { concurrency: { key: "{{ steps.a.output }}", limit: 1 } }))).toEqual([
      {
        path: "/concurrency/key",
        code: "NOT_UPSTREAM",
        message: "concurrency.key is evaluated when the execution starts, before any step runs, so it cannot read steps.a",
      },
    ]);
  });

  it("gives a map's sub-step the map step's upstream", () => {
    const steps = [
      transform("a"),
      transform("b"),
      { id: "m", type: "map", needs: ["a"], items: "{{ steps.a.output }}", step: transform("one", "item + steps.a.output + steps.b.output") },
    ];
    expect(check(wf(steps))).toEqual([
      {
        path: "/steps/2/step/expression",
        code: "NOT_UPSTREAM",
        message: "step 'm' reads steps.b but does not need it (directly or transitively); add 'b' to its needs",
      },
    ]);
  });
});

describe("validateDefinition: secrets", () => {
  it("allows secrets in an http request and an llm prompt/system", () => {
    const steps = [
      http("h", { url: "https://api.example/?k={{ secrets.KEY }}", headers: { authorization: "Bearer {{ secrets.TOKEN }}" }, query: { s: "{{ secrets.Q }}" }, body: { k: "{{ secrets.B }}" } }),
      { id: "l", type: "llm", model: "m", prompt: "key {{ secrets.P }}", system: "{{ secrets.S }}" },
      { id: "m", type: "map", items: [1], step: http("each", { headers: { authorization: "{{ secrets.TOKEN }}" } }) },
    ];
    expect(check(wf(steps))).toEqual([]);
  });

  it("refuses secrets everywhere else", () => {
    const steps = [
      transform("t", "secrets.A"),
      http("h", {}, { if: "secrets.B = 'x'" }),
      { id: "p", type: "plugin", plugin: "json.validate", args: { schema: {}, data: "{{ secrets.C }}" } },
      { id: "l", type: "transform", expression: "1", cost_usd: "{{ secrets.D }}" },
      { id: "i", type: "input", questions: [{ id: "q", prompt: "{{ $string(secrets) }}", type: "string" }] },
    ];
    expect(check(wf(steps, { output: "secrets.E" }))).toEqual([
      { path: "/output", code: "SECRET_NOT_ALLOWED", message: "reads secrets.E: secrets may only be used in the request of an http step or the prompt/system of an llm step" },
      { path: "/steps/0/expression", code: "SECRET_NOT_ALLOWED", message: "reads secrets.A: secrets may only be used in the request of an http step or the prompt/system of an llm step" },
      { path: "/steps/1/if", code: "SECRET_NOT_ALLOWED", message: "reads secrets.B: secrets may only be used in the request of an http step or the prompt/system of an llm step" },
      { path: "/steps/2/args/data", code: "SECRET_NOT_ALLOWED", message: "reads secrets.C: secrets may only be used in the request of an http step or the prompt/system of an llm step" },
      { path: "/steps/3/cost_usd", code: "SECRET_NOT_ALLOWED", message: "reads secrets.D: secrets may only be used in the request of an http step or the prompt/system of an llm step" },
      { path: "/steps/4/questions/0/prompt", code: "SECRET_NOT_ALLOWED", message: "reads secrets: secrets may only be used in the request of an http step or the prompt/system of an llm step" },
    ]);
  });
});

describe("validateDefinition: JSON Schemas", () => {
  it("reports an invalid input_schema at the offending keyword", () => {
    const found = check(wf([transform("a")], { input_schema: { type: "object", required: "id", properties: { id: { type: "text", minLength: -1 } } } }));
    expect(found).toEqual([
      {
        path: "/input_schema/properties/id/minLength",
        code: "INVALID_INPUT_SCHEMA",
        message: "input_schema is not a usable JSON Schema: invalid value for 'minLength': -1 is less than 0.",
      },
      {
        path: "/input_schema/properties/id/type",
        code: "INVALID_INPUT_SCHEMA",
        message: "input_schema is not a usable JSON Schema: type must be one of array, boolean, integer, null, number, object, string, or a non-empty array of distinct ones",
      },
      {
        path: "/input_schema/required",
        code: "INVALID_INPUT_SCHEMA",
        message: 'input_schema is not a usable JSON Schema: invalid value for \'required\': Instance type "string" is invalid. Expected "array".',
      },
    ]);
  });

  it("reports an invalid llm output_schema", () => {
    const steps = [{ id: "l", type: "llm", model: "m", prompt: "p", output_schema: { type: "object", properties: { a: { typ: "string" } } } }];
    expect(check(wf(steps))).toEqual([
      {
        path: "/steps/0/output_schema/properties/a/typ",
        code: "INVALID_OUTPUT_SCHEMA",
        message: "output_schema is not a usable JSON Schema: unknown keyword 'typ' (a typo? keywords are those of JSON Schema draft 2020-12; prefix annotations with 'x-')",
      },
    ]);
  });

  it("accepts a valid schema with $defs, $ref and annotations", () => {
    const input_schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: { host: { type: "string", pattern: "^[a-z.]+$" } },
      properties: { host: { $ref: "#/$defs/host" }, tags: { type: "array", items: { type: "string" }, uniqueItems: true } },
      "x-owner": "platform",
    };
    expect(check(wf([transform("a")], { input_schema }))).toEqual([]);
  });
});

describe("validateDefinition: plugins", () => {
  it("reports a plugin that is not registered, suggesting a close name", () => {
    const steps = [
      { id: "a", type: "plugin", plugin: "json.validat" },
      { id: "b", type: "plugin", plugin: "pdf.render" },
    ];
    expect(check(wf(steps))).toEqual([
      { path: "/steps/0/plugin", code: "UNKNOWN_PLUGIN", message: "no plugin named 'json.validat' is registered (did you mean 'json.validate'?)" },
      { path: "/steps/1/plugin", code: "UNKNOWN_PLUGIN", message: "no plugin named 'pdf.render' is registered (registered: json.validate, text.template)" },
    ]);
  });

  it("skips the plugin check when no list is given", () => {
    expect(check(wf([{ id: "b", type: "plugin", plugin: "pdf.render" }]), {})).toEqual([]);
  });
});

describe("validateDefinition: input questions", () => {
  const input = (questions: unknown[], more: Record<string, unknown> = {}) => wf([{ id: "ask", type: "input", questions, ...more }]);

  it("requires options on choice questions and only there", () => {
    expect(
      check(
        input([
          { id: "pick", prompt: "Which?", type: "choice" },
          { id: "name", prompt: "Name?", type: "string", options: ["a"] },
        ]),
      ),
    ).toEqual([
      { path: "/steps/0/questions/0/options", code: "INVALID_QUESTION", message: "choice question 'pick' has no options" },
      { path: "/steps/0/questions/1/options", code: "INVALID_QUESTION", message: "options are only used by choice questions; question 'name' is of type string" },
    ]);
  });

  it("requires a choice default to be one of the options, and defaults to match the type", () => {
    expect(
      check(
        input([
          { id: "pick", prompt: "Which?", type: "choice", options: ["red", "blue", "red"], default: "green" },
          { id: "n", prompt: "How many?", type: "number", default: "3" },
          { id: "b", prompt: "Sure?", type: "boolean", default: 1 },
          { id: "s", prompt: "Why?", type: "string", default: false },
          { id: "t", prompt: "Templated", type: "number", default: "{{ input.count }}" },
        ]),
      ),
    ).toEqual([
      { path: "/steps/0/questions/0/default", code: "INVALID_QUESTION", message: "default of question 'pick' 'green' is not one of its options (red, blue, red)" },
      { path: "/steps/0/questions/0/options/2", code: "INVALID_QUESTION", message: "option 'red' of question 'pick' is listed twice" },
      { path: "/steps/0/questions/1/default", code: "INVALID_QUESTION", message: "default of question 'n' must be a number" },
      { path: "/steps/0/questions/2/default", code: "INVALID_QUESTION", message: "default of question 'b' must be true or false" },
      { path: "/steps/0/questions/3/default", code: "INVALID_QUESTION", message: "default of question 's' must be a string" },
    ]);
  });

  it("requires defaults for required questions when on_timeout is 'default'", () => {
    const questions = [
      { id: "a", prompt: "A?", type: "boolean", default: true },
      { id: "b", prompt: "B?", type: "string" },
      { id: "c", prompt: "C?", type: "string", required: false },
    ];
    expect(check(input(questions, { on_timeout: "default" }))).toEqual([
      { path: "/steps/0/on_timeout", code: "INVALID_QUESTION", message: "on_timeout 'default' needs a default for every required question; 'b' has none" },
    ]);
    expect(check(input(questions, { on_timeout: "fail" }))).toEqual([]);
  });
});

describe("validateDefinition: other checks", () => {
  it("reports a definition over the size limit", () => {
    const big = "x".repeat(MAX_DEFINITION_BYTES);
    const found = check(wf([http("a", { method: "POST", body: { blob: big } })]));
    // The canonical JSON around the blob: {"id":"w","steps":[{"id":"a","request":{"body":{"blob":"…"},"method":"POST","url":"https://api.example/x"},"type":"http"}]}
    const overhead = '{"id":"w","steps":[{"id":"a","request":{"body":{"blob":""},"method":"POST","url":"https://api.example/x"},"type":"http"}]}'.length;
    expect(found).toEqual([
      {
        path: "",
        code: "DEFINITION_TOO_LARGE",
        message: `the definition is ${MAX_DEFINITION_BYTES + overhead} bytes (canonical JSON); the limit is ${MAX_DEFINITION_BYTES}`,
      },
    ]);
  });

  it("measures size in UTF-8 bytes", () => {
    // 100k three-byte characters: 300 KB in UTF-8, although only 100k UTF-16 units.
    const found = check(wf([http("a", { method: "POST", body: { blob: "€".repeat(100_000) } })]));
    expect(found.map((p) => p.code)).toEqual(["DEFINITION_TOO_LARGE"]);
    // …while 200k one-byte characters are under the limit.
    expect(check(wf([http("a", { method: "POST", body: { blob: "e".repeat(200_000) } })]))).toEqual([]);
  });

  it("checks workflow approval consistency", () => {
    expect(check(wf([transform("a")], { approval: { level: 0, expires_in_seconds: 60 } }))).toEqual([
      { path: "/approval/expires_in_seconds", code: "INVALID_APPROVAL", message: "expires_in_seconds has no effect: approval level 0 asks for no approval" },
    ]);
    expect(check(wf([transform("a")], { approval: { level: 2, on_expiry: "approve" } }))).toEqual([
      {
        path: "/approval/on_expiry",
        code: "INVALID_APPROVAL",
        message: "on_expiry 'approve' is only allowed at level 1: a plan review (level 2) or a per-step approval (level 3) must be given by a person",
      },
    ]);
    expect(check(wf([transform("a")], { approval: { level: 1, on_expiry: "approve" } }))).toEqual([]);
    expect(check(wf([transform("a")], { approval: { level: 3, expires_in_seconds: 600 } }))).toEqual([]);
  });

  it("refuses needs on a map's sub-step and items that are not one expression", () => {
    const steps = [transform("a"), { id: "m", type: "map", items: "targets: {{ input.targets }}", step: transform("one", "item", { needs: ["a"] }) }];
    expect(check(wf(steps))).toEqual([
      {
        path: "/steps/1/items",
        code: "INVALID_MAP_ITEMS",
        message: 'items must be a list or a string that is exactly one {{ expression }} (e.g. "{{ input.targets }}")',
      },
      {
        path: "/steps/1/step/needs",
        code: "MAP_STEP_NEEDS",
        message: "the sub-step of map 'm' runs once per item and cannot have needs; put them on the map step",
      },
    ]);
    expect(check(wf([{ id: "m", type: "map", items: "input.targets", step: transform("one") }])).map((p) => p.code)).toEqual(["INVALID_MAP_ITEMS"]);
  });

  it("checks http URLs as far as they are known", () => {
    const steps = [
      http("a", { url: "billing.example/x" }),
      http("b", { url: "ftp://files.example/{{ input.f }}" }),
      http("c", { url: "{{ input.url }}" }),
      http("d", { url: "https://{{ input.host }}.example/x" }),
    ];
    expect(check(wf(steps))).toEqual([
      { path: "/steps/0/request/url", code: "INVALID_URL", message: "url 'billing.example/x' is not an absolute http(s) URL" },
      { path: "/steps/1/request/url", code: "INVALID_URL", message: "url must start with http:// or https:// (it starts with 'ftp://files.example/')" },
    ]);
  });

  it("checks literal wait instants", () => {
    const steps = [
      { id: "a", type: "wait", until: "next monday" },
      { id: "b", type: "wait", until: "2026-12-01T09:00:00" },
      { id: "c", type: "wait", until: "2026-12-01T09:00:00+01:00" },
      { id: "d", type: "wait", until: "{{ input.at }}" },
    ];
    expect(check(wf(steps))).toEqual([
      {
        path: "/steps/0/until",
        code: "INVALID_TIMESTAMP",
        message: "until 'next monday' is not an RFC 3339 timestamp with an offset (e.g. 2026-12-01T09:00:00Z) nor a {{ }} template",
      },
      {
        path: "/steps/1/until",
        code: "INVALID_TIMESTAMP",
        message: "until '2026-12-01T09:00:00' is not an RFC 3339 timestamp with an offset (e.g. 2026-12-01T09:00:00Z) nor a {{ }} template",
      },
    ]);
  });

  it("refuses literal instants that do not exist, with the parser the wait step runs with", () => {
    const steps = ["2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-04-31T12:00:00+02:00", "2028-02-29T12:00:00Z"].map((until, i) => ({
      id: `w${i}`,
      type: "wait",
      until,
    }));
    expect(check(wf(steps)).map((p) => `${p.path} ${p.code}`)).toEqual([
      "/steps/0/until INVALID_TIMESTAMP",
      "/steps/1/until INVALID_TIMESTAMP",
      "/steps/2/until INVALID_TIMESTAMP",
    ]);
  });

  it("checks retry_on codes against the codes steps fail with, in steps and map sub-steps", () => {
    const retry = (...codes: string[]) => ({ retry: { max_attempts: 3, retry_on: codes } });
    const steps = [
      http("a", {}, retry("HTTP_STATUS", "STEP_TIMEOUT", "NETWORK_ERROR")),
      http("b", {}, retry("TIMEOUT")),
      http("c", {}, retry("HTTP_STAUTS", "PLUGIN_EROR")),
      { id: "m", type: "map", items: [1, 2], step: { id: "each", type: "plugin", plugin: "json.validate", ...retry("NO_SUCH_CODE") } },
    ];
    const found = check(wf(steps));
    expect(found.map((p) => `${p.path} ${p.code}`)).toEqual([
      "/steps/1/retry/retry_on/0 UNKNOWN_ERROR_CODE",
      "/steps/2/retry/retry_on/0 UNKNOWN_ERROR_CODE",
      "/steps/2/retry/retry_on/1 UNKNOWN_ERROR_CODE",
      "/steps/3/step/retry/retry_on/0 UNKNOWN_ERROR_CODE",
    ]);
    expect(found[0]!.message).toBe(`retry_on names 'TIMEOUT', which no step error has (did you mean 'STEP_TIMEOUT'?); the codes are: ${ERROR_CODES.join(", ")}`);
    expect(found[1]!.message).toContain("(did you mean 'HTTP_STATUS'?)");
    expect(found[2]!.message).toContain("(did you mean 'PLUGIN_ERROR'?)");
    // A plugin's own codes are valid once the deployment passes them in.
    expect(check(wf([http("b", {}, retry("QUOTA_EXCEEDED"))]), { plugins: PLUGINS, errorCodes: [...ERROR_CODES, "QUOTA_EXCEEDED"] })).toEqual([]);
  });
});

describe("validateDefinition: reporting", () => {
  it("reports every problem at once, sorted by path with numeric segments in order", () => {
    const steps = [
      ...Array.from({ length: 10 }, (_, i) => transform(`s${i}`)),
      transform("late", "steps.ghost.output"), // /steps/10
      transform("s0"), // /steps/11: duplicate
      transform("x", "1", { needs: ["nope"] }), // /steps/12
      transform("s2b", "(", { if: "steps.s1.output" }), // /steps/13
    ];
    const found = check(wf(steps, { output: "steps.s1.output +", input_schema: { type: 1 } }));
    expect(found.map((p) => `${p.path} ${p.code}`)).toEqual([
      "/input_schema/type INVALID_INPUT_SCHEMA",
      "/output EXPRESSION_SYNTAX",
      "/steps/10/expression UNKNOWN_STEP",
      "/steps/11/id DUPLICATE_STEP_ID",
      "/steps/12/needs/0 UNKNOWN_STEP",
      "/steps/13/expression EXPRESSION_SYNTAX",
      "/steps/13/if NOT_UPSTREAM",
    ]);
  });

  it("does not mutate the definition", () => {
    const definition = WorkflowDefinition.parse(
      wf([transform("a")], { input_schema: { type: "object", properties: { a: { $ref: "#/$defs/x" } }, $defs: { x: { type: "string" } } } }),
    );
    const before = JSON.stringify(definition);
    expect(validateDefinition(definition)).toEqual([]);
    expect(JSON.stringify(definition)).toBe(before);
    const properties = definition.input_schema?.properties as Record<string, object>;
    expect(Object.getOwnPropertyNames(properties.a)).toEqual(["$ref"]);
  });
});
