/**
 * Canonical JSON: one string per JSON value, whatever the key order it was written with.
 *
 * Definition versions are hashed (and compared) on this string, so two registrations of the same
 * content with keys in another order or other whitespace get the same hash and the same version.
 *
 * Invariants (the subset of RFC 8785 / JCS that matters for the values we see — data parsed from
 * JSON requests):
 * - object members sorted by key, comparing UTF-16 code units (RFC 8785 §3.2.3), recursively;
 * - no insignificant whitespace;
 * - strings and numbers serialised as ECMAScript `JSON.stringify` does (RFC 8785 uses the same
 *   number formatting: shortest round-trip form, `-0` as `0`);
 * - object members whose value is `undefined` are dropped, array slots holding `undefined` become
 *   `null` (as `JSON.stringify` does), values with a `toJSON` method (Date) are serialised by it.
 * Not JSON, so rejected with a `TypeError`: non-finite numbers, bigint, functions, symbols, cycles.
 */
export function canonicalJson(value: unknown): string {
  const out = serialize(value, new Set<object>(), "");
  if (out === undefined) {
    throw new TypeError("canonicalJson: the value has no JSON representation (undefined, function or symbol)");
  }
  return out;
}

/** Returns `undefined` for values JSON drops (undefined, functions and symbols as members). */
function serialize(value: unknown, ancestors: Set<object>, path: string): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) {
        throw new TypeError(`canonicalJson: ${String(value)} at '${path || "/"}' is not a JSON number`);
      }
      return JSON.stringify(value);
    case "bigint":
      throw new TypeError(`canonicalJson: bigint at '${path || "/"}' is not a JSON number`);
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "object":
      break;
  }
  if (value === null) return "null";

  const obj = value as object;
  if (hasToJSON(obj)) return serialize(obj.toJSON(), ancestors, path);
  if (ancestors.has(obj)) throw new TypeError(`canonicalJson: circular reference at '${path || "/"}'`);
  ancestors.add(obj);
  try {
    if (Array.isArray(obj)) {
      const items = obj.map((item: unknown, i) => serialize(item, ancestors, `${path}/${i}`) ?? "null");
      return `[${items.join(",")}]`;
    }
    const record = obj as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is exactly the order RFC 8785 prescribes.
    const keys = Object.keys(record).sort();
    const members: string[] = [];
    for (const key of keys) {
      const member = serialize(record[key], ancestors, `${path}/${key}`);
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
    }
    return `{${members.join(",")}}`;
  } finally {
    ancestors.delete(obj);
  }
}

function hasToJSON(value: object): value is { toJSON: () => unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === "function";
}
