/**
 * Static limits and defaults of workflow definitions.
 *
 * One module so the zod schema (what a client may send), the definition validator (what is
 * accepted at registration) and the scheduler (what it assumes at run time) agree on every number.
 * Changing a limit changes the published JSON Schema as well.
 */

/** Most steps one definition may declare (top-level steps; a map's sub-step is not counted). */
export const MAX_STEPS = 250;

/** Largest definition accepted, in UTF-8 bytes of its canonical JSON (see `canonicalJson`). */
export const MAX_DEFINITION_BYTES = 256 * 1024;

/** Most questions one `input` step may ask. */
export const MAX_QUESTIONS = 50;

/** Most items one `map` step may fan out over (literal list or evaluated at run time). */
export const MAX_MAP_ITEMS = 1000;

/**
 * Deepest nesting of child executions (SPEC §9): a root execution is depth 1; a `workflow` step that
 * would start depth MAX_DEPTH + 1 fails `MAX_DEPTH`.
 */
export const MAX_DEPTH = 5;

/** Steps of one execution running at the same time when the definition sets no `parallelism`. */
export const DEFAULT_PARALLELISM = 10;

/** Upper bound of `parallelism` and of a map step's `concurrency`. */
export const MAX_PARALLELISM = 100;

/** Longest `timeout_seconds` of one step (1 day); waits use `wait` steps, not long timeouts. */
export const MAX_STEP_TIMEOUT_SECONDS = 86_400;

/** Longest workflow `timeout_seconds` and longest `wait` (365 days). */
export const MAX_WORKFLOW_TIMEOUT_SECONDS = 31_536_000;

/** Most attempts a retry policy may ask for (the first attempt included). */
export const MAX_RETRY_ATTEMPTS = 100;

/** Longest retry interval, in milliseconds (1 day). */
export const MAX_RETRY_INTERVAL_MS = 86_400_000;

/**
 * What a `retry` policy means for the fields it leaves out. Documented in the schema; the scheduler
 * applies it. Without any `retry` a step is attempted once (unless its `sla_class` says otherwise).
 */
export const DEFAULT_RETRY_POLICY = {
  backoff: "exponential",
  initial_interval_ms: 1_000,
  max_interval_ms: 300_000,
  jitter: true,
} as const;

/** Most fallback models an llm step may name. */
export const MAX_FALLBACK_MODELS = 5;
/** Largest declared cost of one step attempt (`cost_usd`, `max_cost_usd`), in USD. */
export const MAX_STEP_COST_USD = 1_000_000;
/** Largest budget, in USD (an execution's or a shared one). */
export const MAX_BUDGET_USD = 1_000_000;

/** Longest concurrency key, as written and once rendered. */
export const MAX_CONCURRENCY_KEY_LENGTH = 1_024;
/** Most executions one key admits at once. */
export const MAX_CONCURRENCY_LIMIT = 10_000;
/** An execution's priority in its key's queue (SPEC §8): higher first. */
export const MIN_PRIORITY = 1;
export const MAX_PRIORITY = 10;
export const DEFAULT_PRIORITY = 5;
/** Most queued executions GET /v1/concurrency/{key} lists. */
export const MAX_LISTED_QUEUE = 1_000;
