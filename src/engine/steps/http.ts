/**
 * `http`: one outbound request per attempt (SPEC §2, §5).
 *
 * - The request (url, headers, query, body) is rendered as templates, with `secrets.NAME`
 *   available; a header or query parameter whose value is exactly one `{{ expr }}` yielding
 *   null/undefined is left out.
 * - Body: a string that is not exactly one `{{ expr }}` is sent as text (`text/plain`); any other
 *   body, once rendered, as JSON (`application/json`) — unless the author set `content-type`.
 * - Every request carries `Idempotency-Key: <executionId>:<stepId>` unless the author set one: the
 *   same on every attempt of the step (a retry, or a re-send after the object was cut off
 *   mid-request), so a receiver can de-duplicate a request it gets twice.
 * - The URL and every redirect hop go through `checkOutboundUrl` (SSRF policy). Redirects are
 *   followed by hand (`redirect: "manual"`), at most `MAX_REDIRECTS`: 303 becomes GET without
 *   body, 301/302 turn a POST into a GET (as browsers do), 307/308 keep method and body. On a
 *   cross-origin hop, `authorization`, `cookie`, `proxy-authorization` and any header carrying a
 *   secret are dropped, so a redirect cannot carry credentials to another host. A redirect status
 *   listed in `expect_status` is returned, not followed.
 * - The response body is read up to `MAX_RESPONSE_BYTES` (`RESPONSE_TOO_LARGE` beyond); it is
 *   parsed as JSON when the content type says JSON (kept as text when it does not parse), else
 *   decoded as UTF-8 text; empty is null.
 * - An unexpected status (default: not 2xx) fails the attempt with `HTTP_STATUS`: retryable for
 *   408, 429 and 5xx (honouring `Retry-After`), non-retriable otherwise.
 * - Abort (`ctx.signal`): a `StepError` reason is thrown as is; a `TimeoutError` reason is a
 *   retryable `STEP_TIMEOUT`; any other reason a retryable `NETWORK_ERROR`. Other fetch failures
 *   are `NETWORK_ERROR`.
 * - Every value of a secret resolved for the request is masked (`***`) in the output and in the
 *   messages and details of errors built here.
 * - Registration checks the request's templates (`secrets.*` allowed there, and only there) and
 *   that a literal URL is absolute http(s), or that an interpolated one starts with a scheme.
 * - A dry run sends nothing: the request is prepared as for an attempt (templates, SSRF policy)
 *   and the step completes with output null and `would_send` (secrets masked).
 */
import type { HttpStep } from "../../schemas/definition";
import { NonRetriableError, RetryableError, StepError } from "../errors";
import { interpolate, maskSecrets, renderTemplate } from "../evaluate";
import { parseTemplate } from "../expressions";
import { checkOutboundUrl } from "../ssrf";
import { maskedError, parseRetryAfter, readUpTo } from "./outbound";
import type { StepCheckContext, StepContext, StepKind, StepOutcome, WouldSend } from "./types";

export const MAX_REDIRECTS = 5;
/** Largest response body read (1 MiB). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** How much of an unexpected response's body goes into the error details. */
const ERROR_BODY_CHARS = 1024;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

export interface HttpOutput {
  status: number;
  /** Response headers, lowercase names. */
  headers: Record<string, string>;
  body: unknown;
}

interface PreparedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string | undefined;
}

export const httpKind: StepKind<HttpStep> = {
  async run(step, ctx): Promise<StepOutcome> {
    try {
      const request = await prepare(step, ctx);
      const response = await send(request, step, ctx);
      const output = await readResponse(response, request, step, ctx);
      return { kind: "completed", output: maskSecrets(output, ctx.secrets.used) };
    } catch (error) {
      // Messages of expression errors can quote values, a secret among them.
      throw error instanceof StepError ? maskedError(error, ctx) : error;
    }
  },
  check,
  async simulate(step, ctx) {
    try {
      const request = await prepare(step, ctx);
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => {
        headers[name] = value;
      });
      const wouldSend: WouldSend = { method: request.method, url: request.url.href, headers, body: request.body ?? null };
      return { outcome: { kind: "completed", output: null }, would_send: maskSecrets(wouldSend, ctx.secrets.used) };
    } catch (error) {
      throw error instanceof StepError ? maskedError(error, ctx) : error;
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Registration

function check(step: HttpStep, ctx: StepCheckContext): void {
  const { request } = step;
  const urlKind = ctx.template(request.url, ["request", "url"], { secrets: true });
  if (urlKind === "literal" && !isHttpUrl(request.url)) {
    ctx.problem(["request", "url"], "INVALID_URL", `url '${request.url}' is not an absolute http(s) URL`);
  } else if (urlKind === "interpolated") {
    // Only the text before the first {{ }} is known; when there is some, it must start the URL's scheme.
    const template = parseTemplate(request.url);
    const head = template.ok && template.segments[0]?.kind === "text" ? template.segments[0].text : "";
    if (head !== "" && !/^https?:\/\//i.test(head)) {
      ctx.problem(["request", "url"], "INVALID_URL", `url must start with http:// or https:// (it starts with '${head}')`);
    }
  }
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    ctx.template(value, ["request", "headers", name], { secrets: true });
  }
  for (const [name, value] of Object.entries(request.query ?? {})) {
    ctx.template(value, ["request", "query", name], { secrets: true });
  }
  if (request.body !== undefined) ctx.templates(request.body, ["request", "body"], { secrets: true });
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Request

async function prepare(step: HttpStep, ctx: StepContext): Promise<PreparedRequest> {
  const { request } = step;
  const render = (value: unknown, location: string) => renderTemplate(value, ctx.scope, ctx.secrets, location);

  const url = await render(request.url, "request.url");
  if (typeof url !== "string") {
    throw new NonRetriableError("TEMPLATE_ERROR", `request.url must render to a string, not ${describeType(url)}`);
  }
  const parsed = guardUrl(url, ctx);
  for (const [name, template] of Object.entries(request.query ?? {})) {
    const value = await render(template, `request.query.${name}`);
    if (value !== null && value !== undefined) parsed.searchParams.append(name, interpolate(value));
  }

  const headers = new Headers();
  for (const [name, template] of Object.entries(request.headers ?? {})) {
    const value = await render(template, `request.headers.${name}`);
    if (value === null || value === undefined) continue;
    try {
      headers.set(name, interpolate(value));
    } catch {
      throw new NonRetriableError("INVALID_REQUEST", `request.headers.${name}: not a valid header name or value`);
    }
  }
  if (!headers.has("idempotency-key")) headers.set("idempotency-key", `${ctx.executionId}:${ctx.stepId}`);

  let body: string | undefined;
  if (request.body !== undefined) {
    const rendered = await render(request.body, "request.body");
    const asText = typeof request.body === "string" && !isExactTemplate(request.body);
    if (asText) {
      body = interpolate(rendered);
      if (!headers.has("content-type")) headers.set("content-type", "text/plain; charset=utf-8");
    } else if (rendered !== undefined) {
      body = JSON.stringify(rendered);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
  }
  if (body !== undefined && (request.method === "GET" || request.method === "HEAD")) {
    throw new NonRetriableError("INVALID_REQUEST", `a ${request.method} request cannot have a body`);
  }
  return { method: request.method, url: parsed, headers, body };
}

function isExactTemplate(text: string): boolean {
  const parsed = parseTemplate(text);
  return parsed.ok && parsed.exact;
}

/** `checkOutboundUrl`, with any secret in the URL masked in the error. */
function guardUrl(url: string, ctx: StepContext): URL {
  try {
    return checkOutboundUrl(url, ctx.allowedPrivateHosts);
  } catch (error) {
    throw maskedError(error, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Sending, with redirects

async function send(request: PreparedRequest, step: HttpStep, ctx: StepContext): Promise<Response> {
  let { method, body } = request;
  let url = request.url;
  const headers = new Headers(request.headers);
  // Called detached: workerd's global fetch throws "Illegal invocation" when called as a method of
  // another object, so a context built as `{ fetch }` must still work.
  const fetchOnce = ctx.fetch;
  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      response = await fetchOnce(url.href, { method, headers, body, redirect: "manual", signal: ctx.signal });
    } catch (error) {
      throw transportError(error, ctx, `${method} ${url.href}`);
    }
    const location = response.headers.get("location");
    if (!REDIRECT_STATUSES.has(response.status) || location === null || step.expect_status?.includes(response.status)) {
      return response;
    }
    await discard(response);
    if (hop >= MAX_REDIRECTS) {
      throw maskedError(
        new NonRetriableError("TOO_MANY_REDIRECTS", `${request.method} ${request.url.href}: more than ${MAX_REDIRECTS} redirects (last to ${location})`, {
          redirects: MAX_REDIRECTS,
        }),
        ctx,
      );
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw maskedError(new NonRetriableError("INVALID_URL", `redirect from ${url.href} to an invalid location '${location}'`), ctx);
    }
    // An absolute Location is checked as written, so its IPv4 spelling is judged too.
    next = guardUrl(/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(location.trim()) ? location : next.href, ctx);
    if (response.status === 303 ? method !== "HEAD" : (response.status === 301 || response.status === 302) && method === "POST") {
      method = "GET";
      body = undefined;
      headers.delete("content-type");
      headers.delete("content-length");
    }
    if (next.origin !== url.origin) stripCredentials(headers, ctx);
    url = next;
  }
}

/** Drops the headers that must not follow a request to another origin. */
function stripCredentials(headers: Headers, ctx: StepContext): void {
  for (const name of CREDENTIAL_HEADERS) headers.delete(name);
  const secrets = [...ctx.secrets.used].filter((s) => s !== "");
  if (secrets.length === 0) return;
  const carrying: string[] = [];
  headers.forEach((value, name) => {
    if (secrets.some((s) => value.includes(s))) carrying.push(name);
  });
  for (const name of carrying) headers.delete(name);
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // nothing to do: the body is not wanted
  }
}

function transportError(error: unknown, ctx: StepContext, what: string): StepError {
  if (error instanceof StepError) return maskedError(error, ctx);
  if (ctx.signal.aborted) {
    const reason: unknown = ctx.signal.reason;
    if (reason instanceof StepError) return reason;
    if (isTimeout(reason)) return maskedError(new RetryableError("STEP_TIMEOUT", `${what}: timed out`), ctx);
    return maskedError(new RetryableError("NETWORK_ERROR", `${what}: aborted (${describeReason(reason)})`), ctx);
  }
  const message = error instanceof Error ? error.message : String(error);
  return maskedError(new RetryableError("NETWORK_ERROR", `${what}: ${message}`), ctx);
}

function isTimeout(reason: unknown): boolean {
  return typeof reason === "object" && reason !== null && (reason as { name?: unknown }).name === "TimeoutError";
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message || reason.name;
  if (typeof reason === "object" && reason !== null && typeof (reason as { message?: unknown }).message === "string") {
    return (reason as { message: string }).message;
  }
  return String(reason);
}

// ---------------------------------------------------------------------------------------------
// Response

async function readResponse(response: Response, request: PreparedRequest, step: HttpStep, ctx: StepContext): Promise<HttpOutput> {
  const what = `${request.method} ${request.url.href}`;
  const expected = step.expect_status ? step.expect_status.includes(response.status) : response.status >= 200 && response.status <= 299;
  if (!expected) {
    // Only the start of the body, for the error details: a large error page must not turn a
    // retryable 503 into RESPONSE_TOO_LARGE.
    const start = request.method === "HEAD" ? "" : await readText(response, ctx, what, ERROR_BODY_CHARS * 4, false);
    throw statusError(response, start, what, ctx);
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  });
  const text = request.method === "HEAD" ? "" : await readText(response, ctx, what, MAX_RESPONSE_BYTES, true);
  return { status: response.status, headers, body: parseBody(text, response.headers.get("content-type")) };
}

/**
 * The body as UTF-8 text, reading at most `limit` bytes: beyond it, `RESPONSE_TOO_LARGE` when
 * `strict`, else what was read so far.
 */
async function readText(response: Response, ctx: StepContext, what: string, limit: number, strict: boolean): Promise<string> {
  if (response.body === null) return "";
  const tooLarge = () =>
    maskedError(new NonRetriableError("RESPONSE_TOO_LARGE", `${what}: response body larger than ${limit} bytes`, { limit_bytes: limit }), ctx);
  const declared = Number(response.headers.get("content-length"));
  if (strict && Number.isFinite(declared) && declared > limit) {
    await discard(response);
    throw tooLarge();
  }
  let body: { text: string; overflowed: boolean };
  try {
    body = await readUpTo(response, limit);
  } catch (error) {
    throw transportError(error, ctx, `${what} (reading the body)`);
  }
  if (body.overflowed && strict) throw tooLarge();
  return body.text;
}

function isJsonType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || type.endsWith("+json");
}

function parseBody(text: string, contentType: string | null): unknown {
  if (text === "") return null;
  if (isJsonType(contentType)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text; // says JSON, is not: keep what came
    }
  }
  return text;
}

function statusError(response: Response, text: string, what: string, ctx: StepContext): StepError {
  const status = response.status;
  const details = { status, body: text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}…` : text };
  const message = `${what}: unexpected status ${status}${response.statusText ? ` ${response.statusText}` : ""}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), ctx.now());
    return maskedError(new RetryableError("HTTP_STATUS", message, { details, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }), ctx);
  }
  return maskedError(new NonRetriableError("HTTP_STATUS", message, details), ctx);
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}
