/**
 * The audit row of a request. One builder for both places that write audit rows: the auditTrail
 * middleware (D1, before the response) and the execution Durable Object's outbox (for requests it
 * carries out: durable in the same transaction as the change, flushed to D1 with the index).
 */
import type { Context } from "hono";
import type { AuditResult, AuditRow } from "../schemas/audit";
import type { AppEnv } from "./types";

export function auditResultOf(status: number): AuditResult {
  if (status === 401 || status === 403) return "denied";
  return status < 400 ? "success" : "failure";
}

/** Null when the route is not audited (no `guard`). */
export function auditEntryFor(c: Context<AppEnv>, status: number): AuditRow | null {
  const action = c.get("auditAction");
  if (!action) return null;
  const principal = c.get("principal");
  return {
    id: `aud_${crypto.randomUUID().replaceAll("-", "")}`,
    time: Date.now(),
    tenant: c.get("auditTenant") ?? principal?.tenant ?? null,
    actor: principal?.keyId ?? null,
    action,
    target: c.get("auditTarget") ?? null,
    result: auditResultOf(status),
    status,
    requestId: c.get("requestId"),
    detail: c.get("auditDetail") ?? null,
  };
}
