/**
 * Retry timing, step and execution timeouts, and the defaults of each `sla_class` (SPEC §2).
 *
 * Pure: the caller passes `random` (for jitter) and adds delays to its own clock.
 *
 * Decisions:
 * - Attempts without a `retry` policy. A step with its own `retry` uses it (fields it leaves out
 *   come from `DEFAULT_RETRY_POLICY`). A step without one is attempted once when the workflow
 *   sets no `sla_class` — like Step Functions without `Retry`, so a non-idempotent POST is never
 *   repeated unless someone asked for it — and `SLA_DEFAULTS[class].max_attempts` times (with
 *   the default timing) when it does: choosing a service class is asking for its retries. Only
 *   retryable errors are retried either way (network errors, timeouts, unexpected statuses);
 *   non-retriable errors (bad expression, refused address) never are.
 * - Backoff. `constant`: every wait is `initial_interval_ms`. `exponential`: the wait after
 *   failed attempt k is `initial_interval_ms · 2^(k−1)`. Both are capped at `max_interval_ms`.
 *   With `jitter` the wait is uniform in [0, capped] ("full jitter", so the retries of many
 *   executions failing together spread out). A server's `Retry-After` is a floor: the wait is
 *   never shorter, even above `max_interval_ms`, but never above `MAX_RETRY_INTERVAL_MS` (1 day).
 * - Step timeouts. An explicit `timeout_seconds` always wins. Otherwise the step's kind says
 *   (`attemptTimeoutMs` in `steps/<type>.ts`), and a kind that does not say takes the class's step
 *   timeout: `http`, `transform`, `plugin` (and `llm`) do; `approval` waits for the workflow's
 *   approval expiry (`approval.expires_in_seconds`, else 300 s for level 1 and 900 s for level 2);
 *   `wait`, `input` (and `map`, `workflow`) have no step timeout of their own (a sleep is not an
 *   attempt; a human answer, a fan-out and a child execution are bounded by their own parts and by
 *   the execution timeout) and get `null`. The types in brackets have no kind yet (see
 *   `UNTIMED_WITHOUT_KIND`).
 * - Execution timeout without `timeout_seconds` and without `sla_class`: 24 hours, not the
 *   medium class's hour. A workflow whose author chose nothing must not be killed in the middle of
 *   a long sleep or a human wait; the default only bounds forgotten executions. Steps of such a
 *   workflow get the medium step timeout (300 s).
 */
import type { MapSubStep, RetryPolicy, SlaClass, Step, StepType, WorkflowApproval, WorkflowDefinition } from "../schemas/definition";
import { DEFAULT_RETRY_POLICY, MAX_RETRY_INTERVAL_MS } from "../schemas/limits";
import { kindOf } from "./steps/registry";

export interface SlaDefaults {
  /** Limit on one attempt of a step that sets no `timeout_seconds`. */
  readonly step_timeout_seconds: number;
  /** Limit on the whole execution (waits included) when the workflow sets no `timeout_seconds`. */
  readonly execution_timeout_seconds: number;
  /** Attempts of a step without a `retry` policy, the first one included. */
  readonly max_attempts: number;
}

/**
 * - `fast`: interactive work (a user is waiting): 30 s per attempt, 5 minutes in all, 3 attempts.
 * - `medium`: ordinary back-office work: 5 minutes per attempt, 1 hour in all, 5 attempts.
 * - `long`: batch and slow third parties: 1 hour per attempt, 24 hours in all, 10 attempts.
 */
export const SLA_DEFAULTS = {
  fast: { step_timeout_seconds: 30, execution_timeout_seconds: 300, max_attempts: 3 },
  medium: { step_timeout_seconds: 300, execution_timeout_seconds: 3_600, max_attempts: 5 },
  long: { step_timeout_seconds: 3_600, execution_timeout_seconds: 86_400, max_attempts: 10 },
} as const satisfies Record<SlaClass, SlaDefaults>;

/** Defaults of a workflow without `sla_class` (see the module comment for why these numbers). */
export const NO_SLA_DEFAULTS = {
  step_timeout_seconds: 300,
  execution_timeout_seconds: 86_400,
  max_attempts: 1,
} as const satisfies SlaDefaults;

/** How long an approval waits when neither the step nor the workflow says (SPEC §3), by level. */
export const APPROVAL_EXPIRY_SECONDS = { 1: 300, 2: 900, 3: 1_800 } as const;

/** A retry policy with every field decided. */
export interface ResolvedRetryPolicy {
  readonly max_attempts: number;
  readonly backoff: "constant" | "exponential";
  readonly initial_interval_ms: number;
  readonly max_interval_ms: number;
  readonly jitter: boolean;
  /** Error codes that may be retried; null: every retryable error. */
  readonly retry_on: readonly string[] | null;
}

function defaultsFor(slaClass: SlaClass | undefined): SlaDefaults {
  return slaClass === undefined ? NO_SLA_DEFAULTS : SLA_DEFAULTS[slaClass];
}

/** The complete policy of a step: its own `retry` with defaults filled in, or the class's attempts. */
export function resolveRetryPolicy(retry: RetryPolicy | undefined, slaClass?: SlaClass): ResolvedRetryPolicy {
  return {
    max_attempts: retry?.max_attempts ?? defaultsFor(slaClass).max_attempts,
    backoff: retry?.backoff ?? DEFAULT_RETRY_POLICY.backoff,
    initial_interval_ms: retry?.initial_interval_ms ?? DEFAULT_RETRY_POLICY.initial_interval_ms,
    // The schema refuses max < initial only when max is given: an initial above the default cap raises the cap.
    max_interval_ms:
      retry?.max_interval_ms ?? Math.max(DEFAULT_RETRY_POLICY.max_interval_ms, retry?.initial_interval_ms ?? 0),
    jitter: retry?.jitter ?? DEFAULT_RETRY_POLICY.jitter,
    retry_on: retry?.retry_on ?? null,
  };
}

/**
 * Milliseconds to wait after failed attempt `failedAttempt` (1 = the first attempt failed) before
 * the next one. `random` returns a number in [0, 1) (Math.random in production, seeded in tests);
 * it is called once, and only with `jitter`. `retryAfterMs` (e.g. a Retry-After header) is a floor.
 */
export function retryDelayMs(
  policy: Pick<ResolvedRetryPolicy, "backoff" | "initial_interval_ms" | "max_interval_ms" | "jitter">,
  failedAttempt: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  const k = Math.max(1, Math.floor(failedAttempt));
  // 2^(k-1) overflows to Infinity past k = 1024; the cap below makes that harmless.
  const computed = policy.backoff === "constant" ? policy.initial_interval_ms : policy.initial_interval_ms * 2 ** (k - 1);
  const capped = Math.min(computed, policy.max_interval_ms, MAX_RETRY_INTERVAL_MS);
  let delay = capped;
  if (policy.jitter) {
    const r = Math.min(Math.max(random(), 0), 1);
    // Uniform over the integers 0..capped, both ends included.
    delay = Math.min(capped, Math.floor(r * (capped + 1)));
  }
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > delay) {
    delay = Math.ceil(retryAfterMs);
  }
  return Math.min(delay, MAX_RETRY_INTERVAL_MS);
}

/**
 * Whether failed attempt `failedAttempt` (1-based) is followed by another: not when the attempts
 * are used up, not for a non-retryable error, and not for a code outside `retry_on` when it is set.
 */
export function shouldRetry(
  policy: Pick<ResolvedRetryPolicy, "max_attempts" | "retry_on">,
  error: { readonly code: string; readonly retryable: boolean },
  failedAttempt: number,
): boolean {
  if (failedAttempt >= policy.max_attempts) return false;
  if (!error.retryable) return false;
  if (policy.retry_on !== null && !policy.retry_on.includes(error.code)) return false;
  return true;
}

/**
 * Limit on one attempt of `step`, in milliseconds, or null when the step has none of its own
 * (see the module comment). `approval` is the workflow's `approval` block, for approval steps.
 */
export function stepTimeoutMs(
  step: Pick<Step | MapSubStep, "type" | "timeout_seconds"> & { readonly level?: 1 | 2 | undefined },
  slaClass?: SlaClass,
  approval?: Pick<WorkflowApproval, "expires_in_seconds">,
): number | null {
  if (step.timeout_seconds !== undefined) return step.timeout_seconds * 1000;
  const classStepMs = defaultsFor(slaClass).step_timeout_seconds * 1000;
  const kind = kindOf(step.type);
  if (!kind) return UNTIMED_WITHOUT_KIND.has(step.type) ? null : classStepMs;
  if (!kind.attemptTimeoutMs) return classStepMs;
  const defaults = { classStepMs, approvalExpiryMs: (level: 1 | 2) => (approval?.expires_in_seconds ?? APPROVAL_EXPIRY_SECONDS[level]) * 1000 };
  // A kind reads only the fields that decide its timeout (`level`), which `step` carries.
  return kind.attemptTimeoutMs(step as Step, defaults);
}

/** Types without a kind yet whose `timeout_seconds` has no default (a fan-out, a child execution); `llm` takes the class's. */
const UNTIMED_WITHOUT_KIND: ReadonlySet<StepType> = new Set<StepType>(["map", "workflow"]);

/** Limit on the whole execution, waits included, in milliseconds. */
export function executionTimeoutMs(def: Pick<WorkflowDefinition, "timeout_seconds" | "sla_class">): number {
  return (def.timeout_seconds ?? defaultsFor(def.sla_class).execution_timeout_seconds) * 1000;
}
