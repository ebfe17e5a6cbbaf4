import { createRoute } from "@hono/zod-openapi";
import { AuditPage, ListAuditQuery } from "../../../schemas/audit";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, problems } from "../../openapi";
import { SECURITY } from "../../router";

export const listAudit = createRoute({
  method: "get",
  path: "/audit",
  operationId: "listAuditEntries",
  tags: [TAGS.audit],
  summary: "Audit log: every write, key change and denied attempt, newest first",
  security: SECURITY,
  middleware: guard({ permission: "audit:read", action: "audit.read" }),
  request: { query: ListAuditQuery },
  responses: { 200: jsonContent(AuditPage, "A page of audit entries"), ...problems(400) },
});
