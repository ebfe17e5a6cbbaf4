import { z, type RouteHandler } from "@hono/zod-openapi";
import type { AuditEntry } from "../../../schemas/audit";
import * as audit from "../../../store/audit";
import { ForbiddenError } from "../../../services/errors";
import { principalOf } from "../../middleware/guard";
import { decodeCursor, isoTime, parseTime, toPage } from "../../paging";
import { isPlatformAdmin } from "../../permissions";
import type { AppEnv } from "../../types";
import type { listAudit } from "./audit.routes";

function toAuditEntry(e: audit.AuditEntry): AuditEntry {
  return {
    id: e.id,
    time: isoTime(e.time),
    tenant: e.tenant,
    actor: e.actor,
    action: e.action,
    target: e.target,
    result: e.result,
    status: e.status,
    request_id: e.requestId,
    detail: e.detail,
  };
}

const AuditPosition = z.object({ t: z.number().int(), s: z.number().int() });

export const list: RouteHandler<typeof listAudit, AppEnv> = async (c) => {
  const p = principalOf(c);
  const q = c.req.valid("query");
  const otherTenant = q.tenant !== undefined && q.tenant !== p.tenant;
  if (otherTenant && !isPlatformAdmin(p)) throw new ForbiddenError("Only admins of the platform tenant may read another tenant's audit log.");
  const position = decodeCursor(q.cursor, AuditPosition);
  const rows = await audit.listAudit(c.env.DB, {
    tenant: q.tenant ?? p.tenant,
    includeUnidentified: isPlatformAdmin(p) && !otherTenant,
    actor: q.actor,
    action: q.action,
    result: q.result,
    target: q.target,
    from: parseTime(q.from),
    to: parseTime(q.to),
    before: position && { time: position.t, seq: position.s },
    limit: q.limit,
  });
  return c.json(toPage(rows, q.limit, toAuditEntry, (e) => ({ t: e.time, s: e.seq })), 200);
};
