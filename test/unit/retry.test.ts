import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, MAX_RETRY_INTERVAL_MS } from "../../src/schemas/limits";
import {
  APPROVAL_EXPIRY_SECONDS,
  executionTimeoutMs,
  NO_SLA_DEFAULTS,
  resolveRetryPolicy,
  retryDelayMs,
  shouldRetry,
  SLA_DEFAULTS,
  stepTimeoutMs,
} from "../../src/engine/retry";
import type { ResolvedRetryPolicy } from "../../src/engine/retry";

/** mulberry32: a small seeded PRNG, so jitter bounds are checked over a reproducible sequence. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const noRandom = (): number => {
  throw new Error("random must not be called without jitter");
};

const policy = (p: Partial<ResolvedRetryPolicy>): ResolvedRetryPolicy => ({
  max_attempts: 5,
  backoff: "exponential",
  initial_interval_ms: 1_000,
  max_interval_ms: 300_000,
  jitter: false,
  retry_on: null,
  ...p,
});

describe("retryDelayMs without jitter", () => {
  it("constant: every wait is the initial interval", () => {
    const p = policy({ backoff: "constant", initial_interval_ms: 750 });
    expect([1, 2, 3, 10, 50].map((k) => retryDelayMs(p, k, noRandom))).toEqual([750, 750, 750, 750, 750]);
  });

  it("exponential: initial · 2^(k−1), capped by max_interval_ms", () => {
    const p = policy({ initial_interval_ms: 500, max_interval_ms: 10_000 });
    expect([1, 2, 3, 4, 5, 6, 7].map((k) => retryDelayMs(p, k, noRandom))).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });

  it("does not overflow for large attempt numbers", () => {
    const p = policy({ initial_interval_ms: 1_000, max_interval_ms: MAX_RETRY_INTERVAL_MS });
    expect(retryDelayMs(p, 100, noRandom)).toBe(MAX_RETRY_INTERVAL_MS);
    expect(retryDelayMs(p, 5_000, noRandom)).toBe(MAX_RETRY_INTERVAL_MS);
  });

  it("treats an attempt number below 1 as the first", () => {
    expect(retryDelayMs(policy({ initial_interval_ms: 300 }), 0, noRandom)).toBe(300);
  });

  it("zero interval means retry at once", () => {
    expect(retryDelayMs(policy({ initial_interval_ms: 0, max_interval_ms: 0 }), 3, noRandom)).toBe(0);
  });
});

describe("retryDelayMs with full jitter", () => {
  it("maps random 0 to 0 and random → 1 to the computed interval", () => {
    const p = policy({ initial_interval_ms: 1_000, jitter: true });
    expect(retryDelayMs(p, 3, () => 0)).toBe(0);
    expect(retryDelayMs(p, 3, () => 0.999_999_9)).toBe(4_000);
    expect(retryDelayMs(p, 3, () => 0.5)).toBe(2_000); // floor(0.5 · 4001)
    expect(retryDelayMs(p, 1, () => 0.25)).toBe(250); // floor(0.25 · 1001)
  });

  it("stays in [0, computed] over a seeded sequence and spreads over the range", () => {
    const p = policy({ initial_interval_ms: 200, max_interval_ms: 5_000, jitter: true });
    const random = seeded(42);
    for (let k = 1; k <= 8; k++) {
      const cap = Math.min(200 * 2 ** (k - 1), 5_000);
      const samples = Array.from({ length: 500 }, () => retryDelayMs(p, k, random));
      for (const d of samples) {
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(cap);
      }
      // Uniform: both halves of the range are hit, and the mean is near cap/2.
      expect(samples.some((d) => d < cap / 4)).toBe(true);
      expect(samples.some((d) => d > (3 * cap) / 4)).toBe(true);
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      expect(mean).toBeGreaterThan(cap * 0.4);
      expect(mean).toBeLessThan(cap * 0.6);
    }
  });

  it("jitters constant backoff within [0, initial]", () => {
    const p = policy({ backoff: "constant", initial_interval_ms: 800, jitter: true });
    const random = seeded(7);
    for (let i = 0; i < 200; i++) {
      const d = retryDelayMs(p, 4, random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  it("calls random exactly once per delay", () => {
    let calls = 0;
    retryDelayMs(policy({ jitter: true }), 2, () => {
      calls++;
      return 0.3;
    });
    expect(calls).toBe(1);
  });
});

describe("retryDelayMs with Retry-After", () => {
  it("is a floor over the computed (and jittered) wait", () => {
    const p = policy({ initial_interval_ms: 1_000 });
    expect(retryDelayMs(p, 1, noRandom, 5_000)).toBe(5_000);
    expect(retryDelayMs(p, 4, noRandom, 5_000)).toBe(8_000); // computed is longer
    expect(retryDelayMs(policy({ jitter: true }), 1, () => 0, 2_500)).toBe(2_500);
    expect(retryDelayMs(p, 1, noRandom, 1_500.2)).toBe(1_501);
  });

  it("wins over max_interval_ms but not over MAX_RETRY_INTERVAL_MS", () => {
    const p = policy({ initial_interval_ms: 100, max_interval_ms: 1_000 });
    expect(retryDelayMs(p, 1, noRandom, 60_000)).toBe(60_000);
    expect(retryDelayMs(p, 1, noRandom, MAX_RETRY_INTERVAL_MS * 3)).toBe(MAX_RETRY_INTERVAL_MS);
  });

  it("ignores nonsense values", () => {
    const p = policy({ initial_interval_ms: 1_000 });
    expect(retryDelayMs(p, 1, noRandom, -5)).toBe(1_000);
    expect(retryDelayMs(p, 1, noRandom, Number.NaN)).toBe(1_000);
    expect(retryDelayMs(p, 1, noRandom, Number.POSITIVE_INFINITY)).toBe(1_000);
  });
});

describe("shouldRetry", () => {
  const transient = { code: "NETWORK_ERROR", retryable: true };

  it("retries a retryable error while attempts remain", () => {
    const p = policy({ max_attempts: 3 });
    expect(shouldRetry(p, transient, 1)).toBe(true);
    expect(shouldRetry(p, transient, 2)).toBe(true);
    expect(shouldRetry(p, transient, 3)).toBe(false);
    expect(shouldRetry(p, transient, 4)).toBe(false);
  });

  it("never retries with max_attempts 1", () => {
    expect(shouldRetry(policy({ max_attempts: 1 }), transient, 1)).toBe(false);
  });

  it("never retries a non-retryable error, even when retry_on names its code", () => {
    expect(shouldRetry(policy({}), { code: "EXPRESSION_ERROR", retryable: false }, 1)).toBe(false);
    expect(shouldRetry(policy({ retry_on: ["SSRF_BLOCKED"] }), { code: "SSRF_BLOCKED", retryable: false }, 1)).toBe(false);
  });

  it("with retry_on, retries only the listed codes", () => {
    const p = policy({ retry_on: ["STEP_TIMEOUT", "HTTP_STATUS"] });
    expect(shouldRetry(p, { code: "HTTP_STATUS", retryable: true }, 1)).toBe(true);
    expect(shouldRetry(p, { code: "STEP_TIMEOUT", retryable: true }, 2)).toBe(true);
    expect(shouldRetry(p, transient, 1)).toBe(false);
  });
});

describe("resolveRetryPolicy", () => {
  it("fills the fields a policy leaves out from DEFAULT_RETRY_POLICY", () => {
    expect(resolveRetryPolicy({ max_attempts: 4 })).toEqual({
      max_attempts: 4,
      backoff: "exponential",
      initial_interval_ms: 1_000,
      max_interval_ms: 300_000,
      jitter: true,
      retry_on: null,
    });
    expect(DEFAULT_RETRY_POLICY).toEqual({ backoff: "exponential", initial_interval_ms: 1_000, max_interval_ms: 300_000, jitter: true });
  });

  it("keeps every field the policy sets, whatever the sla class", () => {
    const retry = {
      max_attempts: 2,
      backoff: "constant",
      initial_interval_ms: 50,
      max_interval_ms: 60,
      jitter: false,
      retry_on: ["STEP_TIMEOUT"],
    } as const;
    expect(resolveRetryPolicy({ ...retry, retry_on: [...retry.retry_on] }, "long")).toEqual({ ...retry, retry_on: ["STEP_TIMEOUT"] });
  });

  it("raises the default cap to an initial interval above it", () => {
    expect(resolveRetryPolicy({ max_attempts: 2, initial_interval_ms: 600_000 }).max_interval_ms).toBe(600_000);
  });

  it("without a policy: one attempt, or the class's attempts when an sla class is set", () => {
    expect(resolveRetryPolicy(undefined).max_attempts).toBe(1);
    expect(resolveRetryPolicy(undefined, "fast").max_attempts).toBe(3);
    expect(resolveRetryPolicy(undefined, "medium").max_attempts).toBe(5);
    expect(resolveRetryPolicy(undefined, "long")).toEqual({
      max_attempts: 10,
      backoff: "exponential",
      initial_interval_ms: 1_000,
      max_interval_ms: 300_000,
      jitter: true,
      retry_on: null,
    });
  });
});

describe("SLA defaults and timeouts", () => {
  it("has the documented numbers", () => {
    expect(SLA_DEFAULTS).toEqual({
      fast: { step_timeout_seconds: 30, execution_timeout_seconds: 300, max_attempts: 3 },
      medium: { step_timeout_seconds: 300, execution_timeout_seconds: 3_600, max_attempts: 5 },
      long: { step_timeout_seconds: 3_600, execution_timeout_seconds: 86_400, max_attempts: 10 },
    });
    expect(NO_SLA_DEFAULTS).toEqual({ step_timeout_seconds: 300, execution_timeout_seconds: 86_400, max_attempts: 1 });
    expect(APPROVAL_EXPIRY_SECONDS).toEqual({ 1: 300, 2: 900, 3: 1_800 });
  });

  it("stepTimeoutMs: explicit, then the class, then the unclassed default", () => {
    expect(stepTimeoutMs({ type: "http", timeout_seconds: 10 }, "long")).toBe(10_000);
    expect(stepTimeoutMs({ type: "http" }, "fast")).toBe(30_000);
    expect(stepTimeoutMs({ type: "transform" }, "medium")).toBe(300_000);
    expect(stepTimeoutMs({ type: "plugin" }, "long")).toBe(3_600_000);
    expect(stepTimeoutMs({ type: "llm" })).toBe(300_000);
  });

  it("stepTimeoutMs: approvals wait for the approval expiry; sleeps, inputs, maps and children have none of their own", () => {
    expect(stepTimeoutMs({ type: "approval" }, "fast")).toBe(300_000);
    expect(stepTimeoutMs({ type: "approval", level: 2 }, "fast")).toBe(900_000);
    expect(stepTimeoutMs({ type: "approval", level: 2 }, "fast", { expires_in_seconds: 60 })).toBe(60_000);
    expect(stepTimeoutMs({ type: "approval", timeout_seconds: 5 }, undefined, { expires_in_seconds: 60 })).toBe(5_000);
    for (const type of ["wait", "input", "map", "workflow"] as const) {
      expect(stepTimeoutMs({ type }, "fast")).toBeNull();
    }
    expect(stepTimeoutMs({ type: "input", timeout_seconds: 120 })).toBe(120_000);
  });

  it("executionTimeoutMs: explicit, then the class, then 24 hours", () => {
    expect(executionTimeoutMs({ timeout_seconds: 90, sla_class: "fast" })).toBe(90_000);
    expect(executionTimeoutMs({ sla_class: "fast" })).toBe(300_000);
    expect(executionTimeoutMs({ sla_class: "medium" })).toBe(3_600_000);
    expect(executionTimeoutMs({ sla_class: "long" })).toBe(86_400_000);
    expect(executionTimeoutMs({})).toBe(86_400_000);
  });
});
