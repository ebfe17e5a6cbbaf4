/**
 * Writes one audit row for every write request and every denied attempt, after the response is
 * decided and before it is sent (so an acknowledged write is already audited).
 */
import { createMiddleware } from "hono/factory";
import { insertAudit, type AuditResult } from "../../store/audit";
import { log } from "../log";
import type { AppEnv } from "../types";

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function resultOf(status: number): AuditResult {
  if (status === 401 || status === 403) return "denied";
  return status < 400 ? "success" : "failure";
}

export const auditTrail = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const action = c.get("auditAction");
  if (!action) return; // not a guarded route (public, or refused before routing)
  const status = c.res.status;
  const result = resultOf(status);
  if (READ_METHODS.has(c.req.method) && result !== "denied") return;
  const principal = c.get("principal");
  try {
    await insertAudit(c.env.DB, {
      id: `aud_${crypto.randomUUID().replaceAll("-", "")}`,
      time: Date.now(),
      tenant: c.get("auditTenant") ?? principal?.tenant ?? null,
      actor: principal?.keyId ?? null,
      action,
      target: c.get("auditTarget") ?? null,
      result,
      status,
      requestId: c.get("requestId"),
      detail: c.get("auditDetail") ?? null,
    });
  } catch (err) {
    // The change itself is already durable; losing its audit row must be loud, not a 500.
    log("error", "audit write failed", { request_id: c.get("requestId"), action, error: String(err) });
  }
});
