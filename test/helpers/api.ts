/**
 * Drives the real Worker (`exports.default.fetch`) against real local D1: no mocks.
 * Each test file makes its own tenants (unique names), so files never see each other's rows.
 */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";

export const ADMIN_KEY = env.ADMIN_API_KEY;

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  /** Sent as-is (for malformed-JSON tests). */
  rawBody?: string;
  headers?: Record<string, string>;
}

/** Calls the app; `key` defaults to the bootstrap admin key (pass null to send none). */
export async function call<T = Record<string, unknown>>(method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse<T>> {
  const headers = new Headers(opts.headers);
  const key = opts.key === undefined ? ADMIN_KEY : opts.key;
  if (key !== null && !headers.has("authorization") && !headers.has("x-api-key")) headers.set("authorization", `Bearer ${key}`);
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
  const res = await exports.default.fetch(new Request(`http://stepline.test${path}`, { method, headers, body }));
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null; // not JSON (e.g. the docs page); tests read `text`
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

let counter = 0;
/** A tenant name no other test uses. */
export function uniqueTenant(prefix = "t"): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export type RoleName = "admin" | "operator" | "approver" | "viewer";

/** Creates a key through the API (as the bootstrap admin) and returns its secret and id. */
export async function createKey(tenant: string, role: RoleName, name = `${role}-key`): Promise<{ key: string; id: string }> {
  const res = await call<{ key: string; id: string }>("POST", "/v1/api-keys", { body: { name, role, tenant } });
  expect(res.status, res.text).toBe(201);
  return { key: res.body.key, id: res.body.id };
}

/** One key per role in a fresh tenant. */
export async function tenantWithKeys(prefix?: string): Promise<{ tenant: string } & Record<RoleName, string>> {
  const tenant = uniqueTenant(prefix);
  const [admin, operator, approver, viewer] = await Promise.all(
    (["admin", "operator", "approver", "viewer"] as const).map((r) => createKey(tenant, r)),
  );
  return { tenant, admin: admin!.key, operator: operator!.key, approver: approver!.key, viewer: viewer!.key };
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  request_id: string;
  errors?: { path: string; message: string; code?: string; in?: string }[];
}

/** Asserts the RFC 9457 shape, the status and code, and that the request id matches the header. */
export function expectProblem(res: ApiResponse<unknown>, status: number, code: string): ProblemBody {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = res.body as ProblemBody;
  expect(body).toMatchObject({ status, code, type: `urn:stepline:problem:${code.toLowerCase().replaceAll("_", "-")}` });
  expect(typeof body.title).toBe("string");
  expect(typeof body.detail).toBe("string");
  expect(body.request_id).toBe(res.headers.get("x-request-id"));
  expect(res.text).not.toMatch(/\bat .+\.(ts|js):\d+/); // never a stack trace
  return body;
}

/**
 * Retries `check` until it stops throwing, for state that converges asynchronously (the D1 index
 * is flushed after the execution's transition). Rejects with the last failure after `ms`.
 */
export async function eventually<T>(check: () => Promise<T>, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
