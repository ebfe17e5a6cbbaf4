/**
 * One error hierarchy for the whole API, each class carrying its HTTP status and code. Services,
 * middleware and handlers throw these; `renderProblem` (src/api/problem.ts) is the only place that
 * turns them into responses. They live below `api/` so that services can throw them without
 * importing the API.
 */
import type { FieldError } from "../schemas/errors";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
    /** RFC 9457 extension members (e.g. `current_status` of a 409). */
    readonly extensions?: Record<string, unknown>,
  ) {
    super(detail);
    this.name = new.target.name;
  }
}

export class ValidationError extends ApiError {
  constructor(errors: FieldError[], detail?: string) {
    super(
      400,
      "VALIDATION_FAILED",
      "Validation failed",
      detail ?? `The request has ${errors.length} invalid field${errors.length === 1 ? "" : "s"}.`,
      errors,
    );
  }
}

export class MalformedJsonError extends ApiError {
  constructor() {
    super(400, "MALFORMED_JSON", "Malformed JSON", "The request body is not valid JSON.");
  }
}

export class UnauthorizedError extends ApiError {
  constructor(detail = "Missing or invalid API key.") {
    super(401, "UNAUTHORIZED", "Unauthorized", detail, undefined, { "WWW-Authenticate": 'Bearer realm="stepline"' });
  }
}

export class ForbiddenError extends ApiError {
  constructor(detail: string) {
    super(403, "FORBIDDEN", "Forbidden", detail);
  }
}

export class NotFoundError extends ApiError {
  constructor(code: string, detail: string) {
    super(404, code, "Not found", detail);
  }
}

export class ConflictError extends ApiError {
  constructor(code: string, detail: string, extensions?: Record<string, unknown>) {
    super(409, code, "Conflict", detail, undefined, undefined, extensions);
  }
}

/** An execution is not in a state that allows the request: nothing changed. */
export class InvalidStateError extends ConflictError {
  constructor(action: string, currentStatus: string, allowed: readonly string[]) {
    super("INVALID_STATE", `Cannot ${action} an execution that is ${currentStatus}.`, { current_status: currentStatus, allowed_actions: allowed });
  }
}

export class UnprocessableError extends ApiError {
  constructor(code: string, detail: string, errors?: FieldError[]) {
    super(422, code, "Unprocessable content", detail, errors);
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(limitBytes: number) {
    super(413, "PAYLOAD_TOO_LARGE", "Payload too large", `The request body exceeds ${limitBytes} bytes.`);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  constructor(received: string) {
    super(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      "Unsupported media type",
      `Request bodies must be JSON (Content-Type: application/json); received ${received || "no Content-Type"}.`,
    );
  }
}

export class InternalError extends ApiError {
  constructor() {
    super(500, "INTERNAL_ERROR", "Internal error", "An unexpected error occurred. Quote the request id when reporting it.");
  }
}

/**
 * D1 (the index: keys, workflows, listings) did not answer: a transient outage, not a fault of the
 * request. Reads an execution's own object serves (GET /v1/executions/{id}, its steps and events)
 * go on working meanwhile.
 */
export class IndexUnavailableError extends ApiError {
  constructor(retryAfterSeconds = 2) {
    super(503, "INDEX_UNAVAILABLE", "Index unavailable", "The index database did not answer. Try again in a moment; a start with an Idempotency-Key is safe to repeat.", undefined, {
      "Retry-After": String(retryAfterSeconds),
    });
  }
}

/** `?wait=`: the execution ended `timed_out` while the caller waited (SPEC §4). It exists; read it by `execution_id`. */
export class ExecutionTimedOutError extends ApiError {
  constructor(executionId: string) {
    super(
      504,
      "EXECUTION_TIMED_OUT",
      "Execution timed out",
      `Execution '${executionId}' ended timed_out while the request waited for it.`,
      undefined,
      undefined,
      { execution_id: executionId },
    );
  }
}

export class RateLimitedError extends ApiError {
  constructor(limit: number, retryAfterSeconds: number) {
    super(
      429,
      "RATE_LIMITED",
      "Too many requests",
      `This API key may make ${limit} requests per minute; try again in ${retryAfterSeconds} s.`,
      undefined,
      { "Retry-After": String(retryAfterSeconds) },
      { retry_after_seconds: retryAfterSeconds },
    );
  }
}

export class UpgradeRequiredError extends ApiError {
  constructor() {
    super(426, "UPGRADE_REQUIRED", "Upgrade required", "This route is a WebSocket: send `Upgrade: websocket`.", undefined, { Upgrade: "websocket" });
  }
}
