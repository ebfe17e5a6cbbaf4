/**
 * Tokens that carry their own claims: `<payload>.<signature>`, both base64url, the signature
 * HMAC-SHA256 over the payload (checked with `crypto.subtle.verify`, constant time). Each kind of
 * token signs a `purpose` with its claims, so a token made for one use is never accepted for another
 * even under the same secret (stream tokens, event-step callbacks).
 */
import { base64url } from "./digest";

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

export async function signToken(secret: string, purpose: string, claims: Record<string, unknown>): Promise<string> {
  const payload = base64url(encoder.encode(JSON.stringify({ ...claims, purpose })));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(payload)));
  return `${payload}.${base64url(signature)}`;
}

/** The claims of a token signed for `purpose` with `secret`; null when it is malformed, altered or made for another purpose. */
export async function verifyToken(secret: string, purpose: string, token: string): Promise<Record<string, unknown> | null> {
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined) return null;
  const signatureBytes = fromBase64url(signature);
  const payloadBytes = fromBase64url(payload);
  if (!signatureBytes || !payloadBytes) return null;
  if (!(await crypto.subtle.verify("HMAC", await hmacKey(secret), signatureBytes, encoder.encode(payload)))) return null;
  try {
    const claims: unknown = JSON.parse(new TextDecoder().decode(payloadBytes));
    if (typeof claims !== "object" || claims === null || (claims as { purpose?: unknown }).purpose !== purpose) return null;
    return claims as Record<string, unknown>;
  } catch {
    return null;
  }
}
