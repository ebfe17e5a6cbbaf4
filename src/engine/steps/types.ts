/**
 * The contract of a step kind: everything the service knows about one step `type` lives in one
 * file, `./<type>.ts`, which exports a `StepKind`, listed by one line in `./registry.ts`.
 *
 * Kinds are pure with respect to storage: `run` gets everything through `StepContext` and
 * returns a `StepOutcome`; the Durable Object persists the outcome, schedules timers and emits
 * events. `check` reports problems through `StepCheckContext`; it never throws.
 */
import type { InputQuestion, Step, StepType } from "../../schemas/definition";
import type { CreateExecutionArgs } from "../../schemas/execution-rpc";
import type { AnswersCheck } from "../answers";
import type { DefinitionProblemCode } from "../definition-problems";
import type { UsageMeter } from "../usage";

/** What expressions see: `{ input, steps: { <id>: { output, status } }, execution }`. */
export interface ExpressionScope {
  input: unknown;
  steps: Record<string, { output: unknown; status: string }>;
  execution: { id: string; workflow_id: string; workflow_version: number; attempt: number; started_at: string | null };
}

/**
 * Secret access for one attempt. `get` resolves `secrets.NAME` (the Worker secret `SECRET_NAME`)
 * and remembers every value it handed out, so the caller can mask them (`***`) in whatever it
 * records: outputs, errors, events, logs.
 */
export interface SecretResolver {
  get(name: string): string | undefined;
  /** Values resolved so far in this attempt. */
  readonly used: ReadonlySet<string>;
}

export interface StepContext {
  executionId: string;
  stepId: string;
  /** 1-based attempt number of this run of the step. */
  attempt: number;
  scope: ExpressionScope;
  /** Aborted on step timeout, cancel, or execution timeout. */
  signal: AbortSignal;
  /** Outbound HTTP (the global fetch in production; tests route it to a local upstream). */
  fetch: typeof fetch;
  secrets: SecretResolver;
  /** `host:port` pairs allowed although private/loopback (ALLOWED_PRIVATE_HOSTS). */
  allowedPrivateHosts: readonly string[];
  now: () => number;
  /** When the attempt times out (epoch ms); null: no limit of its own. Lets a kind share it among its calls. */
  deadlineAt: number | null;
  /** Where llm calls go (SPEC §7). */
  llm: LlmEndpoint;
  /** The attempt's usage: every model call it makes is recorded here, priced from the execution's prices. */
  usage: UsageMeter;
  /** The budgets the attempt's costed calls reserve against (SPEC §7). */
  budget: BudgetGuard;
  /**
   * A one-use URL that delivers this attempt's signal without an API key (event steps), valid for
   * `timeoutSeconds` (undefined: until the execution's deadline).
   */
  callbackUrl(timeoutSeconds: number | undefined): Promise<string>;
  /** Child executions of `workflow` steps (see `ChildStarter`). */
  children: ChildStarter;
}

/** What a `workflow` step asks of the Durable Object to start a child. */
export interface ChildRequest {
  workflowId: string;
  /** Absent: the version pinned when the parent started. */
  version: number | undefined;
  input: unknown;
  parentClose: "cancel" | "abandon";
}

/**
 * Prepares a child's start for this attempt: its id (derived from the parent, the step and the
 * attempt), the pinned definition, its prices and budgets. Throws a StepError when the child cannot
 * start: `MAX_DEPTH`, `WORKFLOW_NOT_FOUND`, `CHILD_INPUT_INVALID` (not retried), or a retryable
 * error when the registry cannot be read.
 */
export interface ChildStarter {
  prepare(request: ChildRequest): Promise<CreateExecutionArgs>;
}

/**
 * Reservations of one attempt against every budget that applies. A kind reserves a call's maximum
 * cost before it makes the call and says what the call cost after; the runtime settles them when
 * the attempt ends.
 */
export interface BudgetGuard {
  /** True when any budget applies: an unpriced model is then refused (`PRICE_UNKNOWN`). */
  readonly active: boolean;
  /** Reserves up to `usd`; throws `BudgetShortfall` (engine/budget.ts) when it does not fit and the budget pauses or fails. */
  reserve(usd: number): Promise<Reservation>;
}

export interface Reservation {
  /** What the call actually cost (null: unknown — nothing was recorded for it, so nothing is spent). */
  settle(actualUsd: number | null): void;
}

/** The Workers AI binding, as llm steps use it (`env.AI.run`). */
export interface WorkersAi {
  run(model: string, inputs: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<unknown>;
}

/** Where llm calls go: an OpenAI-compatible endpoint, and Workers AI for `@cf/…` models. */
export interface LlmEndpoint {
  /** `{baseUrl}/chat/completions`; "" when none is configured. */
  baseUrl: string;
  apiKey: string | undefined;
  ai: WorkersAi | undefined;
  /** What an llm step without `max_tokens` is reserved for under a budget (LLM_DEFAULT_MAX_TOKENS). */
  defaultMaxTokens: number;
}

export type StepOutcome =
  | { kind: "completed"; output: unknown }
  /** The step sleeps until `until` (epoch ms), then completes with `output` (wait steps). */
  | { kind: "sleep"; until: number; output: unknown }
  /** The step waits for people to answer these questions (input steps). */
  | { kind: "ask"; questions: InputQuestion[] }
  /** The step waits for an approver's decision at `level`; `comment` is what they are shown (approval steps). */
  | { kind: "approval"; level: 1 | 2; comment?: string }
  /** The step waits for a signal named `event` (event steps). */
  | { kind: "event"; event: string; callbackUrl: string }
  /** The step starts a child execution and waits for its end (workflow steps). */
  | { kind: "child"; start: CreateExecutionArgs };

/** A path inside the step, as JSON Pointer segments (`["request", "headers", name]`); escaped for you. */
export type StepPath = readonly (string | number)[];

/** What a template string is: no `{{ }}`, exactly one `{{ expr }}`, text around them, or already reported. */
export type TemplateKind = "literal" | "exact" | "interpolated" | "error";

/**
 * What a kind's `check` uses at registration (built by `validate-definition.ts` for each step,
 * map sub-steps included). Paths are relative to the step. The generic checks — ids, needs,
 * cycles, `if`, `retry_on` — are done before `check` is called; `check` adds the type's own.
 */
export interface StepCheckContext {
  /** Registered plugin names; undefined when plugin names are not checked. */
  readonly plugins: readonly string[] | undefined;
  problem(path: StepPath, code: DefinitionProblemCode, message: string): void;
  /** Checks a raw JSONata expression: syntax, and that it reads only upstream steps and no secrets. */
  expression(source: string, path: StepPath): void;
  /**
   * Checks every `{{ }}` of a templated string (as `expression` does; `secrets: true` where
   * `secrets.*` is resolved) and says what the string is.
   */
  template(text: string, path: StepPath, options?: { secrets?: boolean }): TemplateKind;
  /** `template` on every string of a JSON value (object keys are not templated). */
  templates(value: unknown, path: StepPath, options?: { secrets?: boolean }): void;
  /** ` (did you mean 'x'?)` when one candidate is close to `name`, else `""`. */
  suggestion(name: string, candidates: Iterable<string>): string;
}

/** What a kind's default attempt timeout may depend on (see `stepTimeoutMs` in `../retry.ts`). */
export interface TimeoutDefaults {
  /** The step timeout of the workflow's `sla_class` (or the unclassed default), in ms. */
  readonly classStepMs: number;
  /** How long an approval waits at `level` when nothing else says, in ms (the workflow's expiry, else the level's default). */
  approvalExpiryMs(level: 1 | 2): number;
}

/** What a side-effecting step would have sent, shown by a dry run; secrets masked. */
export interface WouldSend {
  method: string;
  url: string;
  /** Lowercase names. */
  headers: Record<string, string>;
  /** The body as it would be sent; null without one. */
  body: string | null;
}

/**
 * What a dry run (SPEC §10, `POST /v1/workflows/{id}/test`) records in place of an attempt:
 * nothing leaves the service and no wait lasts. Pure kinds run as usual; side-effecting ones
 * complete with output null and say what they `would_send`; sleeps are fast-forwarded (they
 * complete at once); human waits and event steps ask as usual, and the dry run answers from its
 * request (`approve`, `answers`, `signals`) or fast-forwards the wait to its timeout.
 */
export interface Simulation {
  outcome: StepOutcome;
  would_send?: WouldSend;
}

/** How a step that waits for answers takes them (see `StepKind.answers`). */
export interface StepAnswers<S extends Step = Step> {
  /** Answers sent for the step: accepted (normalised) or the problems found. */
  check(step: S, given: Record<string, unknown>): AnswersCheck;
  /** At its deadline: the answers it completes with (marked `timed_out`), or null: it fails ANSWERS_TIMEOUT. */
  onTimeout(step: S): Record<string, unknown> | null;
}

/**
 * One step type. Adding a type is one file exporting one of these, plus one line in
 * `./registry.ts`. A type without a descriptor registers but cannot run yet.
 */
export interface StepKind<S extends Step = Step> {
  /** Runs one attempt; throws a StepError (see ../errors.ts) on failure. */
  run(step: S, ctx: StepContext): Promise<StepOutcome>;
  /**
   * True when an attempt has no effect outside its output (no I/O, no waiting): it may run before
   * anything is recorded, and its start and end are recorded together. An attempt cut off midway
   * left nothing behind, so running it again is the same as running it once.
   */
  readonly pure?: boolean;
  /**
   * After its attempt the step waits for a person: `answers` (POST …/steps/{id}/answers) or a
   * `decision` (POST …/approval). Its `timeout_seconds` then bounds that wait (a timer), not the attempt.
   */
  readonly waitsFor?: "answers" | "decision" | "signal" | "child";
  /** A kind that waits for `answers`: how answers to it are checked, and what its answers' deadline (its wake timer) decides. */
  readonly answers?: StepAnswers<S>;
  /** A kind that waits for a `signal`: what its deadline (its wake timer) decides — the output it completes with, or null: it fails EVENT_TIMEOUT. */
  readonly signals?: { onTimeout(step: S): unknown };
  /**
   * What `timeout_seconds` defaults to, in ms; null: no limit of its own (bounded by its parts and
   * the execution timeout). Absent: the class's step timeout.
   */
  attemptTimeoutMs?(step: S, defaults: TimeoutDefaults): number | null;
  /** The type's own static checks at registration (see `StepCheckContext`). */
  check?(step: S, ctx: StepCheckContext): void;
  /**
   * What a dry run does instead of `run` (see `Simulation`). Required, so that no new kind can
   * reach the outside world from a dry run by omission. Called by the dry run's driver
   * (`../dry-run.ts`) for every attempt of a step the request does not mock.
   */
  simulate(step: S, ctx: StepContext): Promise<Simulation>;
}

/** The descriptor of each type that runs; the mapped type keeps each kind paired with its own step type. */
export type StepKinds = { [K in StepType]?: StepKind<Extract<Step, { type: K }>> };
