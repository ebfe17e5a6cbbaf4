import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../types";

/** A caller-supplied id is honoured when it is short and plain, so it can be logged safely. */
const WELL_FORMED = /^[A-Za-z0-9._:-]{8,128}$/;

export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const id = incoming && WELL_FORMED.test(incoming) ? incoming : `req_${crypto.randomUUID().replaceAll("-", "")}`;
  c.set("requestId", id);
  await next();
  c.res.headers.set("X-Request-Id", id);
});
