/**
 * `json.validate`: args `{ schema, data }` → `{ valid, errors }`, validating `data` against a JSON
 * Schema (draft 2020-12). An invalid `data` is a result (`valid: false`), not a step error; an
 * unusable `schema` (not a schema, unknown keyword, `$ref` that does not resolve — the checks of
 * `checkJsonSchema`) is a non-retriable `PLUGIN_ERROR`. `errors` are `{ path, keyword, message }`,
 * most specific first (see json-schema-validate.ts).
 */
import { NonRetriableError } from "../errors";
import { checkJsonSchema } from "../json-schema-check";
import { validateJsonValue } from "../json-schema-validate";
import type { PluginDefinition } from "./types";

/** Schemas already found usable, by text, so the meta-check runs once per schema (bounded). */
const usable = new Set<string>();
const USABLE_CACHE_SIZE = 100;

function assertUsable(schema: Record<string, unknown> | boolean): void {
  const key = JSON.stringify(schema);
  if (usable.has(key)) return;
  const issues = checkJsonSchema(schema);
  if (issues.length > 0) {
    throw new NonRetriableError(
      "PLUGIN_ERROR",
      `json.validate: 'schema' is not a usable JSON Schema: ${issues.map((i) => `${i.pointer || "/"}: ${i.message}`).join("; ")}`,
      { issues },
    );
  }
  usable.add(key);
  if (usable.size > USABLE_CACHE_SIZE) usable.delete(usable.values().next().value!);
}

export const jsonValidate: PluginDefinition = {
  description: "Validates `data` against a JSON Schema (draft 2020-12): { schema, data } → { valid, errors }.",
  async handler(args) {
    const { schema, data } = args;
    if (typeof schema !== "boolean" && (typeof schema !== "object" || schema === null || Array.isArray(schema))) {
      throw new NonRetriableError("PLUGIN_ERROR", "json.validate: 'schema' must be a JSON Schema (an object or a boolean)");
    }
    assertUsable(schema as Record<string, unknown> | boolean);
    const errors = validateJsonValue(schema as Record<string, unknown> | boolean, data);
    return { valid: errors.length === 0, errors };
  },
};
