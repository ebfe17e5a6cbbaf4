/**
 * Evaluation of JSONata expressions and `{{ }}` templates at run time, and masking of secrets.
 * (Parsing and static analysis are in `./expressions.ts`.)
 *
 * - Expressions are compiled once and kept in a bounded cache keyed by source: the engine
 *   evaluates the same few expressions over and over (a step's `if`, a template in a 100-step
 *   chain, every item of a map).
 * - Results are plain JSON data (`toPlainJson`): JSONata's null-prototype objects and marked
 *   sequence arrays become standard objects and arrays, functions (a lambda or `$sum` as a
 *   result) `undefined`; `undefined` itself (no match) is returned as is.
 * - `secrets` is a root name only when a `SecretResolver` is given, and then only with the secrets
 *   the expression names statically (`secrets.NAME`): each is resolved through the resolver (which
 *   records the value for masking) at the moment the expression is evaluated. A dynamic read
 *   (`$lookup(secrets, x)`, `$eval(...)`) sees nothing else, so no secret is ever resolved that
 *   the text of the definition does not name.
 *
 * Runaway expressions: jsonata 2.2 checks a `stack` (evaluation depth) limit, which is set here,
 * and a wall-clock `timeout`, which is useless on Workers because the clock does not advance while
 * code runs without I/O. Tail-recursive loops do not grow the depth, so every evaluation also has a
 * budget of evaluated nodes, counted through jsonata's (undocumented) `__evaluate_entry` hook; and
 * sequences are capped in length. What remains unguarded is a single built-in call doing a lot of
 * work on its own (`$pad("", 1e9)`, a pathological regular expression): the Workers CPU limit of
 * the invocation is the last line of defence there.
 */
import jsonata from "jsonata";
import { NonRetriableError, StepError } from "./errors";
import { parseTemplate, referencedRoots } from "./expressions";
import { toPlainJson } from "./plain-json";
import type { ExpressionScope, SecretResolver } from "./steps/types";

/** The scope an expression sees: the standard one, or any object of root names (map adds `item`/`index`). */
export type EvaluationScope = ExpressionScope | Readonly<Record<string, unknown>>;

export interface EvaluateOptions {
  /** Makes `secrets.NAME` readable (http requests, llm prompts). Without it, reading `secrets` fails. */
  secrets?: SecretResolver;
  /** Where the expression is, for error messages (e.g. `steps[2].if`). */
  location?: string;
}

/** Most AST nodes one evaluation may evaluate (loops included). */
export const MAX_EVALUATION_STEPS = 1_000_000;
/** Deepest nesting of evaluation (non-tail recursion). */
export const MAX_EVALUATION_DEPTH = 2_000;
/** Longest sequence an evaluation may build. */
export const MAX_SEQUENCE_LENGTH = 1_000_000;
/** Compiled expressions kept. */
const CACHE_SIZE = 1_000;

interface Compiled {
  expression: jsonata.Expression | null;
  /** Secret names read as `secrets.NAME`. */
  secrets: string[];
  readsSecrets: boolean;
  /** The parse error, when the source does not parse. */
  error?: { message: string; position?: number; code?: string };
}

const cache = new Map<string, Compiled>();

class BudgetExceeded extends Error {}

/** Evaluated-node counts of the evaluations in flight, keyed by their root environment. */
const budgets = new WeakMap<object, number>();

function onEvaluateEntry(_expr: unknown, _input: unknown, environment: { base?: object }): void {
  const base = environment.base;
  if (base === undefined) return;
  const used = (budgets.get(base) ?? 0) + 1;
  if (used > MAX_EVALUATION_STEPS) throw new BudgetExceeded(`evaluation exceeded ${MAX_EVALUATION_STEPS} steps (an endless recursion?)`);
  budgets.set(base, used);
}

const EVALUATE_ENTRY = Symbol.for("jsonata.__evaluate_entry");

function compile(source: string): Compiled {
  const hit = cache.get(source);
  if (hit) {
    // Refresh its place: the map's insertion order is the eviction order.
    cache.delete(source);
    cache.set(source, hit);
    return hit;
  }
  let compiled: Compiled;
  try {
    const expression = jsonata(source, { stack: MAX_EVALUATION_DEPTH, sequence: MAX_SEQUENCE_LENGTH });
    // jsonata binds symbols too; its typings only say string.
    expression.assign(EVALUATE_ENTRY as unknown as string, onEvaluateEntry);
    const refs = referencedRoots(expression.ast());
    compiled = { expression, secrets: refs.secrets, readsSecrets: refs.readsSecrets };
  } catch (error) {
    compiled = { expression: null, secrets: [], readsSecrets: false, error: describeError(error) };
  }
  cache.set(source, compiled);
  if (cache.size > CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  return compiled;
}

/**
 * Evaluates a JSONata expression over `scope`. Throws `EXPRESSION_ERROR` (non-retriable) for a
 * syntax or evaluation error, with jsonata's message and position; `SECRET_NOT_FOUND` for a
 * `secrets.NAME` the resolver does not know.
 */
export async function evaluateExpression(source: string, scope: EvaluationScope, opts: EvaluateOptions = {}): Promise<unknown> {
  const compiled = compile(source);
  const where = opts.location ? `${opts.location}: ` : "";
  if (compiled.expression === null) {
    throw expressionError(where, source, compiled.error ?? { message: "invalid expression" });
  }
  let input: Readonly<Record<string, unknown>> = scope as Readonly<Record<string, unknown>>;
  if (compiled.readsSecrets) {
    if (!opts.secrets) {
      throw new NonRetriableError("EXPRESSION_ERROR", `${where}secrets can only be read in an http step's request or an llm step's prompts`);
    }
    input = { ...input, secrets: resolveSecrets(compiled.secrets, opts.secrets, where) };
  }
  let result: unknown;
  try {
    result = await compiled.expression.evaluate(input);
  } catch (error) {
    if (error instanceof StepError) throw error;
    throw expressionError(where, source, describeError(error));
  }
  try {
    return toPlainJson(result);
  } catch (error) {
    throw expressionError(where, source, { message: `the result is not JSON data: ${error instanceof Error ? error.message : String(error)}` });
  }
}

function resolveSecrets(names: readonly string[], resolver: SecretResolver, where: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = resolver.get(name);
    if (value === undefined) {
      throw new NonRetriableError("SECRET_NOT_FOUND", `${where}secret '${name}' is not configured in this deployment`, { secret: name });
    }
    values[name] = value;
  }
  return values;
}

function expressionError(where: string, source: string, error: { message: string; position?: number; code?: string }): NonRetriableError {
  const at = error.position !== undefined ? ` at position ${error.position}` : "";
  const code = error.code ? ` [${error.code}]` : "";
  return new NonRetriableError("EXPRESSION_ERROR", `${where}${error.message}${at}${code} in '${snippet(source)}'`, {
    ...(error.position !== undefined ? { position: error.position } : {}),
    ...(error.code ? { jsonata_code: error.code } : {}),
  });
}

function describeError(error: unknown): { message: string; position?: number; code?: string } {
  // Our budget error may come wrapped by $eval ({ code: "D3121", error }).
  let current: unknown = error;
  for (let i = 0; i < 5 && typeof current === "object" && current !== null; i++) {
    if (current instanceof BudgetExceeded) return { message: current.message };
    current = (current as { error?: unknown }).error;
  }
  if (typeof error !== "object" || error === null) return { message: String(error) };
  const { message, position, code } = error as { message?: unknown; position?: unknown; code?: unknown };
  return {
    message: typeof message === "string" && message !== "" ? message : "expression failed",
    ...(typeof position === "number" ? { position } : {}),
    ...(typeof code === "string" ? { code } : {}),
  };
}

function snippet(source: string, max = 120): string {
  const flat = source.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

// ---------------------------------------------------------------------------------------------
// Templates

/**
 * Renders every string inside `value` (objects and arrays are walked; keys are not templates):
 * a string that is exactly one `{{ expr }}` becomes the expression's value, of any type; any other
 * string with `{{ }}` segments interpolates them (strings as is, objects and arrays as JSON,
 * null/undefined as empty). Strings without `{{` are returned unchanged. With `secrets`, templates
 * may read `secrets.NAME`. Throws `TEMPLATE_ERROR` for an unclosed `{{`, `EXPRESSION_ERROR` for a
 * failing expression; both name the location inside `value` (e.g. `headers.authorization`).
 */
export async function renderTemplate(value: unknown, scope: EvaluationScope, secrets?: SecretResolver, location = ""): Promise<unknown> {
  if (typeof value === "string") return renderString(value, scope, secrets, location);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) out.push(await renderTemplate(value[i], scope, secrets, `${location}[${i}]`));
    return out;
  }
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = await renderTemplate(item, scope, secrets, location === "" ? key : `${location}.${key}`);
    }
    return out;
  }
  return value;
}

async function renderString(template: string, scope: EvaluationScope, secrets: SecretResolver | undefined, location: string): Promise<unknown> {
  if (!template.includes("{{")) return template;
  const parsed = parseTemplate(template);
  const where = location === "" ? "template" : location;
  if (!parsed.ok) {
    throw new NonRetriableError("TEMPLATE_ERROR", `${where}: ${parsed.message} (at offset ${parsed.position})`, { location: where, position: parsed.position });
  }
  const opts: EvaluateOptions = { location: where, ...(secrets ? { secrets } : {}) };
  if (parsed.exact) {
    const only = parsed.segments[0];
    return only?.kind === "expression" ? evaluateExpression(only.source, scope, opts) : template;
  }
  let out = "";
  for (const segment of parsed.segments) {
    if (segment.kind === "text") out += segment.text;
    else out += interpolate(await evaluateExpression(segment.source, scope, opts));
  }
  return out;
}

/**
 * How a value appears inside a string: strings as they are, null/undefined as nothing, anything
 * else as JSON. Numbers are written as JSONata's `$string` writes them (15 significant digits, so
 * `0.1 + 0.2` reads `0.3`).
 */
export function interpolate(value: unknown): string {
  if (value === null || value === undefined || typeof value === "function") return "";
  if (typeof value === "string") return value;
  if (typeof value === "bigint") return value.toString();
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "number" ? roundNumber(v) : typeof v === "function" ? undefined : v)) ?? "";
}

function roundNumber(n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(15)) : n;
}

// ---------------------------------------------------------------------------------------------
// Masking

export const MASK = "***";

/**
 * The forms a secret value takes in what gets recorded: as is, percent-encoded (in a URL) and
 * JSON-escaped (inside JSON text). Longest first, so a secret containing another is masked whole.
 */
function maskForms(secretValues: Iterable<string>): string[] {
  const forms = new Set<string>();
  for (const value of secretValues) {
    if (typeof value !== "string" || value === "") continue;
    forms.add(value);
    forms.add(encodeURIComponent(value));
    forms.add(JSON.stringify(value).slice(1, -1));
  }
  return [...forms].filter((f) => f !== "").sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each (non-empty) secret value in `text` with `***`. */
export function maskText(text: string, values: Iterable<string>): string {
  return maskWith(text, maskForms(values));
}

function maskWith(text: string, forms: readonly string[]): string {
  let out = text;
  for (const form of forms) {
    if (out.includes(form)) out = out.split(form).join(MASK);
  }
  return out;
}

/**
 * A copy of `value` in which every occurrence of each (non-empty) secret value inside strings,
 * object keys included, is replaced with `***`. Numbers and booleans are left alone.
 */
export function maskSecrets<T>(value: T, secretValues: Iterable<string>): T {
  const forms = maskForms(secretValues);
  if (forms.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return maskWith(v, forms);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(v)) out[maskWith(key, forms)] = walk(item);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}
