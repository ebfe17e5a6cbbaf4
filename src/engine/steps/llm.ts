/**
 * `llm`: one language-model reply per attempt (SPEC §7).
 *
 * - Provider: models named `@cf/…` go to the Workers AI binding when the deployment has one; every
 *   other model to the OpenAI-compatible endpoint, `POST {LLM_BASE_URL}/chat/completions` with
 *   `Authorization: Bearer {LLM_API_KEY}`. The URL passes the same outbound guard as http steps
 *   (`ALLOWED_PRIVATE_HOSTS` admits a local stand-in). No endpoint for the model: `LLM_NOT_CONFIGURED`.
 * - Request: `{ model, messages: [system?, user], max_tokens?, temperature?, response_format? }`;
 *   `prompt` and `system` are templates (secrets allowed there, masked in whatever is recorded).
 *   With `output_schema`, `response_format` asks for JSON of that schema.
 * - Fallbacks: within one attempt, `model` is tried first, then each of `fallback_models`, moving
 *   on after a 429, a 5xx, a network failure, a timeout, or a context-length refusal. With
 *   fallbacks left, a call gets an equal share of the attempt's remaining time. Any other refusal
 *   (401, 400, 404) ends the attempt at once (non-retriable `HTTP_STATUS`): another model would be
 *   refused the same way. When every model failed, the attempt fails with the last failure:
 *   `HTTP_STATUS` (retryable for 408/429/5xx, honouring `Retry-After`), `NETWORK_ERROR`,
 *   `STEP_TIMEOUT`, or `LLM_CONTEXT_LENGTH` (not retried: the prompt does not shrink).
 * - Usage: every call made is recorded on `ctx.usage` (a refused one with 0 tokens), priced from
 *   the execution's price book. Token counts are the provider's; a reply without them is counted
 *   by `estimateTokens`.
 * - Output: `{ text, json?, model, usage: { input_tokens, output_tokens }, cost_usd, finish_reason }`
 *   — `model` and `usage` of the call that answered, `cost_usd` of every call of the attempt (null
 *   when a model called had no price). With `output_schema`, a reply that is not JSON or does not
 *   match fails the attempt `LLM_OUTPUT_INVALID` (retryable, per the step's `retry`).
 * - Budgets: under any budget, each call's maximum cost is reserved before it is made (see
 *   engine/budget.ts); a model with no price fails `PRICE_UNKNOWN` without a call.
 * - A dry run sends nothing: it completes with output null and says what it would send.
 */
import type { LlmStep, WorkflowDefinition } from "../../schemas/definition";
import { maxCallCostUsd, priceUnknown } from "../budget";
import { NonRetriableError, RetryableError, StepError } from "../errors";
import { interpolate, maskSecrets, renderTemplate } from "../evaluate";
import { checkJsonSchema } from "../json-schema-check";
import { validateJsonValue } from "../json-schema-validate";
import { checkOutboundUrl } from "../ssrf";
import { estimateTokens, roundUsd, type UsageCall } from "../usage";
import { maskedError, parseRetryAfter, readUpTo } from "./outbound";
import type { Reservation, StepContext, StepKind, StepOutcome, WouldSend } from "./types";

/** The shortest time a call is given when the attempt's time is shared among its models. */
const MIN_CALL_MS = 1_000;
/** Largest reply body read from the endpoint (4 MiB). */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;
const ERROR_BODY_CHARS = 512;

export interface LlmOutput {
  text: string;
  json?: unknown;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  cost_usd: number | null;
  finish_reason: string;
}

interface Message {
  role: "system" | "user";
  content: string;
}

/** One model's answer. */
interface Reply {
  text: string;
  finishReason: string;
  inputTokens: number;
  outputTokens: number;
}

/** A call that failed in a way another model may not: the attempt moves on to the next one. */
class FallbackError extends Error {
  constructor(readonly error: StepError) {
    super(error.message);
  }
}

export const llmKind: StepKind<LlmStep> = {
  async run(step, ctx): Promise<StepOutcome> {
    try {
      const messages = await renderMessages(step, ctx);
      const models = [step.model, ...(step.fallback_models ?? [])];
      let last: StepError | null = null;
      for (let i = 0; i < models.length; i++) {
        const model = models[i]!;
        const reservation = await reserveCall(model, messages, step, ctx);
        try {
          const reply = await callModel(model, messages, step, ctx, models.length - i);
          const call = ctx.usage.call(model, reply.inputTokens, reply.outputTokens);
          reservation?.settle(call.cost_usd);
          return { kind: "completed", output: outputOf(step, model, reply, call, ctx.usage.calls) };
        } catch (error) {
          if (!(error instanceof FallbackError)) {
            reservation?.settle(null);
            throw error;
          }
          const refused = ctx.usage.call(model, 0, 0); // a call made is a call recorded
          reservation?.settle(refused.cost_usd);
          last = error.error;
        }
      }
      throw last!;
    } catch (error) {
      throw error instanceof StepError ? maskedError(error, ctx) : error;
    }
  },
  check(step, ctx) {
    ctx.template(step.prompt, ["prompt"], { secrets: true });
    if (step.system !== undefined) ctx.template(step.system, ["system"], { secrets: true });
    if (step.output_schema !== undefined) {
      for (const issue of checkJsonSchema(step.output_schema)) {
        ctx.problem(["output_schema", ...pointerSegments(issue.pointer)], "INVALID_OUTPUT_SCHEMA", `output_schema is not a usable JSON Schema: ${issue.message}`);
      }
    }
    const models = [step.model, ...(step.fallback_models ?? [])];
    models.forEach((model, i) => {
      if (models.indexOf(model) !== i) ctx.problem(["fallback_models", i - 1], "DUPLICATE_MODEL", `model '${model}' is tried twice`);
    });
  },
  async simulate(step, ctx) {
    const messages = await renderMessages(step, ctx);
    const ai = step.model.startsWith("@cf/") && ctx.llm.ai !== undefined;
    const wouldSend: WouldSend = {
      method: "POST",
      url: ai ? `workers-ai:${step.model}` : `${ctx.llm.baseUrl}/chat/completions`,
      headers: ai ? {} : { "content-type": "application/json", ...(ctx.llm.apiKey ? { authorization: "Bearer ***" } : {}) },
      body: JSON.stringify(requestBody(step, step.model, messages)),
    };
    return { outcome: { kind: "completed", output: null }, would_send: maskSecrets(wouldSend, ctx.secrets.used) };
  },
};

/**
 * Under a budget: the call's maximum cost is reserved before it is made (its prompt estimated, and
 * `max_tokens` or the deployment's default of output); a model without a price is refused.
 */
async function reserveCall(model: string, messages: readonly Message[], step: LlmStep, ctx: StepContext): Promise<Reservation | null> {
  if (!ctx.budget.active) return null;
  const price = ctx.usage.price(model);
  if (!price) throw priceUnknown(model);
  const prompt = messages.map((m) => m.content).join("");
  return ctx.budget.reserve(maxCallCostUsd(price, prompt, step.max_tokens ?? ctx.llm.defaultMaxTokens));
}

/** `/a/b~1c` → `["a", "b/c"]` (the check context escapes them again). */
function pointerSegments(pointer: string): string[] {
  return pointer === "" ? [] : pointer.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** Every model the definition's llm steps may call, map sub-steps included: what a start prices. */
export function modelsOf(definition: Pick<WorkflowDefinition, "steps">): string[] {
  const models = new Set<string>();
  for (const step of definition.steps) {
    const llm = step.type === "llm" ? step : step.type === "map" && step.step.type === "llm" ? step.step : null;
    if (!llm) continue;
    models.add(llm.model);
    for (const m of llm.fallback_models ?? []) models.add(m);
  }
  return [...models];
}

async function renderMessages(step: LlmStep, ctx: StepContext): Promise<Message[]> {
  const text = async (template: string, where: string) => interpolate(await renderTemplate(template, ctx.scope, ctx.secrets, where));
  const messages: Message[] = [];
  if (step.system !== undefined) messages.push({ role: "system", content: await text(step.system, "system") });
  messages.push({ role: "user", content: await text(step.prompt, "prompt") });
  return messages;
}

function requestBody(step: LlmStep, model: string, messages: Message[]): Record<string, unknown> {
  return {
    model,
    messages,
    ...(step.max_tokens !== undefined ? { max_tokens: step.max_tokens } : {}),
    ...(step.temperature !== undefined ? { temperature: step.temperature } : {}),
    ...(step.output_schema !== undefined ? { response_format: { type: "json_schema", json_schema: { name: "output", schema: step.output_schema } } } : {}),
  };
}

/**
 * One call. Throws `FallbackError` for a failure the next model may not have, a `StepError` for
 * one that ends the attempt.
 */
async function callModel(model: string, messages: Message[], step: LlmStep, ctx: StepContext, modelsLeft: number): Promise<Reply> {
  const { signal, release } = callSignal(ctx, modelsLeft);
  try {
    return await callModelUntil(model, messages, step, ctx, signal);
  } finally {
    release();
  }
}

async function callModelUntil(model: string, messages: Message[], step: LlmStep, ctx: StepContext, signal: AbortSignal): Promise<Reply> {
  if (model.startsWith("@cf/") && ctx.llm.ai) return callWorkersAi(ctx.llm.ai, model, messages, step, signal, ctx);
  if (ctx.llm.baseUrl === "") {
    throw new NonRetriableError("LLM_NOT_CONFIGURED", `no LLM endpoint is configured for model '${model}' (set LLM_BASE_URL, or bind Workers AI for @cf/ models)`);
  }
  const url = checkOutboundUrl(`${ctx.llm.baseUrl.replace(/\/+$/, "")}/chat/completions`, ctx.allowedPrivateHosts);
  const what = `${model} at ${url.origin}`;
  // Called detached, as the http kind does: workerd's global fetch throws "Illegal invocation" when
  // called as a method of another object, so a context built as `{ fetch }` must still work.
  const send = ctx.fetch;
  let response: Response;
  try {
    response = await send(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(ctx.llm.apiKey ? { authorization: `Bearer ${ctx.llm.apiKey}` } : {}) },
      body: JSON.stringify(requestBody(step, model, messages)),
      signal,
    });
  } catch (error) {
    throw transportFailure(error, signal, ctx, what);
  }
  let body: { text: string; overflowed: boolean };
  try {
    // A refusal's body is read only as far as its error details need (cut there, not refused).
    body = await readUpTo(response, response.ok ? MAX_REPLY_BYTES : ERROR_BODY_CHARS * 4);
  } catch (error) {
    throw transportFailure(error, signal, ctx, what);
  }
  if (!response.ok) throw statusFailure(response, body.text, what, ctx);
  if (body.overflowed) throw new RetryableError("LLM_BAD_RESPONSE", `${what}: the reply is larger than ${MAX_REPLY_BYTES} bytes`);
  return parseCompletion(body.text, what, messages);
}

/**
 * The attempt's signal, plus — with fallbacks left — this call's share of the attempt's time. The
 * share's timer is cleared when the call ends (`release`), so none outlives it.
 */
function callSignal(ctx: StepContext, modelsLeft: number): { signal: AbortSignal; release(): void } {
  if (modelsLeft <= 1 || ctx.deadlineAt === null) return { signal: ctx.signal, release: () => {} };
  const share = Math.max(MIN_CALL_MS, Math.floor((ctx.deadlineAt - ctx.now()) / modelsLeft));
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new DOMException("this model's share of the attempt ran out", "TimeoutError")), share);
  return { signal: AbortSignal.any([ctx.signal, timeout.signal]), release: () => clearTimeout(timer) };
}

function transportFailure(error: unknown, signal: AbortSignal, ctx: StepContext, what: string): Error {
  // The attempt itself was aborted (timeout, cancel): that ends it, whatever models are left.
  if (ctx.signal.aborted) return ctx.signal.reason instanceof StepError ? ctx.signal.reason : new RetryableError("NETWORK_ERROR", `${what}: aborted`);
  if (signal.aborted) return new FallbackError(new RetryableError("STEP_TIMEOUT", `${what}: no reply within this model's share of the attempt`));
  const message = error instanceof Error ? error.message : String(error);
  return new FallbackError(new RetryableError("NETWORK_ERROR", `${what}: ${message}`));
}

function statusFailure(response: Response, body: string, what: string, ctx: StepContext): Error {
  const status = response.status;
  const details = { status, body: body.length > ERROR_BODY_CHARS ? `${body.slice(0, ERROR_BODY_CHARS)}…` : body };
  const message = `${what}: status ${status}`;
  if (isContextLengthRefusal(status, body)) {
    return new FallbackError(new NonRetriableError("LLM_CONTEXT_LENGTH", `${what}: the prompt is longer than the model's context`, details));
  }
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), ctx.now());
    return new FallbackError(new RetryableError("HTTP_STATUS", message, { details, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }));
  }
  return new NonRetriableError("HTTP_STATUS", message, details);
}

function isContextLengthRefusal(status: number, body: string): boolean {
  if (status !== 400 && status !== 413) return false;
  try {
    const error = (JSON.parse(body) as { error?: { code?: unknown } }).error;
    return error?.code === "context_length_exceeded";
  } catch {
    return /context.length/i.test(body);
  }
}

/** A Chat Completions reply: the first choice's text, its finish reason, and the token counts. */
function parseCompletion(body: string, what: string, messages: readonly Message[]): Reply {
  let reply: { choices?: { message?: { content?: unknown }; finish_reason?: unknown }[]; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
  try {
    reply = JSON.parse(body) as typeof reply;
  } catch {
    throw new RetryableError("LLM_BAD_RESPONSE", `${what}: the reply is not JSON`);
  }
  const choice = reply.choices?.[0];
  const content = choice?.message?.content;
  if (typeof content !== "string") throw new RetryableError("LLM_BAD_RESPONSE", `${what}: the reply has no choices[0].message.content`);
  return {
    text: content,
    finishReason: typeof choice?.finish_reason === "string" ? choice.finish_reason : "stop",
    ...tokens(reply.usage?.prompt_tokens, reply.usage?.completion_tokens, messages, content),
  };
}

async function callWorkersAi(ai: NonNullable<StepContext["llm"]["ai"]>, model: string, messages: Message[], step: LlmStep, signal: AbortSignal, ctx: StepContext): Promise<Reply> {
  const { model: _model, ...inputs } = requestBody(step, model, messages);
  let result: unknown;
  try {
    result = await ai.run(model, inputs, { signal });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/context.length|too many tokens/i.test(message)) throw new FallbackError(new NonRetriableError("LLM_CONTEXT_LENGTH", `${model}: ${message}`));
    throw transportFailure(error, signal, ctx, model);
  }
  const r = (result ?? {}) as { response?: unknown; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
  const text = typeof r.response === "string" ? r.response : r.response === undefined ? "" : JSON.stringify(r.response);
  return { text, finishReason: "stop", ...tokens(r.usage?.prompt_tokens, r.usage?.completion_tokens, messages, text) };
}

/** The provider's token counts, or the estimate when it gives none. */
function tokens(input: unknown, output: unknown, messages: readonly Message[], text: string): { inputTokens: number; outputTokens: number } {
  const count = (n: unknown, estimate: () => number) => (typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : estimate());
  return {
    inputTokens: count(input, () => estimateTokens(messages.map((m) => m.content).join(""))),
    outputTokens: count(output, () => estimateTokens(text)),
  };
}

function outputOf(step: LlmStep, model: string, reply: Reply, call: UsageCall, calls: readonly UsageCall[]): LlmOutput {
  const costs = calls.map((c) => c.cost_usd);
  const output: LlmOutput = {
    text: reply.text,
    model,
    usage: { input_tokens: call.input_tokens, output_tokens: call.output_tokens },
    cost_usd: costs.includes(null) ? null : roundUsd(costs.reduce<number>((sum, c) => sum + c!, 0)),
    finish_reason: reply.finishReason,
  };
  if (step.output_schema === undefined) return output;
  let json: unknown;
  try {
    json = JSON.parse(reply.text) as unknown;
  } catch {
    throw new RetryableError("LLM_OUTPUT_INVALID", `${model}'s reply is not JSON`, { details: { model, text: reply.text.slice(0, ERROR_BODY_CHARS) } });
  }
  const problems = validateJsonValue(step.output_schema, json);
  if (problems.length > 0) {
    throw new RetryableError("LLM_OUTPUT_INVALID", `${model}'s reply does not match output_schema: ${problems[0]!.message}`, {
      details: { model, problems: problems.slice(0, 10) },
    });
  }
  return { ...output, json };
}
