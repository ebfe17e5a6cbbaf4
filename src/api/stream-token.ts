/**
 * Stream tokens: browsers' WebSocket and EventSource cannot send headers, so a caller exchanges
 * its API key for a short-lived token bound to one tenant, one execution and the id of the key
 * that minted it (so revoking the key ends its tokens: see `guard`), accepted as `?token=` on that
 * execution's stream routes only. Signed with STREAM_TOKEN_SECRET for the purpose `stream`
 * (src/lib/signed-token.ts).
 */
import { z } from "@hono/zod-openapi";
import { signToken, verifyToken } from "../lib/signed-token";
import { UnauthorizedError } from "../services/errors";
import type { Principal } from "./permissions";

export const STREAM_TOKEN_TTL_MS = 5 * 60 * 1000;

const Payload = z.object({ t: z.string(), e: z.string(), k: z.string(), x: z.number().int() });
const PURPOSE = "stream";

export async function signStreamToken(secret: string, p: Principal, executionId: string, now: number): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = now + STREAM_TOKEN_TTL_MS;
  return { token: await signToken(secret, PURPOSE, { t: p.tenant, e: executionId, k: p.keyId, x: expiresAt }), expiresAt };
}

/**
 * The principal a valid token stands for (a viewer of its tenant), or 401: altered, expired, or
 * issued for another execution.
 */
export async function verifyStreamToken(secret: string, token: string, executionId: string, now: number): Promise<Principal> {
  const invalid = new UnauthorizedError("The stream token is invalid, expired, or for another execution.");
  const parsed = Payload.safeParse(await verifyToken(secret, PURPOSE, token));
  if (!parsed.success) throw invalid;
  const claims = parsed.data;
  if (claims.e !== executionId || claims.x <= now) throw invalid;
  return { tenant: claims.t, role: "viewer", keyId: claims.k };
}
