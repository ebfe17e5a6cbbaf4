import { createMiddleware } from "hono/factory";
import { bodyLimit } from "hono/body-limit";
import { PayloadTooLargeError, UnsupportedMediaTypeError } from "../../services/errors";
import type { AppEnv } from "../types";

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

function maxBodyBytes(env: Env): number {
  const n = Number.parseInt(env.MAX_REQUEST_BYTES ?? "", 10);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_MAX_BODY_BYTES;
}

/**
 * Bodies are JSON and bounded: an oversized body is 413 before it is read whole, and a body in
 * another media type is 415 (rather than being silently validated as `{}`).
 */
export const boundedJsonBody = createMiddleware<AppEnv>(async (c, next) => {
  const limit = maxBodyBytes(c.env);
  c.set("maxBodyBytes", limit);
  const hasBody = c.req.raw.body !== null && c.req.header("content-length") !== "0";
  if (hasBody) {
    const contentType = c.req.header("content-type") ?? "";
    const mediaType = contentType.split(";")[0]?.trim() ?? "";
    if (!JSON_MEDIA_TYPE.test(mediaType)) throw new UnsupportedMediaTypeError(contentType);
  }
  return bodyLimit({
    maxSize: limit,
    onError: () => {
      throw new PayloadTooLargeError(limit);
    },
  })(c, next);
});
