/** Renders any thrown value as an RFC 9457 problem+json response; never leaks internals. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Problem } from "../schemas/errors";
import { ApiError, IndexUnavailableError, InternalError, MalformedJsonError, PayloadTooLargeError } from "../services/errors";
import { isD1Unavailable } from "../store/d1-errors";
import { log } from "../lib/log";
import type { AppEnv } from "./types";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Maps framework errors (hono's HTTPException) onto our hierarchy; anything unknown is internal. */
function toApiError(err: unknown, c: Context<AppEnv>): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 400 && /json/i.test(err.message)) return new MalformedJsonError();
    if (err.status === 413) return new PayloadTooLargeError(c.get("maxBodyBytes") ?? 0);
  }
  if (isD1Unavailable(err)) {
    log("warn", "index unavailable", { request_id: c.get("requestId"), method: c.req.method, path: c.req.path, error: err instanceof Error ? err.message : String(err) });
    return new IndexUnavailableError();
  }
  log("error", "unhandled error", {
    request_id: c.get("requestId"),
    method: c.req.method,
    path: c.req.path,
    error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
  });
  return new InternalError();
}

export function problemType(code: string): string {
  return `urn:stepline:problem:${code.toLowerCase().replaceAll("_", "-")}`;
}

export function renderProblem(err: unknown, c: Context<AppEnv>): Response {
  const e = toApiError(err, c);
  const body: Problem = {
    type: problemType(e.code),
    title: e.title,
    status: e.status,
    detail: e.message,
    code: e.code,
    request_id: c.get("requestId") ?? "",
    ...(e.errors ? { errors: e.errors } : {}),
    ...e.extensions,
  };
  const headers = new Headers({ "content-type": PROBLEM_CONTENT_TYPE, ...e.headers });
  return new Response(JSON.stringify(body), { status: e.status, headers });
}
