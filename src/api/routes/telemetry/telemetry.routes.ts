import { createRoute } from "@hono/zod-openapi";
import {
  MAX_TELEMETRY_RANGE_DAYS,
  TelemetryRangeQuery,
  TelemetrySummary,
  TelemetrySummaryQuery,
  TelemetryWorkflowParam,
  WorkflowStats,
} from "../../../schemas/telemetry";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, problems } from "../../openapi";
import { SECURITY } from "../../router";

const tags = [TAGS.telemetry];
const read = guard({ permission: "telemetry:read", action: "telemetry.read" });

const RANGES =
  "The range is `from` (inclusive) to `to` (exclusive), RFC 3339; by default the last 24 hours (`to` = now, `from` = `to` − 24 h). " +
  `\`to\` before \`from\`, a range longer than ${MAX_TELEMETRY_RANGE_DAYS} days, or a date that is not RFC 3339 with an offset is 400 \`VALIDATION_FAILED\`. ` +
  "Executions are in the range by `created_at`; usage records (llm calls, step costs) by their `time`. " +
  "Read from the D1 index, which an execution's object updates shortly after each change (typically within milliseconds).";

export const getTelemetrySummary = createRoute({
  method: "get",
  path: "/telemetry/summary",
  operationId: "getTelemetrySummary",
  tags,
  summary: "Totals and averages of the tenant's executions over a date range, by status, workflow and model",
  description:
    `${RANGES} ` +
    "`total_usd` and the token counts are the executions' own costs, so `by_workflow[].total_usd` adds up to `total_usd`; `by_model` counts the llm calls " +
    "recorded in the range. Durations are `ended_at − started_at` of the ended executions that started. `workflow_id` narrows every figure to one workflow.",
  security: SECURITY,
  middleware: read,
  request: { query: TelemetrySummaryQuery },
  responses: { 200: jsonContent(TelemetrySummary, "The range's totals and averages"), ...problems(400) },
});

export const getWorkflowStats = createRoute({
  method: "get",
  path: "/telemetry/workflows/{id}/stats",
  operationId: "getWorkflowStats",
  tags,
  summary: "One workflow over a date range: counts by status, success rate, duration percentiles, cost, and figures per step",
  description:
    `${RANGES} ` +
    "Percentiles are nearest-rank: p is the value at rank ⌈p × n⌉ of the n values in ascending order (so p50 and p95 are always durations that occurred). " +
    "`success_rate` is completed ÷ ended. Steps are ordered by `step_id`; their runs, failures and durations come from the ended executions of the range. " +
    "A workflow with no executions in the range — never run, archived, or not registered at all — answers 200 with zeros and nulls, not 404; " +
    "only an id that no workflow can have (ids are lowercase letters, digits, `_` and `-`) is 404 `WORKFLOW_NOT_FOUND`.",
  security: SECURITY,
  middleware: read,
  request: { params: TelemetryWorkflowParam, query: TelemetryRangeQuery },
  responses: { 200: jsonContent(WorkflowStats, "The workflow's figures over the range"), ...problems(400, 404) },
});
