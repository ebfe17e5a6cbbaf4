/**
 * What the kinds that call out (http, llm) share: a response body read up to a limit, a
 * `Retry-After` header read as a delay, and errors with every secret value the attempt resolved
 * masked.
 */
import { maskSecrets, maskText } from "../evaluate";
import { NonRetriableError, RetryableError, StepError } from "../errors";
import { MAX_RETRY_INTERVAL_MS } from "../../schemas/limits";
import type { StepContext } from "./types";

/** `Retry-After` (delay-seconds or HTTP-date) in milliseconds from `now`, capped at the longest retry interval. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_INTERVAL_MS);
}

/** The same error with every secret value used so far masked in its message and details. */
export function maskedError(error: unknown, ctx: StepContext): StepError {
  const err = error instanceof StepError ? error : new RetryableError("NETWORK_ERROR", String(error));
  const secrets = ctx.secrets.used;
  if (secrets.size === 0) return err;
  const message = maskText(err.message, secrets);
  const details = err.details ? maskSecrets(err.details, secrets) : undefined;
  if (message === err.message && details === err.details) return err;
  return err.retryable
    ? new RetryableError(err.code, message, { ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}), ...(details ? { details } : {}) })
    : new NonRetriableError(err.code, message, details);
}

/**
 * The body as UTF-8 text, reading at most `limit` bytes; the rest is cancelled, and `overflowed`
 * says there was more. Errors of the stream are thrown as they come (the caller names them).
 */
export async function readUpTo(response: Response, limit: number): Promise<{ text: string; overflowed: boolean }> {
  if (response.body === null) return { text: "", overflowed: false };
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  let size = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      await reader.cancel().catch(() => undefined);
      return { text: text + decoder.decode(value.subarray(0, limit - size)), overflowed: true };
    }
    size += value.byteLength;
    text += decoder.decode(value, { stream: true });
  }
  return { text: text + decoder.decode(), overflowed: false };
}
