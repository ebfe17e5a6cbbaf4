/**
 * Writes one audit row for every write request and every denied attempt, after the response is
 * decided and before it is sent (so an acknowledged write is already audited). Requests carried out
 * by an execution's Durable Object hand their row to the object instead (`auditHandedOff`), which
 * stores it in the same transaction as the change.
 */
import { createMiddleware } from "hono/factory";
import { insertAudit } from "../../store/audit";
import { auditEntryFor } from "../audit-entry";
import { log } from "../../lib/log";
import type { AppEnv } from "../types";

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const auditTrail = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  // The object stored the row with the change; what the request answers afterwards (a 504 when
  // the execution timed out during ?wait=) does not undo the change.
  if (c.get("auditHandedOff")) return;
  const entry = auditEntryFor(c, c.res.status);
  if (!entry) return; // not a guarded route (public, or refused before routing)
  if (READ_METHODS.has(c.req.method) && entry.result !== "denied") return;
  try {
    await insertAudit(c.env.DB, entry);
  } catch (err) {
    // The change itself is already durable; losing its audit row must be loud, not a 500.
    log("error", "audit write failed", { request_id: c.get("requestId"), action: entry.action, error: String(err) });
  }
});
