/**
 * Plain JSON data: the only kind of value that crosses the Worker ↔ Durable Object boundary
 * (SPEC §4). workerd's RPC structured-clones every argument and result, and refuses objects
 * without the standard prototype (`DataCloneError: Could not serialize object of type "Object"`).
 * JSONata builds its result objects with `Object.create(null)` and marks its arrays with extra
 * properties, and a plugin may return class instances, Dates or Maps; so every library value is
 * passed through `toPlainJson` where it enters the engine (expression results, plugin results),
 * and nothing downstream needs to care.
 */

/** A value is not JSON data (a cycle, a BigInt): the caller turns this into its own error. */
export class NotJsonError extends Error {}

/**
 * `value` as plain JSON data, following JSON's own rules: objects get the standard prototype,
 * arrays are plain arrays, functions, symbols and `undefined` are dropped from objects (and become
 * `null` inside arrays), non-finite numbers become `null`, and an object with `toJSON` (a Date) is
 * replaced by what it returns. A top-level function or `undefined` gives `undefined` (no value).
 * Subtrees that already are plain are returned as they are, without a copy. Throws `NotJsonError`
 * for a cycle or a BigInt.
 */
export function toPlainJson(value: unknown): unknown {
  return plain(value, new Set());
}

function plain(value: unknown, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      throw new NotJsonError("a BigInt is not JSON data");
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  // jsonata's own functions and lambdas are objects (with cycles back to their environment).
  if ("_jsonata_lambda" in object || "_jsonata_function" in object) return undefined;
  if (typeof (object as { toJSON?: unknown }).toJSON === "function") {
    return plain((object as { toJSON: () => unknown }).toJSON(), ancestors);
  }
  if (ancestors.has(object)) throw new NotJsonError("the value contains a cycle");
  ancestors.add(object);
  try {
    return Array.isArray(object) ? plainArray(object, ancestors) : plainObject(object, ancestors);
  } finally {
    ancestors.delete(object);
  }
}

function plainArray(items: unknown[], ancestors: Set<object>): unknown[] {
  // jsonata marks its internal sequences with extra own properties (`sequence`, `keepSingleton`, …),
  // enumerable or not; a plain array's own keys are its indexes and `length`.
  let changed = Object.getPrototypeOf(items) !== Array.prototype || Reflect.ownKeys(items).length !== items.length + 1;
  const out = new Array<unknown>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    let p = plain(item, ancestors);
    if (p === undefined) p = null;
    if (p !== item) changed = true;
    out[i] = p;
  }
  return changed ? out : items;
}

function plainObject(object: object, ancestors: Set<object>): Record<string, unknown> {
  // A Map or a class instance keeps only its own enumerable properties, as JSON.stringify does.
  let changed = Object.getPrototypeOf(object) !== Object.prototype;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(object)) {
    const p = plain(item, ancestors);
    if (p !== item) changed = true;
    if (p !== undefined) out[key] = p;
  }
  return changed ? out : (object as Record<string, unknown>);
}
