import { z } from "@hono/zod-openapi";
import { TenantId } from "./api-keys";
import { PageQuery, Timestamp, page } from "./pages";

export const AuditResult = z.enum(["success", "failure", "denied"]);
export type AuditResult = z.infer<typeof AuditResult>;

/**
 * One audit row as written: built from a request by `api/audit-entry.ts`, inserted into D1 by the
 * auditTrail middleware or handed to an execution object (an RPC argument, parsed again there) whose
 * outbox flushes it with the index row. Times are epoch milliseconds; D1 adds the `seq`.
 */
export const AuditRow = z.object({
  id: z.string(),
  time: z.number().int(),
  tenant: z.string().nullable(),
  actor: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  result: AuditResult,
  status: z.number().int(),
  requestId: z.string(),
  detail: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditRow = z.infer<typeof AuditRow>;

export const AuditEntry = z
  .object({
    id: z.string(),
    time: Timestamp,
    tenant: z.string().nullable().openapi({ description: "Null when the caller could not be identified." }),
    actor: z.string().nullable().openapi({ description: "API key id of the caller ('bootstrap' for ADMIN_API_KEY)." }),
    action: z.string().openapi({ example: "workflow.register" }),
    target: z.string().nullable().openapi({ example: "invoice-review" }),
    result: AuditResult,
    status: z.number().int().openapi({ description: "HTTP status of the response." }),
    request_id: z.string(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("AuditEntry");
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditPage = page(AuditEntry, "AuditPage");

export const ListAuditQuery = PageQuery.extend({
  actor: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
  result: AuditResult.optional(),
  target: z.string().max(256).optional(),
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: "Entries at or after this time (RFC 3339)." }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: "Entries before this time (RFC 3339)." }),
  tenant: TenantId.optional().openapi({
    description: "Platform admins only: another tenant's log. Without it, platform admins also see unidentified callers.",
  }),
});
