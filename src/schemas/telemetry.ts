/**
 * Telemetry on the wire (SPEC §7): totals and averages of a tenant's executions over a date range
 * (`GET /v1/telemetry/summary`), and one workflow's counts, success rate, duration percentiles and
 * per-step figures (`GET /v1/telemetry/workflows/{id}/stats`).
 *
 * Ranges are half-open, `from` ≤ t < `to`: executions are in a range by `created_at`, usage records
 * (the ledger: `by_model`, a step's `total_usd`) by their `time`. USD amounts are rounded to 1e-10,
 * as the usage ledger rounds them. Durations are milliseconds.
 */
import { z } from "@hono/zod-openapi";
import type { ExecutionStatus } from "./executions";
import { Timestamp } from "./pages";
import { EXECUTION_STATUSES } from "./vocabulary";

/** Longest range one request may ask for, in days (SPEC §7). */
export const MAX_TELEMETRY_RANGE_DAYS = 92;
/** The range when the request names neither end: the last 24 hours. */
export const DEFAULT_TELEMETRY_RANGE_MS = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Queries

const RangeEnd = z.iso.datetime({ offset: true }).optional();

/** `from` and `to` of every telemetry route. */
export const TelemetryRangeQuery = z.object({
  from: RangeEnd.openapi({
    description: "Start of the range (inclusive), RFC 3339 with an offset. Default: 24 hours before `to`.",
    example: "2026-11-21T00:00:00Z",
  }),
  to: RangeEnd.openapi({
    description:
      `End of the range (exclusive), RFC 3339 with an offset. Default: now. Before \`from\`, or more than ${MAX_TELEMETRY_RANGE_DAYS} days after it, is 400 \`VALIDATION_FAILED\`.`,
    example: "2026-11-22T00:00:00Z",
  }),
});

export const TelemetrySummaryQuery = TelemetryRangeQuery.extend({
  workflow_id: z.string().max(64).optional().openapi({ description: "Only this workflow's executions and usage records.", example: "invoice-review" }),
});

export const TelemetryWorkflowParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, description: "A workflow id.", example: "invoice-review" }),
});

// ---------------------------------------------------------------------------------------------
// Answers

const Count = z.number().int().min(0);
const Usd = z.number().min(0);
const Millis = z.number().min(0);

/** One count per execution status: every status is present, 0 when none is in the range. */
export const StatusCounts = z
  .object(Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, Count])) as Record<ExecutionStatus, typeof Count>)
  .openapi("StatusCounts", {
    description: "Executions in the range by status: every status is listed, 0 when none has it.",
    example: { pending_approval: 0, queued: 0, running: 1, waiting: 2, paused: 0, completed: 37, partial: 0, failed: 3, cancelled: 1, timed_out: 0, rejected: 0 },
  });
export type StatusCounts = z.infer<typeof StatusCounts>;

const AvgDuration = Millis.nullable().openapi({
  description: "Mean of `ended_at − started_at` (ms) over the ended executions that started; null when none did.",
  example: 1840.5,
});

export const WorkflowTotals = z
  .object({
    workflow_id: z.string().openapi({ example: "invoice-review" }),
    executions: Count,
    total_usd: Usd.openapi({ description: "Sum of the executions' costs (USD).", example: 0.0421 }),
    avg_duration_ms: AvgDuration,
  })
  .openapi("WorkflowTotals");
export type WorkflowTotals = z.infer<typeof WorkflowTotals>;

export const ModelTotals = z
  .object({
    model: z.string().openapi({ example: "standin-small" }),
    calls: Count.openapi({ description: "llm calls recorded in the range (each model tried is a call)." }),
    input_tokens: Count,
    output_tokens: Count,
    total_usd: Usd.openapi({ description: "Sum of the calls' costs (USD); calls with no known price count 0.", example: 0.0389 }),
  })
  .openapi("ModelTotals");
export type ModelTotals = z.infer<typeof ModelTotals>;

export const TelemetrySummary = z
  .object({
    from: Timestamp.openapi({ description: "Start of the range (inclusive)." }),
    to: Timestamp.openapi({ description: "End of the range (exclusive)." }),
    executions: Count.openapi({ description: "Executions created in the range." }),
    by_status: StatusCounts,
    total_usd: Usd.openapi({
      description: "Sum of the costs of the executions in the range (USD; rows without a recorded cost count 0). Equals the sum of `by_workflow[].total_usd`.",
    }),
    input_tokens: Count.openapi({ description: "Input tokens of the executions in the range." }),
    output_tokens: Count.openapi({ description: "Output tokens of the executions in the range." }),
    avg_cost_usd: Usd.nullable().openapi({ description: "`total_usd` ÷ `executions`; null when there is none." }),
    avg_duration_ms: AvgDuration,
    by_workflow: z.array(WorkflowTotals).openapi({ description: "Per workflow, by `total_usd` descending, then `workflow_id`." }),
    by_model: z.array(ModelTotals).openapi({
      description: "Per model, from the usage records (llm calls) whose `time` is in the range; by `total_usd` descending, then `model`.",
    }),
  })
  .openapi("TelemetrySummary", {
    example: {
      from: "2026-11-21T00:00:00.000Z",
      to: "2026-11-22T00:00:00.000Z",
      executions: 44,
      by_status: { pending_approval: 0, queued: 0, running: 1, waiting: 2, paused: 0, completed: 37, partial: 0, failed: 3, cancelled: 1, timed_out: 0, rejected: 0 },
      total_usd: 0.0421,
      input_tokens: 18200,
      output_tokens: 6400,
      avg_cost_usd: 0.0009568182,
      avg_duration_ms: 1840.5,
      by_workflow: [
        { workflow_id: "triage-ticket", executions: 30, total_usd: 0.0389, avg_duration_ms: 2210 },
        { workflow_id: "invoice-review", executions: 14, total_usd: 0.0032, avg_duration_ms: 1050.25 },
      ],
      by_model: [{ model: "standin-small", calls: 31, input_tokens: 18200, output_tokens: 6400, total_usd: 0.0389 }],
    },
  });
export type TelemetrySummary = z.infer<typeof TelemetrySummary>;

/**
 * Durations are read back from histograms whose buckets are exact below 50 ms and 8 % wide above,
 * each reported as its middle (whole milliseconds): within 4 % of the true value.
 */
const BUCKETED = "Durations are counted in buckets, exact below 50 ms and 8 % wide above; a percentile or the longest is its bucket's middle, within 4 % of the true duration.";
const Percentile = Count.nullable();

export const StepStats = z
  .object({
    step_id: z.string().openapi({ example: "classify" }),
    runs: Count.openapi({ description: "Ended executions in the range in which the step started (made at least one attempt)." }),
    failures: Count.openapi({ description: "Ended executions in the range in which the step ended `failed`." }),
    duration_ms: z
      .object({ p50: Percentile, p95: Percentile })
      .openapi({ description: `Nearest-rank percentiles of the step's durations (ended_at − started_at, ms) in those executions; null when it never ended. ${BUCKETED}` }),
    total_usd: Usd.openapi({ description: "Sum of the workflow's usage records of this step whose `time` is in the range (USD)." }),
  })
  .openapi("StepStats");
export type StepStats = z.infer<typeof StepStats>;

export const WorkflowStats = z
  .object({
    workflow_id: z.string().openapi({ example: "triage-ticket" }),
    from: Timestamp.openapi({ description: "Start of the range (inclusive)." }),
    to: Timestamp.openapi({ description: "End of the range (exclusive)." }),
    executions: Count.openapi({ description: "The workflow's executions created in the range." }),
    by_status: StatusCounts,
    success_rate: z.number().min(0).max(1).nullable().openapi({
      description: "`completed` ÷ ended executions (completed, partial, failed, cancelled, timed_out, rejected), 0 to 1; null when none has ended.",
      example: 0.9024,
    }),
    duration_ms: z
      .object({ p50: Percentile, p95: Percentile, max: Percentile })
      .openapi({
        description:
          `\`ended_at − started_at\` (ms) of the ended executions that started: nearest-rank percentiles (the value at rank ⌈p × n⌉ of the n durations in ascending order) and the longest; null when there is none. ${BUCKETED}`,
        example: { p50: 1900, p95: 4210, max: 5012 },
      }),
    total_usd: Usd.openapi({ description: "Sum of the executions' costs (USD; rows without a recorded cost count 0)." }),
    avg_cost_usd: Usd.nullable().openapi({ description: "`total_usd` ÷ `executions`; null when there is none." }),
    steps: z.array(StepStats).openapi({
      description:
        "Per step, ordered by `step_id`: every step recorded in the ended executions of the range (running ones carry no step figures yet), " +
        "and any step with usage records in the range.",
    }),
  })
  .openapi("WorkflowStats", {
    example: {
      workflow_id: "triage-ticket",
      from: "2026-11-21T00:00:00.000Z",
      to: "2026-11-22T00:00:00.000Z",
      executions: 44,
      by_status: { pending_approval: 0, queued: 0, running: 1, waiting: 2, paused: 0, completed: 37, partial: 0, failed: 3, cancelled: 1, timed_out: 0, rejected: 0 },
      success_rate: 0.9024,
      duration_ms: { p50: 1900, p95: 4210, max: 5012 },
      total_usd: 0.0389,
      avg_cost_usd: 0.0008840909,
      steps: [
        { step_id: "classify", runs: 41, failures: 3, duration_ms: { p50: 1650, p95: 3900 }, total_usd: 0.0389 },
        { step_id: "route", runs: 38, failures: 0, duration_ms: { p50: 2, p95: 5 }, total_usd: 0 },
      ],
    },
  });
export type WorkflowStats = z.infer<typeof WorkflowStats>;
