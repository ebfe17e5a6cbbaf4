/**
 * Errors of steps and executions. Every failure carries a stable UPPER_SNAKE `code` that clients
 * branch on; runners throw these, and the retry policy reads `retryable` / `retryAfterMs`.
 */

/** Stable codes. Runners may add others, always UPPER_SNAKE. */
export const ERROR_CODES = [
  "HTTP_STATUS", // response status not expected (retryable)
  "NETWORK_ERROR", // fetch failed before a response (retryable)
  "RESPONSE_TOO_LARGE",
  "STEP_TIMEOUT", // one attempt ran past timeout_seconds (retryable)
  "EXECUTION_TIMEOUT", // the workflow's timeout_seconds passed
  "SSRF_BLOCKED", // outbound request to a refused address
  "INVALID_URL",
  "TOO_MANY_REDIRECTS",
  "EXPRESSION_ERROR", // JSONata evaluation failed
  "TEMPLATE_ERROR",
  "PLUGIN_ERROR",
  "UNKNOWN_PLUGIN",
  "INTERRUPTED", // the attempt was cut off by an eviction or crash (retryable)
  "CANCELLED",
  "UNSUPPORTED_STEP_TYPE",
  "SECRET_NOT_FOUND",
  "INVALID_REQUEST", // an http step's request cannot be built (GET with a body, bad header)
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

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
