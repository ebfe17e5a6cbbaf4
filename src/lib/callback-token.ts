/**
 * An event step's callback token (SPEC §9): `POST /v1/callbacks/{token}` delivers the step's signal
 * without an API key, so the token itself is the authority. It is bound to the tenant, the
 * execution, the step and the attempt, and expires with the step's timeout (or the execution's);
 * one use is enforced by the step itself (once completed, it waits no more).
 */
import { signToken, verifyToken } from "./signed-token";

const PURPOSE = "callback";

export interface CallbackClaims {
  tenant: string;
  executionId: string;
  stepId: string;
  attempt: number;
  /** Epoch ms after which the token is refused. */
  expiresAt: number;
}

export function signCallbackToken(secret: string, c: CallbackClaims): Promise<string> {
  return signToken(secret, PURPOSE, { t: c.tenant, e: c.executionId, s: c.stepId, a: c.attempt, x: c.expiresAt });
}

/** The token's claims, or null when it is forged, altered, made for another purpose, or expired at `now`. */
export async function verifyCallbackToken(secret: string, token: string, now: number): Promise<CallbackClaims | null> {
  const c = await verifyToken(secret, PURPOSE, token);
  if (!c) return null;
  const { t, e, s, a, x } = c;
  if (typeof t !== "string" || typeof e !== "string" || typeof s !== "string" || typeof a !== "number" || typeof x !== "number") return null;
  if (x <= now) return null;
  return { tenant: t, executionId: e, stepId: s, attempt: a, expiresAt: x };
}

/** Where a callback is sent: `{origin}/v1/callbacks/{token}` (the origin the execution was started at). */
export function callbackUrl(origin: string | null, token: string): string {
  return `${origin ?? ""}/v1/callbacks/${token}`;
}
