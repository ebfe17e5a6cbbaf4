import type { RouteHandler } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { INBOX_KINDS, type InboxItem } from "../../../schemas/inbox";
import { listInbox as listInboxRows, type InboxItemRecord } from "../../../store/inbox";
import { principalOf } from "../../middleware/guard";
import { decodeCursor, isoTime, toPage } from "../../paging";
import type { AppEnv } from "../../types";
import type { listInbox } from "./inbox.routes";

const Position = z.object({ r: z.number().int(), e: z.string(), k: z.enum(INBOX_KINDS), s: z.string() });

function toItem(r: InboxItemRecord): InboxItem {
  return {
    execution_id: r.executionId,
    workflow_id: r.workflowId,
    kind: r.kind,
    ...(r.stepId !== null ? { step_id: r.stepId } : {}),
    requested_at: isoTime(r.requestedAt),
    ...(r.expiresAt !== null ? { expires_at: r.expiresAt } : {}),
    status: r.status,
    ...(r.outcome !== null ? { outcome: r.outcome } : {}),
    summary: r.summary,
    ...(r.decidedBy !== null ? { decided_by: r.decidedBy } : {}),
    ...(r.decidedAt !== null ? { decided_at: isoTime(r.decidedAt) } : {}),
  };
}

export const list: RouteHandler<typeof listInbox, AppEnv> = async (c) => {
  const p = principalOf(c);
  const q = c.req.valid("query");
  const position = decodeCursor(q.cursor, Position);
  const rows = await listInboxRows(c.env.DB, {
    tenant: p.tenant,
    kind: q.kind,
    status: q.status,
    workflowId: q.workflow_id,
    limit: q.limit,
    before: position && { requestedAt: position.r, executionId: position.e, kind: position.k, stepId: position.s },
  });
  return c.json(toPage(rows, q.limit, toItem, (r) => ({ r: r.requestedAt, e: r.executionId, k: r.kind, s: r.stepId ?? "" })), 200);
};
