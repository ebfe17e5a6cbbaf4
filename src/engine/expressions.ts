/**
 * JSONata expressions and `{{ }}` templates: parsing and static analysis (no evaluation here).
 *
 * Expressions are evaluated over `{ input, steps: { <id>: { output, status } }, execution }`
 * (plus `secrets` for an http request / llm prompt, and `item` / `index` in a map's sub-step).
 * A string is a template when it contains `{{ expr }}` segments: a string that is exactly one
 * `{{ expr }}` yields the expression's value, any other string interpolates.
 *
 * Facts about jsonata 2.2 this module relies on (checked against `jsonata(src).ast()`):
 * - Parse errors are thrown as plain objects `{ code: "S0203", position, token, message }`;
 *   `position` is the offset just past the offending token (the 1-based column of its last
 *   character) and is missing for a few errors (e.g. S0217 on a misplaced `%`).
 * - Every field reference is a `{ type: "path", steps: [...] }` node, even a lone name, so
 *   `steps.fetch.output` is a path whose first two steps are `{ type: "name", value: "steps" }`
 *   and `{ type: "name", value: "fetch" }`. `$$.steps.x` starts with `{ type: "variable", value: "$" }`
 *   and `$.steps.x` with `{ type: "variable", value: "" }`.
 * - Sub-expressions hang off many keys (`arguments`, `procedure`, `body` of lambdas, `lhs`/`rhs`,
 *   `expressions` of blocks and array constructors, `lhs` pairs of object constructors, `stages`
 *   and `predicate` filters, `group`, sort `terms`, transform `pattern`/`update`/`delete`,
 *   `condition`/`then`/`else`), some shared between two parents (`a ?: b`), and regex literals
 *   carry a RegExp `value`. So references are found by walking every nested object, not by
 *   enumerating node kinds.
 */
import jsonata from "jsonata";

/** The root node of a parsed expression (jsonata's own type). */
export type ExpressionAst = jsonata.ExprNode;

export type ParseExpressionResult =
  | { ok: true; ast: ExpressionAst }
  | { ok: false; message: string; position?: number; code?: string };

/** Parses a JSONata expression without evaluating it. Never throws. */
export function parseExpression(source: string): ParseExpressionResult {
  try {
    return { ok: true, ast: jsonata(source).ast() };
  } catch (error) {
    return { ok: false, ...describeJsonataError(error) };
  }
}

function describeJsonataError(error: unknown): { message: string; position?: number; code?: string } {
  if (typeof error !== "object" || error === null) return { message: String(error) };
  const { message, position, code } = error as { message?: unknown; position?: unknown; code?: unknown };
  return {
    message: typeof message === "string" && message !== "" ? message : "invalid expression",
    ...(typeof position === "number" ? { position } : {}),
    ...(typeof code === "string" ? { code } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Templates

export type TemplateSegment =
  | { kind: "text"; text: string }
  /** `source` is the text between `{{` and `}}`; `offset` is where it starts in the template. */
  | { kind: "expression"; source: string; offset: number };

export type ParseTemplateResult =
  | {
      ok: true;
      segments: TemplateSegment[];
      /** The whole string is one `{{ expr }}` (no text around it): it yields the value itself. */
      exact: boolean;
      /** At least one `{{ }}` segment: the string is evaluated, not used verbatim. */
      hasExpressions: boolean;
    }
  /** `position` is the offset of the `{{` that is never closed. */
  | { ok: false; message: string; position: number };

/**
 * Splits a string into text and `{{ expr }}` segments. The closing `}}` is searched for outside
 * JSONata string literals and comments and at brace depth 0, so an object constructor
 * (`{{ {"a": {"b": 1}} }}`) or a `"}}"` inside a string literal does not end the segment early.
 * There is no escape for a literal `{{`. The expressions themselves are not parsed here.
 */
export function parseTemplate(template: string): ParseTemplateResult {
  const segments: TemplateSegment[] = [];
  let cursor = 0;
  for (;;) {
    const open = template.indexOf("{{", cursor);
    if (open === -1) break;
    if (open > cursor) segments.push({ kind: "text", text: template.slice(cursor, open) });
    const start = open + 2;
    const close = findClosingBraces(template, start);
    if (close === -1) {
      return { ok: false, message: "'{{' is never closed by '}}'", position: open };
    }
    segments.push({ kind: "expression", source: template.slice(start, close), offset: start });
    cursor = close + 2;
  }
  if (cursor < template.length) segments.push({ kind: "text", text: template.slice(cursor) });
  const expressions = segments.filter((s) => s.kind === "expression").length;
  return { ok: true, segments, exact: expressions === 1 && segments.length === 1, hasExpressions: expressions > 0 };
}

/** Index of the `}}` ending an expression that starts at `from`, or -1. */
function findClosingBraces(text: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === '"' || c === "'" || c === "`") {
      i = skipQuoted(text, i, c);
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end === -1) return -1;
      i = end + 2;
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}") {
      if (depth === 0 && text[i + 1] === "}") return i;
      if (depth > 0) depth--;
    }
    i++;
  }
  return -1;
}

/** Index just past the literal opened at `start` (backslash escapes in '...' and "..."). */
function skipQuoted(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && quote !== "`") i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  return i;
}

// ---------------------------------------------------------------------------------------------
// References

export interface StepReference {
  /** The step id read as `steps.<id>`. */
  id: string;
  /** jsonata position of the id token (offset just past it), when known. */
  position?: number;
}

export interface ExpressionReferences {
  /** Steps read as `steps.<id>` (or `$$.steps.<id>`), once each, in source order. */
  steps: StepReference[];
  /**
   * `steps` is read without naming a step: `steps`, `steps.*`, `steps[...]`, `$lookup(steps, x)`,
   * `$keys(steps)`, `$$`… Which steps that reads depends on run-time data.
   */
  dynamicSteps: boolean;
  /** Secret names read as `secrets.<NAME>`, once each, in source order. */
  secrets: string[];
  /** Any read of `secrets`, named or not (`$string(secrets)` reads them all). */
  readsSecrets: boolean;
}

type Node = Record<string, unknown>;

function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof RegExp);
}

function isName(node: unknown, value?: string): node is Node {
  return isNode(node) && node.type === "name" && (value === undefined || node.value === value);
}

/**
 * Which steps and secrets an expression reads. Every path in the expression is examined, wherever
 * it sits (function arguments, lambda bodies, predicates, object constructors, sort terms…). A path
 * counts when it starts at a root name: `steps.x…`, or `$$.steps.x` / `$.steps.x`.
 *
 * Deliberately over-inclusive: inside a predicate (`input.items[steps.a.output = 1]`) `steps` would
 * be looked up on each item, not on the root, yet it is still counted — an author writing
 * `steps.a` there means step `a`, and over-counting can only add a dependency, never lose one.
 */
export function referencedRoots(ast: ExpressionAst): ExpressionReferences {
  const steps = new Map<string, StepReference>();
  const secrets = new Map<string, number>();
  let dynamicSteps = false;
  let readsSecrets = false;
  const visited = new Set<object>();
  // Nodes that are part of a longer path (`$$` before `.steps`, `*` after `steps.a.`): they do not
  // read the root on their own, unlike the same node standing alone.
  const insidePath = new Set<object>();

  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (!isNode(value) || visited.has(value)) return;
    visited.add(value);

    if (value.type === "path" && Array.isArray(value.steps)) {
      const path = value.steps as unknown[];
      // `$$.steps` (root) and `$.steps` (context, the root at top level) both reach the root.
      const head = isRootVariable(path[0]) && path.length > 1 ? 1 : 0;
      path.forEach((step, i) => {
        if (isNode(step) && i !== head) insidePath.add(step);
      });
      const root = path[head];
      const member = path[head + 1];
      if (isName(root, "steps")) {
        if (hasFilters(root) || !isName(member) || typeof member.value !== "string") dynamicSteps = true;
        else if (!steps.has(member.value)) steps.set(member.value, { id: member.value, ...positionOf(member) });
      } else if (isName(root, "secrets")) {
        readsSecrets = true;
        if (!hasFilters(root) && isName(member) && typeof member.value === "string" && !secrets.has(member.value)) {
          secrets.set(member.value, typeof member.position === "number" ? member.position : Number.MAX_SAFE_INTEGER);
        }
      }
    } else if (!insidePath.has(value)) {
      // A bare `$$` hands the whole root to whatever consumes it ($keys($$), $string($$));
      // a `*` or `**` not after a path step enumerates the members of the root (or context).
      if ((value.type === "variable" && value.value === "$") || value.type === "wildcard" || value.type === "descendant") {
        // Not counted as reading secrets: they are only in the context where they are allowed.
        dynamicSteps = true;
      }
    }

    for (const [key, child] of Object.entries(value)) {
      if (key === "value" && child instanceof RegExp) continue;
      if (typeof child === "object" && child !== null) visit(child);
    }
  };

  visit(ast);
  return {
    steps: [...steps.values()].sort((a, b) => (a.position ?? Number.MAX_SAFE_INTEGER) - (b.position ?? Number.MAX_SAFE_INTEGER)),
    dynamicSteps,
    secrets: [...secrets.entries()].sort((a, b) => a[1] - b[1]).map(([name]) => name),
    readsSecrets,
  };
}

function isRootVariable(node: unknown): boolean {
  return isNode(node) && node.type === "variable" && (node.value === "$" || node.value === "");
}

function hasFilters(node: Node): boolean {
  return (Array.isArray(node.stages) && node.stages.length > 0) || node.group !== undefined || node.focus !== undefined || node.index !== undefined;
}

function positionOf(node: Node): { position?: number } {
  return typeof node.position === "number" ? { position: node.position } : {};
}

/**
 * Every secret name a definition (or any part of one) reads as `secrets.<NAME>`, wherever it is:
 * in `{{ }}` templates of any string, or in a raw expression (`if`, `expression`, `output`). Only
 * these can ever be resolved (a dynamic read sees nothing else, see evaluate.ts), so masking the
 * values of these masks every secret the execution can come to hold. Strings that do not mention
 * `secrets` are not parsed; a string that is not an expression is ignored. Over-inclusive by
 * design: a name counted that is never resolved only masks one more value.
 */
export function referencedSecrets(value: unknown): string[] {
  const names = new Set<string>();
  const collect = (source: string): void => {
    const parsed = parseExpression(source);
    if (parsed.ok) for (const name of referencedRoots(parsed.ast).secrets) names.add(name);
  };
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      if (!v.includes("secrets")) return;
      const template = parseTemplate(v);
      if (template.ok && template.hasExpressions) {
        for (const segment of template.segments) if (segment.kind === "expression") collect(segment.source);
      } else {
        collect(v);
      }
    } else if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (typeof v === "object" && v !== null) {
      Object.values(v).forEach(walk);
    }
  };
  walk(value);
  return [...names];
}
