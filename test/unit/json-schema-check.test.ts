import { Validator } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import { checkJsonSchema, META_SCHEMA_2020_12 } from "../../src/engine/json-schema-check";

describe("checkJsonSchema", () => {
  it("accepts ordinary schemas", () => {
    expect(checkJsonSchema(true)).toEqual([]);
    expect(checkJsonSchema({})).toEqual([]);
    expect(
      checkJsonSchema({
        $schema: "https://json-schema.org/draft/2020-12/schema#",
        $id: "https://schemas.example/order",
        title: "Order",
        type: "object",
        required: ["id", "lines"],
        properties: {
          id: { type: "string", format: "uuid", pattern: "^[0-9a-f-]{36}$" },
          lines: { type: "array", minItems: 1, items: { $ref: "#/$defs/line" }, prefixItems: [{ type: "object" }] },
          status: { enum: ["open", "paid"], default: "open" },
          meta: { type: "object", patternProperties: { "^x-\\w+$": { type: "string" } }, additionalProperties: false },
          kind: { $ref: "#kind" },
        },
        $defs: {
          line: { type: "object", properties: { amount: { type: "number", exclusiveMinimum: 0 } }, unevaluatedProperties: false },
          kind: { $anchor: "kind", type: ["string", "null"] },
        },
        if: { properties: { status: { const: "paid" } } },
        then: { required: ["paid_at"] },
        dependentRequired: { paid_at: ["status"] },
        "x-ui": { order: 1 },
      }),
    ).toEqual([]);
  });

  it("accepts its own meta-schema", () => {
    expect(checkJsonSchema(META_SCHEMA_2020_12)).toEqual([]);
  });

  it("reports keyword values the meta-schema refuses, deep inside", () => {
    expect(
      checkJsonSchema({ anyOf: [], properties: { a: { items: { type: ["string", "string"] }, maxLength: 1.5 } } }),
    ).toEqual([
      { pointer: "/properties/a/items/type", message: "type must be one of array, boolean, integer, null, number, object, string, or a non-empty array of distinct ones" },
      { pointer: "/properties/a/maxLength", message: "invalid value for 'maxLength': Instance type \"number\" is invalid. Expected \"integer\"." },
      { pointer: "/anyOf", message: "invalid value for 'anyOf': Array has too few items (0 < 1)." },
    ]);
  });

  it("reports regular expressions the validator could not compile", () => {
    expect(checkJsonSchema({ properties: { a: { pattern: "([a-z]" } }, patternProperties: { "(": {} } })).toEqual([
      { pointer: "/properties/a/pattern", message: "pattern is not a valid regular expression (ECMAScript, with the u flag)" },
      { pointer: "/patternProperties/(", message: "patternProperties key '(' is not a valid regular expression (ECMAScript, with the u flag)" },
    ]);
  });

  it("refuses a schema that is not an object", () => {
    expect(checkJsonSchema([])).toEqual([{ pointer: "", message: "a JSON Schema must be an object (or a boolean)" }]);
    expect(checkJsonSchema("string")).toEqual([{ pointer: "", message: "a JSON Schema must be an object (or a boolean)" }]);
  });

  it("refuses other dialects", () => {
    expect(checkJsonSchema({ $schema: "http://json-schema.org/draft-07/schema#", type: "object" })).toEqual([
      {
        pointer: "/$schema",
        message:
          "dialect 'http://json-schema.org/draft-07/schema#' is not supported: schemas are validated as JSON Schema draft 2020-12 " +
          "(omit $schema or use 'https://json-schema.org/draft/2020-12/schema')",
      },
    ]);
  });

  it("refuses unknown keywords (typos) but allows x- annotations", () => {
    expect(checkJsonSchema({ type: "object", requried: ["a"], properties: { a: { tpye: "string", "x-label": "A" } } })).toEqual([
      { pointer: "/requried", message: "unknown keyword 'requried' (a typo? keywords are those of JSON Schema draft 2020-12; prefix annotations with 'x-')" },
      { pointer: "/properties/a/tpye", message: "unknown keyword 'tpye' (a typo? keywords are those of JSON Schema draft 2020-12; prefix annotations with 'x-')" },
    ]);
  });

  it("does not look for keywords inside const, enum, default or examples values", () => {
    expect(checkJsonSchema({ const: { anything: 1 }, enum: [{ tpye: 1 }], default: { x: 1 }, examples: [{ y: 2 }] })).toEqual([]);
  });

  it("refuses $ref that does not resolve inside the schema, and $dynamicRef", () => {
    expect(
      checkJsonSchema({
        properties: {
          a: { $ref: "#/$defs/missing" },
          b: { $ref: "https://schemas.example/remote.json" },
          c: { $ref: "#/$defs/ok" },
          d: { $dynamicRef: "#meta" },
        },
        $defs: { ok: { type: "string" } },
      }),
    ).toEqual([
      { pointer: "/properties/a/$ref", message: "$ref '#/$defs/missing' does not resolve to a subschema of this schema (remote schemas are not fetched)" },
      {
        pointer: "/properties/b/$ref",
        message: "$ref 'https://schemas.example/remote.json' does not resolve to a subschema of this schema (remote schemas are not fetched)",
      },
      { pointer: "/properties/d/$dynamicRef", message: "$dynamicRef is not supported by Stepline's validator; use $ref" },
    ]);
  });

  it("resolves $ref against $id", () => {
    expect(
      checkJsonSchema({
        $id: "https://schemas.example/root",
        properties: { a: { $ref: "item" }, b: { $ref: "https://schemas.example/item#/properties/n" } },
        $defs: { item: { $id: "item", properties: { n: { type: "number" } } } },
      }),
    ).toEqual([]);
  });

  it("reports two subschemas with the same $id", () => {
    expect(checkJsonSchema({ $defs: { a: { $id: "https://schemas.example/x" }, b: { $id: "https://schemas.example/x" } } })).toEqual([
      { pointer: "", message: 'Duplicate schema URI "https://schemas.example/x".' },
    ]);
  });

  it("stops after ten issues", () => {
    const properties = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`p${i}`, { type: "nope" }]));
    expect(checkJsonSchema({ properties })).toHaveLength(10);
  });

  it("does not mutate the schema, which stays usable by the run-time validator", () => {
    const schema = { type: "object" as const, properties: { a: { $ref: "#/$defs/a" } }, $defs: { a: { type: "integer" } } };
    const before = JSON.stringify(schema);
    expect(checkJsonSchema(schema)).toEqual([]);
    expect(JSON.stringify(schema)).toBe(before);
    expect(Object.getOwnPropertyNames(schema.properties.a)).toEqual(["$ref"]);
    const validator = new Validator(schema, "2020-12");
    expect(validator.validate({ a: 1 }).valid).toBe(true);
    expect(validator.validate({ a: "x" }).valid).toBe(false);
  });
});
