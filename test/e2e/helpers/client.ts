/**
 * The e2e client: plain `fetch` against the real `wrangler dev`, with every answer checked against
 * the service's own `/openapi.json` (see contract.ts).
 */
import { inject } from "vitest";
import { Contract, type OpenApiDocument } from "./contract";

export const baseUrl = inject("baseUrl");
export const adminKey = inject("adminKey");
export const upstreamUrl = inject("upstreamUrl");
export const apiToken = inject("apiToken");
export const llmUrl = inject("llmUrl");

/** An execution as the scenarios read it (the document's `Execution`, the fields they look at). */
export interface Execution {
  id: string;
  status: string;
  plan_hash?: string;
  output?: unknown;
  error?: { code: string; message: string; step_id?: string; details?: Record<string, unknown> };
  waiting_for?: { kind: string; step_id?: string; questions?: unknown[] };
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  /** The API key (the admin key by default; null sends none). */
  key?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  /** Skip the contract check (only for answers the document does not describe, e.g. a 101). */
  unchecked?: boolean;
}

let contract: Contract | undefined;

/** The service's published document, fetched once per file. */
export async function getContract(): Promise<Contract> {
  if (!contract) {
    const res = await fetch(`${baseUrl}/openapi.json`);
    contract = new Contract((await res.json()) as OpenApiDocument);
  }
  return contract;
}

export async function call<T = Record<string, unknown>>(method: string, path: string, opts: CallOptions = {}): Promise<Answer<T>> {
  const headers = new Headers(opts.headers);
  const key = opts.key === undefined ? adminKey : opts.key;
  if (key !== null && !headers.has("authorization") && !headers.has("x-api-key")) headers.set("authorization", `Bearer ${key}`);
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  if (text && /json/.test(res.headers.get("content-type") ?? "")) parsed = JSON.parse(text);
  if (!opts.unchecked) (await getContract()).check(method, path, res.status, res.headers, parsed, text.length > 0);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** Polls an execution until `done` holds for it (or fails after `ms`). */
export async function until<T extends Record<string, unknown>>(id: string, done: (e: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await call<T>("GET", `/v1/executions/${id}`);
    if (res.status === 200 && done(res.body)) return res.body;
    if (Date.now() > deadline) throw new Error(`execution ${id} did not reach the expected state: ${res.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Requests the test upstream received whose URL contains `marker`. */
export async function upstreamHits(marker: string): Promise<number> {
  const res = await fetch(`${upstreamUrl}/__hits?contains=${encodeURIComponent(marker)}`);
  return ((await res.json()) as { hits: number }).hits;
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
