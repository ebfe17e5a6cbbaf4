/**
 * Validates a value against a JSON Schema (draft 2020-12) with @cfworker/json-schema, made for
 * Workers. One implementation for every caller: an execution's input against `input_schema`, and
 * the `json.validate` plugin. Whether the schema itself is usable is `checkJsonSchema`'s job
 * (json-schema-check.ts); here it is assumed.
 *
 * Problems are listed most specific first: `{ path, keyword, message }`, `path` a JSON Pointer into
 * the value. The summary units the validator adds for keywords that merely contain a failure
 * (`properties`, `items`, `$ref`, …) are left out when a more specific one is there.
 */
import { Validator, type OutputUnit, type Schema } from "@cfworker/json-schema";

export interface JsonValueProblem {
  path: string;
  keyword: string;
  message: string;
}

/** Most problems reported for one validation. */
const MAX_PROBLEMS = 100;
/** Validators kept, by schema text (a workflow validates against the same schema again and again). */
const CACHE_SIZE = 100;
const validators = new Map<string, Validator>();

const CONTAINERS = new Set([
  "properties",
  "patternProperties",
  "additionalProperties",
  "items",
  "prefixItems",
  "contains",
  "$ref",
  "allOf",
  "dependentSchemas",
  "unevaluatedProperties",
  "unevaluatedItems",
  "propertyNames",
]);

function validatorFor(schema: Schema | boolean): Validator {
  const key = JSON.stringify(schema);
  const hit = validators.get(key);
  if (hit) return hit;
  // The validator annotates the schema objects it resolves: give it its own copy.
  const validator = new Validator(structuredClone(schema), "2020-12", false);
  validators.set(key, validator);
  if (validators.size > CACHE_SIZE) {
    const oldest = validators.keys().next();
    if (!oldest.done) validators.delete(oldest.value);
  }
  return validator;
}

function describe(errors: readonly OutputUnit[]): JsonValueProblem[] {
  const specific = errors.filter((e) => !CONTAINERS.has(e.keyword));
  const chosen = specific.length > 0 ? specific : errors;
  return chosen.slice(0, MAX_PROBLEMS).map((e) => ({
    path: e.instanceLocation.replace(/^#/, ""),
    keyword: e.keyword,
    message: e.error,
  }));
}

/** Every problem of `value` against `schema`; empty when it is valid. */
export function validateJsonValue(schema: Record<string, unknown> | boolean, value: unknown): JsonValueProblem[] {
  const result = validatorFor(schema as Schema | boolean).validate(value);
  return result.valid ? [] : describe(result.errors);
}
