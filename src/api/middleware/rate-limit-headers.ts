/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) on every answer to an
 * authenticated request, 429 included: the key's policy (`q` requests per `w` seconds) and where
 * it stands (`r` remaining, `t` seconds until one more comes back). `guard` sets the decision.
 */
import { createMiddleware } from "hono/factory";
import { RATE_WINDOW_MS } from "../../schemas/rate-limits";
import type { AppEnv } from "../types";

const RATE_LIMIT_POLICY = "per-key";

export const rateLimitHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const rate = c.get("rateLimit");
  if (!rate) return;
  c.res.headers.set("RateLimit-Policy", `"${RATE_LIMIT_POLICY}";q=${rate.limit};w=${RATE_WINDOW_MS / 1000}`);
  c.res.headers.set("RateLimit", `"${RATE_LIMIT_POLICY}";r=${rate.remaining};t=${rate.resetSeconds}`);
});
