/**
 * Static checks of a workflow definition at registration, beyond its zod shape: everything that
 * needs the whole definition (the step graph, expressions and what they read, JSON Schemas,
 * registered plugins, the error codes `retry_on` names, size). The checks of one step type live
 * with its kind (`check` in `steps/<type>.ts`); the ones here are shared by every step.
 *
 * Contract:
 * - the input has passed the `WorkflowDefinition` schema (the checks rely on its types);
 * - every problem is reported, not the first one, each with a JSON Pointer (RFC 6901) into the
 *   definition and a stable UPPER_SNAKE `code`; an empty list means the definition is accepted;
 * - problems are sorted by path (numeric segments numerically), then in discovery order;
 * - pure and deterministic: no I/O, the definition is not mutated.
 *
 * Expression context rules checked here (the scheduler relies on them):
 * - a step's expressions (`if`, `expression`, every `{{ }}` in its other strings) may read
 *   `steps.<id>` only for steps it needs directly or transitively, so the value exists when the
 *   step runs; the workflow `output` may read any step; `concurrency.key` (evaluated at start)
 *   none. A map's sub-step has the map step's upstream;
 * - `secrets.*` may only appear in the `request` of an http step or the `prompt` / `system` of
 *   an llm step (the only places they are resolved; elsewhere they would silently be undefined).
 */
import type { MapStep, MapSubStep, Step, WorkflowDefinition } from "../schemas/definition";
import { canonicalJson } from "./canonical-json";
import { findCycles, upstreamOf } from "./graph";
import { parseExpression, parseTemplate, referencedRoots } from "./expressions";
import type { ExpressionReferences } from "./expressions";
import { ERROR_CODES } from "./errors";
import { checkJsonSchema } from "./json-schema-check";
import { MAX_DEFINITION_BYTES } from "../schemas/limits";
import type { DefinitionProblem, DefinitionProblemCode } from "./definition-problems";
import { kindOf } from "./steps/registry";
import type { StepCheckContext, StepPath, TemplateKind } from "./steps/types";

export type { DefinitionProblem, DefinitionProblemCode };

export interface ValidateDefinitionOptions {
  /** Registered plugin names; when omitted, `plugin` names are not checked. */
  plugins?: readonly string[];
  /**
   * The error codes `retry_on` may name: the engine's (`ERROR_CODES`, the default) plus those the
   * registered plugins declare. A code nothing emits would silently never match.
   */
  errorCodes?: readonly string[];
}

/** What the expressions at one place may read of `steps`. */
type Scope =
  | { kind: "step"; stepId: string; upstream: ReadonlySet<string> }
  | { kind: "output" }
  | { kind: "start"; what: string };

interface Context {
  readonly declared: ReadonlySet<string>;
  readonly problems: DefinitionProblem[];
  readonly options: ValidateDefinitionOptions;
}

export function validateDefinition(definition: WorkflowDefinition, options: ValidateDefinitionOptions = {}): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const declared = new Set(definition.steps.map((step) => step.id));
  const ctx: Context = { declared, problems, options };

  checkSize(definition, ctx);
  checkGraph(definition, ctx);

  const upstream = upstreamOf(definition.steps);
  definition.steps.forEach((step, i) => {
    const scope: Scope = { kind: "step", stepId: step.id, upstream: upstream.get(step.id) ?? new Set() };
    checkStep(step, `/steps/${i}`, scope, ctx);
  });

  if (definition.output !== undefined) {
    checkExpression(definition.output, "/output", { kind: "output" }, false, ctx);
  }
  if (definition.concurrency) {
    checkTemplates(definition.concurrency.key, "/concurrency/key", { kind: "start", what: "concurrency.key" }, false, ctx);
  }
  if (definition.input_schema !== undefined) {
    for (const issue of checkJsonSchema(definition.input_schema)) {
      add(ctx, `/input_schema${issue.pointer}`, "INVALID_INPUT_SCHEMA", `input_schema is not a usable JSON Schema: ${issue.message}`);
    }
  }
  checkWorkflowApproval(definition, ctx);

  return sortProblems(dedupe(problems));
}

function add(ctx: Context, path: string, code: DefinitionProblemCode, message: string): void {
  ctx.problems.push({ path, code, message });
}

// ---------------------------------------------------------------------------------------------
// Size and graph

function checkSize(definition: WorkflowDefinition, ctx: Context): void {
  const bytes = new TextEncoder().encode(canonicalJson(definition)).length;
  if (bytes > MAX_DEFINITION_BYTES) {
    add(ctx, "", "DEFINITION_TOO_LARGE", `the definition is ${bytes} bytes (canonical JSON); the limit is ${MAX_DEFINITION_BYTES}`);
  }
}

function checkGraph(definition: WorkflowDefinition, ctx: Context): void {
  const firstIndex = new Map<string, number>();
  definition.steps.forEach((step, i) => {
    const first = firstIndex.get(step.id);
    if (first === undefined) firstIndex.set(step.id, i);
    else add(ctx, `/steps/${i}/id`, "DUPLICATE_STEP_ID", `step id '${step.id}' is already used by /steps/${first}`);
  });

  definition.steps.forEach((step, i) => {
    (step.needs ?? []).forEach((need, j) => {
      const at = `/steps/${i}/needs/${j}`;
      if (need === step.id) add(ctx, at, "SELF_DEPENDENCY", `step '${step.id}' needs itself`);
      else if (!ctx.declared.has(need)) {
        add(ctx, at, "UNKNOWN_STEP", `step '${step.id}' needs '${need}', which is not a step of this workflow${suggestion(need, ctx.declared)}`);
      }
    });
  });

  // Self-needs are reported above; leaving them out keeps them from being reported twice.
  const withoutSelf = definition.steps.map((step) => ({ id: step.id, needs: (step.needs ?? []).filter((n) => n !== step.id) }));
  for (const cycle of findCycles(withoutSelf)) {
    // Reported at the `needs` entry that leads from the cycle's first step to the second one.
    const [from, to] = [cycle[0] as string, (cycle[1] ?? cycle[0]) as string];
    const index = definition.steps.findIndex((step) => step.id === from && (step.needs ?? []).includes(to));
    const needIndex = definition.steps[index]?.needs?.indexOf(to) ?? 0;
    // Written in run order (an arrow points from a step to one that needs it), as DAGs are drawn.
    const runOrder = [from, ...cycle.slice(1).reverse(), from];
    add(ctx, `/steps/${index}/needs/${needIndex}`, "CYCLE", `steps form a cycle: ${runOrder.join(" → ")} (each step needs the one before it)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Steps

function checkStep(step: Step | MapSubStep, at: string, scope: Scope, ctx: Context): void {
  if (step.if !== undefined) checkExpression(step.if, `${at}/if`, scope, false, ctx);
  if (step.retry?.retry_on !== undefined) checkRetryOn(step.retry.retry_on, `${at}/retry/retry_on`, ctx);
  if (typeof step.cost_usd === "string") {
    // Evaluated over the step's `output` once an attempt succeeds.
    const kind = checkTemplates(step.cost_usd, `${at}/cost_usd`, scope, false, ctx);
    if (kind === "literal" || kind === "interpolated") {
      add(ctx, `${at}/cost_usd`, "INVALID_COST", `cost_usd must be a number or a string that is exactly one {{ expression }} (e.g. "{{ output.body.cost }}")`);
    }
  }

  // A map's sub-step is a step of its own, checked here in the map's scope; every other type checks itself.
  if (step.type === "map") checkMap(step, at, scope, ctx);
  else kindOf(step.type)?.check?.(step, stepCheckContext(at, scope, ctx));
}

/** What a kind's `check` sees: the helpers below, bound to the step's place and scope. */
function stepCheckContext(at: string, scope: Scope, ctx: Context): StepCheckContext {
  const pointer = (path: StepPath) => at + path.map((segment) => `/${escapePointer(String(segment))}`).join("");
  return {
    plugins: ctx.options.plugins,
    problem: (path, code, message) => add(ctx, pointer(path), code, message),
    expression: (source, path) => checkExpression(source, pointer(path), scope, false, ctx),
    template: (text, path, options) => checkTemplates(text, pointer(path), scope, options?.secrets ?? false, ctx),
    templates: (value, path, options) => walkTemplates(value, pointer(path), scope, options?.secrets ?? false, ctx),
    suggestion,
  };
}

function checkRetryOn(codes: readonly string[], at: string, ctx: Context): void {
  const known = ctx.options.errorCodes ?? ERROR_CODES;
  codes.forEach((code, j) => {
    if (known.includes(code)) return;
    // A misspelling, or a part of the real name (`TIMEOUT` for `STEP_TIMEOUT`).
    const part = known.find((k) => k.endsWith(`_${code}`) || k.startsWith(`${code}_`));
    const hint = suggestion(code, known) || (part !== undefined ? ` (did you mean '${part}'?)` : "");
    add(ctx, `${at}/${j}`, "UNKNOWN_ERROR_CODE", `retry_on names '${code}', which no step error has${hint}; the codes are: ${known.join(", ")}`);
  });
}

function checkMap(step: MapStep, at: string, scope: Scope, ctx: Context): void {
  if (typeof step.items === "string") {
    const kind = checkTemplates(step.items, `${at}/items`, scope, false, ctx);
    if (kind === "literal" || kind === "interpolated") {
      add(ctx, `${at}/items`, "INVALID_MAP_ITEMS", `items must be a list or a string that is exactly one {{ expression }} (e.g. "{{ input.targets }}")`);
    }
  } else {
    walkTemplates(step.items, `${at}/items`, scope, false, ctx);
  }
  if (step.step.needs !== undefined) {
    add(ctx, `${at}/step/needs`, "MAP_STEP_NEEDS", `the sub-step of map '${step.id}' runs once per item and cannot have needs; put them on the map step`);
  }
  // The sub-step runs inside the map step: same upstream, same secrets rules.
  checkStep(step.step, `${at}/step`, scope, ctx);
}

function checkWorkflowApproval(definition: WorkflowDefinition, ctx: Context): void {
  const approval = definition.approval;
  if (!approval) return;
  if (approval.level === 0) {
    for (const key of ["expires_in_seconds", "on_expiry"] as const) {
      if (approval[key] !== undefined) {
        add(ctx, `/approval/${key}`, "INVALID_APPROVAL", `${key} has no effect: approval level 0 asks for no approval`);
      }
    }
  } else if (approval.on_expiry === "approve" && approval.level >= 2) {
    add(
      ctx,
      "/approval/on_expiry",
      "INVALID_APPROVAL",
      `on_expiry 'approve' is only allowed at level 1: a plan review (level 2) or a per-step approval (level 3) must be given by a person`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions and templates

/** Checks a raw JSONata expression (`if`, `expression`, `output`). */
function checkExpression(source: string, at: string, scope: Scope, secretsAllowed: boolean, ctx: Context): void {
  const parsed = parseExpression(source);
  if (!parsed.ok) {
    add(ctx, at, "EXPRESSION_SYNTAX", `invalid JSONata expression: ${parsed.message}${positionText(parsed.position)}`);
    return;
  }
  checkReferences(referencedRoots(parsed.ast), at, scope, secretsAllowed, ctx);
}

/**
 * Checks every `{{ }}` of a templated string. Returns what the string is: `literal` (no `{{ }}`),
 * `exact` (one `{{ expr }}` and nothing else), `interpolated`, or `error` (already reported).
 */
function checkTemplates(
  text: string,
  at: string,
  scope: Scope,
  secretsAllowed: boolean,
  ctx: Context,
): TemplateKind {
  const template = parseTemplate(text);
  if (!template.ok) {
    add(ctx, at, "EXPRESSION_SYNTAX", `invalid template: ${template.message} (at position ${template.position})`);
    return "error";
  }
  let failed = false;
  for (const segment of template.segments) {
    if (segment.kind !== "expression") continue;
    const parsed = parseExpression(segment.source);
    if (!parsed.ok) {
      failed = true;
      const position = parsed.position === undefined ? undefined : segment.offset + parsed.position;
      add(ctx, at, "EXPRESSION_SYNTAX", `invalid JSONata in {{ }}: ${parsed.message}${positionText(position)}`);
      continue;
    }
    checkReferences(referencedRoots(parsed.ast), at, scope, secretsAllowed, ctx);
  }
  if (failed) return "error";
  if (!template.hasExpressions) return "literal";
  return template.exact ? "exact" : "interpolated";
}

/** Checks the templates in every string of a JSON value (object keys are not templated). */
function walkTemplates(value: unknown, at: string, scope: Scope, secretsAllowed: boolean, ctx: Context): void {
  if (typeof value === "string") checkTemplates(value, at, scope, secretsAllowed, ctx);
  else if (Array.isArray(value)) value.forEach((item, i) => walkTemplates(item, `${at}/${i}`, scope, secretsAllowed, ctx));
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) walkTemplates(item, `${at}/${escapePointer(key)}`, scope, secretsAllowed, ctx);
  }
}

function checkReferences(refs: ExpressionReferences, at: string, scope: Scope, secretsAllowed: boolean, ctx: Context): void {
  for (const { id } of refs.steps) {
    if (!ctx.declared.has(id)) {
      add(ctx, at, "UNKNOWN_STEP", `reads steps.${id}, but no step has id '${id}'${suggestion(id, ctx.declared)}`);
    } else if (scope.kind === "start") {
      add(ctx, at, "NOT_UPSTREAM", `${scope.what} is evaluated when the execution starts, before any step runs, so it cannot read steps.${id}`);
    } else if (scope.kind === "step" && id === scope.stepId) {
      add(ctx, at, "NOT_UPSTREAM", `step '${scope.stepId}' reads steps.${id}, its own result, which does not exist while it runs`);
    } else if (scope.kind === "step" && !scope.upstream.has(id)) {
      add(ctx, at, "NOT_UPSTREAM", `step '${scope.stepId}' reads steps.${id} but does not need it (directly or transitively); add '${id}' to its needs`);
    }
  }
  if (refs.readsSecrets && !secretsAllowed) {
    const names = refs.secrets.length > 0 ? refs.secrets.map((name) => `secrets.${name}`).join(", ") : "secrets";
    add(
      ctx,
      at,
      "SECRET_NOT_ALLOWED",
      `reads ${names}: secrets may only be used in the request of an http step or the prompt/system of an llm step`,
    );
  }
}

function positionText(position: number | undefined): string {
  return position === undefined ? "" : ` (at position ${position})`;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function escapePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** ` (did you mean 'fetch'?)` when one candidate is close enough to be the intended name. */
function suggestion(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return "";
  const allowed = Math.max(1, Math.floor(Math.max(name.length, best.length) / 3));
  return bestDistance <= allowed && bestDistance < Math.min(name.length, best.length) ? ` (did you mean '${best}'?)` : "";
}

/** Levenshtein distance, with adjacent transpositions counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      d[i * cols + j] = value;
    }
  }
  return at(a.length, b.length);
}

function dedupe(problems: DefinitionProblem[]): DefinitionProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.path}\u0000${problem.code}\u0000${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** By path, segment by segment, numeric segments as numbers (`/steps/2` before `/steps/10`); stable. */
function sortProblems(problems: DefinitionProblem[]): DefinitionProblem[] {
  return [...problems].sort((a, b) => comparePointers(a.path, b.path));
}

function comparePointers(a: string, b: string): number {
  const left = a.split("/");
  const right = b.split("/");
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i] as string;
    const y = right[i] as string;
    if (x === y) continue;
    const numeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    if (numeric) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return left.length - right.length;
}
