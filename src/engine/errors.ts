/**
 * Errors of steps and executions. Every failure carries a stable UPPER_SNAKE `code` that clients
 * branch on; runners throw these, and the retry policy reads `retryable` / `retryAfterMs`.
 */

/**
 * Every code the engine gives a failed step attempt or step — what `retry_on` may name (checked at
 * registration, see `validateDefinition`). Keep it true: a test reads the sources of src/engine and
 * src/durable and fails on a step error code that is missing here. Plugins may throw codes of their
 * own; they declare them (`PluginDefinition.errorCodes`) to make them valid in `retry_on` too.
 * Retryable ones are marked; `retry_on` narrows retries to its codes, it never makes a
 * non-retriable error retry. An execution's `error` is its failed step's, or one of
 * `EXECUTION_ERROR_CODES`.
 */
export const ERROR_CODES = [
  "HTTP_STATUS", // response status not expected (retryable for 408, 429 and 5xx)
  "NETWORK_ERROR", // fetch failed before a response (retryable)
  "STEP_TIMEOUT", // one attempt ran past timeout_seconds (retryable)
  "INTERRUPTED", // the attempt was cut off by an eviction or crash (re-attempted whatever retry_on says)
  "RESPONSE_TOO_LARGE",
  "TOO_MANY_REDIRECTS",
  "INVALID_URL",
  "INVALID_REQUEST", // an http step's request cannot be built (GET with a body, bad header)
  "SSRF_BLOCKED", // outbound request to a refused address
  "SECRET_NOT_FOUND",
  "EXPRESSION_ERROR", // JSONata evaluation failed
  "TEMPLATE_ERROR",
  "PLUGIN_ERROR",
  "UNKNOWN_PLUGIN",
  "ANSWERS_TIMEOUT", // an input step's timeout_seconds passed without answers (on_timeout: fail)
  "EVENT_TIMEOUT", // an event step's timeout_seconds passed without its signal (on_timeout: fail)
  "UNSUPPORTED_STEP_TYPE",
  "STEP_ERROR", // a runner threw something that is not a StepError
  "CANCELLED", // the execution was cancelled, rejected, or a sibling failed while the step ran
  "EXECUTION_TIMEOUT", // the execution's timeout_seconds passed while the step ran
  "LLM_NOT_CONFIGURED", // no LLM endpoint for the model (LLM_BASE_URL empty, no AI binding for @cf/)
  "LLM_OUTPUT_INVALID", // the reply is not JSON, or does not match output_schema (retryable)
  "LLM_CONTEXT_LENGTH", // every model tried refused the prompt as too long
  "LLM_BAD_RESPONSE", // the endpoint answered 2xx with something that is not a chat completion (retryable)
  "BUDGET_EXCEEDED", // a costed call's reservation did not fit a budget that fails (not retried)
  "PRICE_UNKNOWN", // an llm call under a budget to a model with no price (not retried)
  "CHILD_FAILED", // a workflow step's child ended failed, timed out, cancelled or rejected (retryable: a retry starts a new child)
  "MAX_DEPTH", // a workflow step would start a child deeper than MAX_DEPTH
  "WORKFLOW_NOT_FOUND", // a workflow step's child workflow (or one it starts) is not registered
  "FEATURE_NOT_AVAILABLE", // a workflow step's child workflow uses a step type this engine cannot run yet
  "CHILD_INPUT_INVALID", // a workflow step's input does not match the child's input_schema (or its concurrency key)
  "REGISTRY_UNAVAILABLE", // the workflow registry could not be read to start a child (retryable)
  "MAP_TOO_LARGE", // a map's items evaluated to more than MAX_MAP_ITEMS
  "MAP_FAILED", // more of a map's items failed than it tolerates
  "MAP_ITEMS_FAILED", // a completed map's error: the item failures it tolerated (the execution ends partial)
] as const;

/** Codes of an execution's `error` that are not a step's. */
export const EXECUTION_ERROR_CODES = [
  "EXECUTION_TIMEOUT", // the workflow's timeout_seconds passed
  "QUEUE_TIMEOUT", // queued longer than its concurrency's queue_ttl_seconds
  "STEP_FAILED", // a step failed without an error of its own
  "APPROVAL_REJECTED",
  "APPROVAL_EXPIRED",
] as const;

/** The error object of a failed step attempt, step or execution, as stored and returned. */
export interface ErrorInfo {
  code: string;
  message: string;
  step_id?: string;
  attempt?: number;
  /** Extra facts for the client (e.g. `{ status: 503 }` for HTTP_STATUS). Never secrets. */
  details?: Record<string, unknown>;
}

export class StepError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  /** When set, the next attempt waits at least this long (e.g. a Retry-After header). */
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, opts: { retryable?: boolean; retryAfterMs?: number; details?: Record<string, unknown> } = {}) {
    super(message);
    this.name = "StepError";
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.retryAfterMs = opts.retryAfterMs;
    this.details = opts.details;
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** A failure that no retry can fix (bad expression, refused address, unknown plugin). */
export class NonRetriableError extends StepError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { retryable: false, details });
    this.name = "NonRetriableError";
  }
}

/** A transient failure: retry, waiting at least `retryAfterMs` when given. */
export class RetryableError extends StepError {
  constructor(code: string, message: string, opts: { retryAfterMs?: number; details?: Record<string, unknown> } = {}) {
    super(code, message, { retryable: true, ...opts });
    this.name = "RetryableError";
  }
}

/** Anything a runner throws, as a StepError (unknown throwables are non-retriable PLUGIN/internal errors). */
export function toStepError(err: unknown, fallbackCode = "STEP_ERROR"): StepError {
  if (err instanceof StepError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StepError(fallbackCode, message, { retryable: false });
}
