/**
 * Is this a JSON Schema Stepline can validate with? Used at registration for a definition's
 * `input_schema` and an llm step's `output_schema`, so a bad schema is a 400 at registration
 * rather than a failure of every execution.
 *
 * Run-time validation uses @cfworker/json-schema (draft 2020-12). That library ships no
 * meta-schemas and does not implement `$dynamicRef` (cfworker/cfworker#150), which the official
 * 2020-12 meta-schema uses for all its recursion — validating against it would accept anything
 * below the top level. So the check is, in order:
 * 1. the schema validated (with @cfworker/json-schema itself) against `META_SCHEMA_2020_12`,
 *    the official 2020-12 meta-schema's vocabularies (core, applicator, unevaluated, validation,
 *    meta-data, format-annotation, content) merged into one schema whose `$dynamicRef: "#meta"`
 *    became a plain `$ref: "#"` — equivalent for any schema that does not extend the meta-schema;
 *    `format: "regex"` there checks every `pattern` / `patternProperties` key compiles as the
 *    validator will compile it (`new RegExp(p, "u")`);
 * 2. `$schema`, when present, must name draft 2020-12 (the only dialect run-time validation speaks);
 * 3. unknown keywords are rejected, as Ajv's strict mode does, because a misspelt keyword
 *    (`"requried"`) silently validates nothing; `x-` prefixed keywords are allowed for annotations;
 * 4. every `$ref` must resolve inside the schema (there is no fetching of remote schemas), and
 *    `$dynamicRef`, which the validator would silently ignore, is refused.
 * Pure: the schema given is never mutated (the resolver annotates a private copy).
 */
import { dereference, validate } from "@cfworker/json-schema";
import type { OutputUnit, Schema } from "@cfworker/json-schema";

export interface JsonSchemaIssue {
  /** JSON Pointer inside the checked schema ("" is the schema itself). */
  pointer: string;
  message: string;
}

/** At most this many issues per schema: the first ones are what an author fixes first anyway. */
const MAX_ISSUES = 10;

export const JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema";

const META_ID = "https://stepline.example/meta/json-schema-2020-12";

/** See the module comment: the 2020-12 meta-schema, flattened, with static recursion. */
export const META_SCHEMA_2020_12 = {
  $id: META_ID,
  type: ["object", "boolean"],
  properties: {
    // core
    $id: { $ref: "#/$defs/uriReferenceString", pattern: "^[^#]*#?$" },
    $schema: { $ref: "#/$defs/uriString" },
    $ref: { $ref: "#/$defs/uriReferenceString" },
    $anchor: { $ref: "#/$defs/anchorString" },
    $dynamicRef: { $ref: "#/$defs/uriReferenceString" },
    $dynamicAnchor: { $ref: "#/$defs/anchorString" },
    $vocabulary: {
      type: "object",
      propertyNames: { $ref: "#/$defs/uriString" },
      additionalProperties: { type: "boolean" },
    },
    $comment: { type: "string" },
    $defs: { type: "object", additionalProperties: { $ref: "#" } },
    // applicator
    prefixItems: { $ref: "#/$defs/schemaArray" },
    items: { $ref: "#" },
    contains: { $ref: "#" },
    additionalProperties: { $ref: "#" },
    properties: { type: "object", additionalProperties: { $ref: "#" } },
    patternProperties: { type: "object", additionalProperties: { $ref: "#" }, propertyNames: { format: "regex" } },
    dependentSchemas: { type: "object", additionalProperties: { $ref: "#" } },
    propertyNames: { $ref: "#" },
    if: { $ref: "#" },
    then: { $ref: "#" },
    else: { $ref: "#" },
    allOf: { $ref: "#/$defs/schemaArray" },
    anyOf: { $ref: "#/$defs/schemaArray" },
    oneOf: { $ref: "#/$defs/schemaArray" },
    not: { $ref: "#" },
    // unevaluated
    unevaluatedItems: { $ref: "#" },
    unevaluatedProperties: { $ref: "#" },
    // validation
    type: {
      anyOf: [
        { $ref: "#/$defs/simpleTypes" },
        { type: "array", items: { $ref: "#/$defs/simpleTypes" }, minItems: 1, uniqueItems: true },
      ],
    },
    const: true,
    enum: { type: "array", items: true },
    multipleOf: { type: "number", exclusiveMinimum: 0 },
    maximum: { type: "number" },
    exclusiveMaximum: { type: "number" },
    minimum: { type: "number" },
    exclusiveMinimum: { type: "number" },
    maxLength: { $ref: "#/$defs/nonNegativeInteger" },
    minLength: { $ref: "#/$defs/nonNegativeInteger" },
    pattern: { type: "string", format: "regex" },
    maxItems: { $ref: "#/$defs/nonNegativeInteger" },
    minItems: { $ref: "#/$defs/nonNegativeInteger" },
    uniqueItems: { type: "boolean" },
    maxContains: { $ref: "#/$defs/nonNegativeInteger" },
    minContains: { $ref: "#/$defs/nonNegativeInteger" },
    maxProperties: { $ref: "#/$defs/nonNegativeInteger" },
    minProperties: { $ref: "#/$defs/nonNegativeInteger" },
    required: { $ref: "#/$defs/stringArray" },
    dependentRequired: { type: "object", additionalProperties: { $ref: "#/$defs/stringArray" } },
    // meta-data
    title: { type: "string" },
    description: { type: "string" },
    default: true,
    deprecated: { type: "boolean" },
    readOnly: { type: "boolean" },
    writeOnly: { type: "boolean" },
    examples: { type: "array", items: true },
    // format-annotation
    format: { type: "string" },
    // content
    contentEncoding: { type: "string" },
    contentMediaType: { type: "string" },
    contentSchema: { $ref: "#" },
    // still described by the 2020-12 top-level meta-schema, for schemas written for older drafts
    definitions: { type: "object", additionalProperties: { $ref: "#" } },
    dependencies: {
      type: "object",
      additionalProperties: { anyOf: [{ $ref: "#" }, { $ref: "#/$defs/stringArray" }] },
    },
  },
  $defs: {
    schemaArray: { type: "array", minItems: 1, items: { $ref: "#" } },
    nonNegativeInteger: { type: "integer", minimum: 0 },
    simpleTypes: { enum: ["array", "boolean", "integer", "null", "number", "object", "string"] },
    stringArray: { type: "array", items: { type: "string" }, uniqueItems: true },
    anchorString: { type: "string", pattern: "^[A-Za-z_][-A-Za-z0-9._]*$" },
    uriString: { type: "string", format: "uri" },
    uriReferenceString: { type: "string", format: "uri-reference" },
  },
} as const;

const KNOWN_KEYWORDS: ReadonlySet<string> = new Set(Object.keys(META_SCHEMA_2020_12.properties));

/** Keywords whose value is one subschema / an array of subschemas / a map of subschemas. */
const SUBSCHEMA = new Set([
  "items",
  "contains",
  "additionalProperties",
  "propertyNames",
  "if",
  "then",
  "else",
  "not",
  "unevaluatedItems",
  "unevaluatedProperties",
  "contentSchema",
]);
const SUBSCHEMA_ARRAY = new Set(["prefixItems", "allOf", "anyOf", "oneOf"]);
const SUBSCHEMA_MAP = new Set(["$defs", "definitions", "properties", "patternProperties", "dependentSchemas"]);

// Built once: the meta-schema is a constant, and dereferencing it is the costly part.
let metaLookup: Record<string, Schema | boolean> | undefined;

/** Every problem found (up to MAX_ISSUES), or an empty array for a usable schema. */
export function checkJsonSchema(schema: unknown): JsonSchemaIssue[] {
  if (typeof schema !== "boolean" && !isPlainObject(schema)) {
    return [{ pointer: "", message: "a JSON Schema must be an object (or a boolean)" }];
  }
  const issues: JsonSchemaIssue[] = [];
  metaLookup ??= dereference(structuredClone(META_SCHEMA_2020_12) as unknown as Schema);
  const metaSchema = metaLookup[META_ID] as Schema;
  const result = validate(schema, metaSchema, "2020-12", metaLookup, false);
  if (!result.valid) issues.push(...metaIssues(result.errors));

  if (isPlainObject(schema) && schema.$schema !== undefined && typeof schema.$schema === "string") {
    if (schema.$schema.replace(/#$/, "") !== JSON_SCHEMA_DIALECT) {
      issues.push({
        pointer: "/$schema",
        message: `dialect '${schema.$schema}' is not supported: schemas are validated as JSON Schema draft 2020-12 (omit $schema or use '${JSON_SCHEMA_DIALECT}')`,
      });
    }
  }

  if (isPlainObject(schema)) issues.push(...structureIssues(schema));
  return dedupe(issues).slice(0, MAX_ISSUES);
}

/**
 * cfworker reports a tree (pre-order): "properties failed" → "$ref failed" → the actual keyword.
 * Keep the leaves, except below `anyOf` (the `type` keyword's two alternatives), where the anyOf
 * itself says more than either branch.
 */
function metaIssues(errors: readonly OutputUnit[]): JsonSchemaIssue[] {
  const containers = new Set(["$ref", "properties", "additionalProperties", "propertyNames", "items", "prefixItems", "allOf"]);
  const anyOfs: string[] = [];
  const issues: JsonSchemaIssue[] = [];
  for (const error of errors) {
    if (anyOfs.some((location) => error.keywordLocation.startsWith(`${location}/`))) continue;
    if (error.keyword === "anyOf") anyOfs.push(error.keywordLocation);
    else if (containers.has(error.keyword)) continue;
    const pointer = error.instanceLocation.replace(/^#/, "");
    issues.push({ pointer, message: describeMetaError(pointer, error) });
  }
  return issues;
}

function describeMetaError(pointer: string, error: OutputUnit): string {
  const segments = pointer.split("/");
  const keyword = decodeSegment(segments[segments.length - 1] ?? "");
  const parent = decodeSegment(segments[segments.length - 2] ?? "");
  if (error.keyword === "format" && error.error.includes('"regex"')) {
    const what = parent === "patternProperties" ? `patternProperties key '${keyword}'` : "pattern";
    return `${what} is not a valid regular expression (ECMAScript, with the u flag)`;
  }
  if (keyword === "type" && error.keyword === "anyOf") {
    return "type must be one of array, boolean, integer, null, number, object, string, or a non-empty array of distinct ones";
  }
  if (pointer === "" && error.keyword === "type") return "a JSON Schema must be an object (or a boolean)";
  return `invalid value for '${keyword}': ${error.error}`;
}

/** Unknown keywords, unresolvable `$ref`s and `$dynamicRef`, found by walking every subschema. */
function structureIssues(schema: Record<string, unknown>): JsonSchemaIssue[] {
  const issues: JsonSchemaIssue[] = [];
  // The resolver records resolved URIs as hidden properties on the objects it is given: a copy.
  const copy = structuredClone(schema);
  let lookup: Record<string, Schema | boolean>;
  try {
    lookup = dereference(copy as Schema);
  } catch (error) {
    // e.g. two subschemas declaring the same $id
    issues.push({ pointer: "", message: error instanceof Error ? error.message.split("\n")[0] ?? "" : String(error) });
    return issues;
  }

  const walk = (node: unknown, pointer: string): void => {
    if (!isPlainObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      const at = `${pointer}/${encodeSegment(key)}`;
      if (!KNOWN_KEYWORDS.has(key) && !key.startsWith("x-")) {
        issues.push({
          pointer: at,
          message: `unknown keyword '${key}' (a typo? keywords are those of JSON Schema draft 2020-12; prefix annotations with 'x-')`,
        });
      }
      if (SUBSCHEMA.has(key)) walk(value, at);
      else if (SUBSCHEMA_ARRAY.has(key) && Array.isArray(value)) value.forEach((item, i) => walk(item, `${at}/${i}`));
      else if (SUBSCHEMA_MAP.has(key) && isPlainObject(value)) {
        for (const [name, sub] of Object.entries(value)) walk(sub, `${at}/${encodeSegment(name)}`);
      } else if (key === "dependencies" && isPlainObject(value)) {
        for (const [name, sub] of Object.entries(value)) walk(sub, `${at}/${encodeSegment(name)}`);
      }
    }
    if (typeof node.$ref === "string") {
      const absolute = Object.getOwnPropertyDescriptor(node, "__absolute_ref__")?.value as unknown;
      const target = typeof absolute === "string" ? absolute : node.$ref;
      if (lookup[target] === undefined) {
        issues.push({
          pointer: `${pointer}/$ref`,
          message: `$ref '${node.$ref}' does not resolve to a subschema of this schema (remote schemas are not fetched)`,
        });
      }
    }
    if (node.$dynamicRef !== undefined) {
      issues.push({ pointer: `${pointer}/$dynamicRef`, message: "$dynamicRef is not supported by Stepline's validator; use $ref" });
    }
  };
  walk(copy, "");
  return issues;
}

function dedupe(issues: JsonSchemaIssue[]): JsonSchemaIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.pointer}\u0000${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function encodeSegment(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

function decodeSegment(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}
