/**
 * The one router factory: every router validates with the same hook, so every validation failure
 * leaves as the same 400 problem listing each failing field.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { ValidationError } from "../services/errors";
import type { AppEnv } from "./types";
import { fieldErrorsOf, locationOf } from "./validation";

export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    strict: false,
    defaultHook: (result) => {
      if (!result.success) throw new ValidationError(fieldErrorsOf(result.error, locationOf(result.target)));
    },
  });
}

export type AppRouter = ReturnType<typeof createRouter>;

/** Declared on every guarded route, so the OpenAPI document shows both ways to send a key. */
export const SECURITY: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyHeader: [] }];
