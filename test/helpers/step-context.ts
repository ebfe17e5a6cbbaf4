/**
 * Step kinds run directly with a real StepContext. Its `fetch` is the real global fetch:
 * vitest.config.ts routes every outbound request of this Worker to the local upstream worker
 * (test/upstream/worker.mjs), so nothing can leave the machine.
 */
import { env } from "cloudflare:workers";
import type { Step } from "../../src/schemas/definition";
import { NO_BUDGET } from "../../src/engine/budget";
import { StepError } from "../../src/engine/errors";
import { kindOf } from "../../src/engine/steps/registry";
import type { ExpressionScope, SecretResolver, StepContext, StepOutcome } from "../../src/engine/steps/types";
import { UsageMeter } from "../../src/engine/usage";

export const TOKEN = "tok-SECRET-4f1c9a";
export const API_KEY = "key-SECRET-77b2";

export const scope: ExpressionScope = {
  input: { invoice_id: "inv-42", amount: 1200, when: "2030-01-02T03:04:05Z" },
  steps: { fetch: { status: "completed", output: { body: { lines: [{ amount: 10 }, { amount: 32 }] } } } },
  execution: { id: "ex-1", workflow_id: "wf", workflow_version: 1, attempt: 1, started_at: "2026-01-01T00:00:00.000Z" },
};

function secretResolver(values: Record<string, string>): SecretResolver {
  const used = new Set<string>();
  return {
    used,
    get(name) {
      const value = Object.hasOwn(values, name) ? values[name] : undefined;
      if (value !== undefined) used.add(value);
      return value;
    },
  };
}

export function context(overrides: Partial<StepContext> = {}): StepContext {
  return {
    executionId: `ex-${crypto.randomUUID()}`,
    stepId: "call",
    attempt: 1,
    scope,
    signal: new AbortController().signal,
    // The global fetch itself, as the Durable Object passes it (the runner calls it detached).
    fetch,
    secrets: secretResolver({ TOKEN, API_KEY }),
    allowedPrivateHosts: env.ALLOWED_PRIVATE_HOSTS.split(","),
    now: () => Date.now(),
    deadlineAt: null,
    llm: { baseUrl: env.LLM_BASE_URL, apiKey: env.LLM_API_KEY, ai: undefined, defaultMaxTokens: 1024 },
    usage: new UsageMeter({}),
    budget: NO_BUDGET,
    callbackUrl: async () => "/v1/callbacks/test-token",
    children: { prepare: async () => Promise.reject(new Error("no children in this test")) },
    ...overrides,
  };
}

export async function run(step: Step, ctx: StepContext = context()): Promise<StepOutcome> {
  const kind = kindOf(step.type);
  if (!kind) throw new Error(`no kind for ${step.type}`);
  return kind.run(step, ctx);
}

export async function failure(step: Step, ctx: StepContext = context()): Promise<StepError> {
  try {
    await run(step, ctx);
  } catch (error) {
    if (error instanceof StepError) return error;
    throw error;
  }
  throw new Error(`step ${step.id} did not fail`);
}

