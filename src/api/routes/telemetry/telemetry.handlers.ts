import type { RouteHandler } from "@hono/zod-openapi";
import { TERMINAL_EXECUTION_STATUSES } from "../../../engine/state-machine";
import { WORKFLOW_ID_PATTERN } from "../../../schemas/definition";
import { DEFAULT_TELEMETRY_RANGE_MS, MAX_TELEMETRY_RANGE_DAYS } from "../../../schemas/telemetry";
import * as telemetry from "../../../store/telemetry";
import { NotFoundError, ValidationError } from "../../../services/errors";
import { principalOf } from "../../middleware/guard";
import { isoTime, parseTime } from "../../paging";
import type { AppEnv } from "../../types";
import type { getTelemetrySummary, getWorkflowStats } from "./telemetry.routes";

const MAX_RANGE_MS = MAX_TELEMETRY_RANGE_DAYS * 24 * 60 * 60 * 1000;

/** The request's range as epoch ms: the last 24 hours by default; `to` before `from`, or a range over the limit, is 400. */
function rangeOf(q: { from?: string; to?: string }, now: number): { from: number; to: number } {
  const to = parseTime(q.to, "/to") ?? now;
  const from = parseTime(q.from, "/from") ?? to - DEFAULT_TELEMETRY_RANGE_MS;
  const toSaid = q.to !== undefined ? "`to`" : "`to` (now, by default)";
  if (to < from) throw new ValidationError([{ path: "/to", in: "query", message: `${toSaid} is before \`from\`.` }]);
  if (to - from > MAX_RANGE_MS) {
    throw new ValidationError([{ path: "/from", in: "query", message: `The range is longer than ${MAX_TELEMETRY_RANGE_DAYS} days: ask for a shorter one.` }]);
  }
  return { from, to };
}

export const summary: RouteHandler<typeof getTelemetrySummary, AppEnv> = async (c) => {
  const p = principalOf(c);
  const q = c.req.valid("query");
  const range = rangeOf(q, Date.now());
  const { figures, rowsRead } = await telemetry.telemetrySummary(c.env.DB, {
    tenant: p.tenant,
    ...range,
    endedStatuses: TERMINAL_EXECUTION_STATUSES,
    workflowId: q.workflow_id,
  });
  c.set("d1RowsRead", rowsRead); // in the request log: what a summary costs
  return c.json({ from: isoTime(range.from), to: isoTime(range.to), ...figures }, 200);
};

export const workflowStats: RouteHandler<typeof getWorkflowStats, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const range = rangeOf(c.req.valid("query"), Date.now());
  // No workflow can have such an id; any other id is answered, with zeros when it has no executions.
  if (!WORKFLOW_ID_PATTERN.test(id)) throw new NotFoundError("WORKFLOW_NOT_FOUND", `No workflow '${id}': workflow ids are lowercase letters, digits, '_' and '-'.`);
  const { figures, rowsRead } = await telemetry.workflowStats(c.env.DB, {
    tenant: p.tenant,
    ...range,
    endedStatuses: TERMINAL_EXECUTION_STATUSES,
    workflowId: id,
  });
  c.set("d1RowsRead", rowsRead);
  return c.json({ workflow_id: id, from: isoTime(range.from), to: isoTime(range.to), ...figures }, 200);
};
