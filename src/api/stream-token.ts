/**
 * Stream tokens: browsers' WebSocket and EventSource cannot send headers, so a caller exchanges
 * its API key for a short-lived token bound to one tenant, one execution and the id of the key
 * that minted it (so revoking the key ends its tokens: see `guard`), accepted as `?token=` on that
 * execution's stream routes only. Format: `<payload>.<signature>`, both
 * base64url; the signature is HMAC-SHA256 over the payload with STREAM_TOKEN_SECRET, checked with
 * `crypto.subtle.verify` (constant time).
 */
import { z } from "@hono/zod-openapi";
import { base64url } from "../lib/digest";
import { UnauthorizedError } from "../services/errors";
import type { Principal } from "./permissions";

export const STREAM_TOKEN_TTL_MS = 5 * 60 * 1000;

const Payload = z.object({ t: z.string(), e: z.string(), k: z.string(), x: z.number().int() });

const encoder = new TextEncoder();

async function hmacKey(secret: string): Promise<CryptoKey> {
  if (!secret) throw new Error("STREAM_TOKEN_SECRET is not configured");
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** Null for text that is not base64url. */
function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

export async function signStreamToken(secret: string, p: Principal, executionId: string, now: number): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = now + STREAM_TOKEN_TTL_MS;
  const payload = base64url(encoder.encode(JSON.stringify({ t: p.tenant, e: executionId, k: p.keyId, x: expiresAt })));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(payload)));
  return { token: `${payload}.${base64url(signature)}`, expiresAt };
}

/**
 * The principal a valid token stands for (a viewer of its tenant), or 401: altered, expired, or
 * issued for another execution.
 */
export async function verifyStreamToken(secret: string, token: string, executionId: string, now: number): Promise<Principal> {
  const invalid = new UnauthorizedError("The stream token is invalid, expired, or for another execution.");
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined) throw invalid;
  const signatureBytes = fromBase64url(signature);
  const payloadBytes = fromBase64url(payload);
  if (!signatureBytes || !payloadBytes) throw invalid;
  if (!(await crypto.subtle.verify("HMAC", await hmacKey(secret), signatureBytes, encoder.encode(payload)))) throw invalid;
  let claims: z.infer<typeof Payload>;
  try {
    claims = Payload.parse(JSON.parse(new TextDecoder().decode(payloadBytes)));
  } catch {
    throw invalid;
  }
  if (claims.e !== executionId || claims.x <= now) throw invalid;
  return { tenant: claims.t, role: "viewer", keyId: claims.k };
}
