/**
 * Shared pieces of route declarations: the tags, JSON content helpers, and the one builder of
 * error answers, so every route documents its problems the same way (problem+json, `Problem`).
 */
import { Problem } from "../schemas/errors";
import { MAX_TELEMETRY_RANGE_DAYS } from "../schemas/telemetry";

/** Tags of the document; routes name them through TAGS so the two never drift apart. */
export const TAGS = {
  service: "Service",
  workflows: "Workflows",
  executions: "Executions",
  apiKeys: "API keys",
  audit: "Audit",
  prices: "Prices",
  costs: "Costs",
  budgets: "Budgets",
  telemetry: "Telemetry",
  concurrency: "Concurrency",
  inbox: "Inbox",
} as const;

/** The tag list of the document, with descriptions, in reading order. */
export const TAG_DESCRIPTIONS = [
  { name: TAGS.service, description: "Liveness and machine-readable schemas. Public: no key needed." },
  { name: TAGS.workflows, description: "Workflow definitions and their versions: register, read, archive." },
  {
    name: TAGS.executions,
    description: "Executions of workflows: start, read, follow (JSON pages, SSE, WebSocket), steer, approve and answer.",
  },
  {
    name: TAGS.inbox,
    description: "Everything executions wait for a person (or a caller) to do: approvals, questions, signals, budget raises, pending and done.",
  },
  { name: TAGS.apiKeys, description: "API keys of a tenant (admins only). A key's secret is shown once, when it is created." },
  { name: TAGS.audit, description: "The audit log of a tenant (admins only): every write, key change and denied attempt." },
  {
    name: TAGS.prices,
    description: "Model prices (USD per million tokens) that llm calls are costed with: a tenant's own (admins set them) over the deployment's defaults.",
  },
  { name: TAGS.costs, description: "What executions cost: the usage ledger of each (every llm call and declared step cost), exact as recorded." },
  {
    name: TAGS.budgets,
    description:
      "Shared budgets, enforced by reservation: a tenant's or a workflow's spending limit per UTC day or month. A call is made only if its maximum cost fits (admins write; every role reads).",
  },
  {
    name: TAGS.telemetry,
    description:
      `Totals, averages and percentiles of a tenant's executions over a date range (at most ${MAX_TELEMETRY_RANGE_DAYS} days; the last 24 hours by default), ` +
      "read from the index: executions are counted by when they were created, usage records by their time. Every role reads.",
  },
  {
    name: TAGS.concurrency,
    description:
      "Concurrency keys: at most `limit` executions of a tenant with the same key run at once (across its workflows); the others wait `queued`, " +
      "by priority, then first in, first out. Operators and admins read who holds a key's slots and who waits.",
  },
];

const PROBLEM_DESCRIPTIONS = {
  400: "Validation failed; `errors` lists every failing field",
  401: "Missing, invalid or revoked API key",
  403: "The key's role lacks the permission",
  404: "Not found (or owned by another tenant)",
  409: "Conflicts with the current state",
  413: "Body too large",
  415: "Body is not JSON",
  422: "Unprocessable (e.g. an Idempotency-Key reused with another body)",
  426: "Upgrade required (send Upgrade: websocket)",
  429: "Too many requests for this API key (its rate per minute); `Retry-After` says when to try again",
  500: "Unexpected error; the problem carries the request id and no internals",
  503: "The index database (D1) is briefly unavailable (`INDEX_UNAVAILABLE`); `Retry-After` says when to try again. An execution's own reads still answer",
  504: "The execution ended `timed_out` while the request waited (`?wait=`); `execution_id` names it",
} as const;

export type ProblemStatus = keyof typeof PROBLEM_DESCRIPTIONS;

function problemResponses(statuses: readonly ProblemStatus[]) {
  return Object.fromEntries(
    [...new Set(statuses)]
      .sort((a, b) => a - b)
      .map((s) => [s, { description: PROBLEM_DESCRIPTIONS[s], content: { "application/problem+json": { schema: Problem } } }]),
  );
}

/**
 * Error answers of a route that requires a key: `statuses` (the route's own: 400 where it validates
 * input, 404 where a path names something, 409, 413, …) plus 401, 403, 429, 500 and 503, which
 * every guarded route can answer (a stored key is looked up in D1).
 */
export function problems(...statuses: ProblemStatus[]) {
  return problemResponses([...statuses, 401, 403, 429, 500, 503]);
}

/** Error answers of a public route: `statuses` plus 500. */
export function publicProblems(...statuses: ProblemStatus[]) {
  return problemResponses([...statuses, 500]);
}

export function jsonContent<T>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export function jsonRequest<T>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

/** The header every answer carries (requestId middleware), declared once in the document. */
const REQUEST_ID_HEADER = {
  description: "The request's id (a well-formed incoming `X-Request-Id` is kept); problem details repeat it as `request_id`.",
  required: true,
  schema: { type: "string" },
} as const;

/**
 * The headers of every answer to a request whose key was authenticated (rateLimitHeaders
 * middleware): not required, since a 401, or a body refused before the key is read (413, 415), has none.
 */
const RATE_LIMIT_HEADERS = {
  RateLimitPolicy: {
    description: 'The API key\'s rate (IETF RateLimit header fields): `"per-key";q=<requests>;w=60`, at most q requests in any 60 seconds. On every answer once the key is authenticated.',
    required: false,
    schema: { type: "string" },
  },
  RateLimit: {
    description: 'Where the key stands: `"per-key";r=<remaining>;t=<seconds>`, r requests left in the window, t seconds until one more comes back. On every answer once the key is authenticated.',
    required: false,
    schema: { type: "string" },
  },
  RetryAfter: { description: "Seconds to wait before the next request: until the key may make one again (429), or the index may answer again (503).", required: true, schema: { type: "integer", minimum: 1 } },
} as const;

type Responses = Record<string, { headers?: Record<string, unknown> }>;
type Operation = { responses?: Responses; security?: unknown[] };

/**
 * The generated document with the headers every answer carries, declared once as components and
 * referenced, so a typed client knows they are always there: `X-Request-Id` on every answer; the
 * RateLimit fields on every answer of an operation that requires a key; `Retry-After` on its 429 and on a 503.
 */
export function withAnswerHeaders<D extends { paths?: object; components?: object }>(doc: D): D {
  const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation>>;
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      const keyed = (op.security ?? []).length > 0;
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        response.headers = {
          "X-Request-Id": ref("RequestId"),
          ...(keyed ? { "RateLimit-Policy": ref("RateLimitPolicy"), RateLimit: ref("RateLimit") } : {}),
          ...((keyed && status === "429") || status === "503" ? { "Retry-After": ref("RetryAfter") } : {}),
          ...response.headers,
        };
      }
    }
  }
  const components = (doc.components ?? {}) as { headers?: Record<string, unknown> };
  doc.components = { ...components, headers: { ...components.headers, RequestId: REQUEST_ID_HEADER, ...RATE_LIMIT_HEADERS } };
  return doc;
}
