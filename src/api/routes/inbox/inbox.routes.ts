import { createRoute } from "@hono/zod-openapi";
import { InboxPage, InboxQuery } from "../../../schemas/inbox";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, problems } from "../../openapi";
import { SECURITY } from "../../router";

export const listInbox = createRoute({
  method: "get",
  path: "/inbox",
  operationId: "listInbox",
  tags: [TAGS.inbox],
  summary: "List what executions wait for people to do",
  description:
    "Approvals to decide, questions to answer, signals to send and budgets to raise, newest first, filtered by `kind`, `status` " +
    "and `workflow_id`. An item is `pending` until it is decided, answered, received or raised, or its wait expires; when the " +
    "execution ends first it is done with outcome `cancelled`. Indexed through the executions' outboxes: a change shows here " +
    "once the execution's index row is written (usually within a second).",
  security: SECURITY,
  middleware: guard({ permission: "executions:read", action: "inbox.read" }),
  request: { query: InboxQuery },
  responses: { 200: jsonContent(InboxPage, "A page of inbox items"), ...problems(400) },
});
