import { createMiddleware } from "hono/factory";
import { log } from "../../lib/log";
import type { AppEnv } from "../types";

/** One structured line per request. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  await next();
  const principal = c.get("principal");
  log("info", "request", {
    request_id: c.get("requestId"),
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    duration_ms: Date.now() - started,
    tenant: principal?.tenant ?? null,
    key_id: principal?.keyId ?? null,
    ...(c.get("d1RowsRead") !== undefined ? { d1_rows_read: c.get("d1RowsRead") } : {}),
  });
});
