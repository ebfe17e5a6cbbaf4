/**
 * Telemetry tests (SPEC §7) seed a fresh tenant by inserting rows straight into the index
 * (`executions`, with the `steps` outcomes an ended execution carries) and the ledger
 * (`usage_records`) — the rollup triggers of migration 0007 fire for them as for the outbox's rows —
 * then read the routes and check them against figures computed here, independently of the SQL.
 *
 * Durations are read back from histograms (`duration_buckets`: exact below 50 ms, then 8 % wide,
 * each read as its middle), so expected percentiles are computed from exact durations and then
 * mapped to the bucket the API reports (`durationBuckets`).
 */
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { ExecutionStatus } from "../../src/schemas/executions";
import type { StatusCounts, TelemetrySummary, WorkflowStats } from "../../src/schemas/telemetry";
import { EXECUTION_STATUSES } from "../../src/schemas/vocabulary";
import { call } from "./api";

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const ENDED: readonly ExecutionStatus[] = ["completed", "partial", "failed", "cancelled", "timed_out", "rejected"];

/** One element of an ended execution's `steps` (as the execution's object writes it). */
export type StepOutcome = { id: string; status: string; attempts: number; duration_ms: number | null };
export type ExecutionSeed = { id: string; workflow: string; status: ExecutionStatus; created: number; started?: number; ended?: number; cost?: number; input?: number; output?: number; steps?: StepOutcome[] };
export type UsageSeed = { execution: string; workflow: string; step: string; call?: number; model: string | null; input?: number; output?: number; cost: number | null; time: number };

export async function seedExecutions(tenant: string, rows: readonly ExecutionSeed[]): Promise<void> {
  await env.DB.batch(
    rows.map((r) =>
      env.DB.prepare(
        `INSERT INTO executions (tenant, id, workflow_id, workflow_version, status, labels, error_code, cost_usd, created_at,
                                 started_at, ended_at, state_version, updated_at, input_tokens, output_tokens, steps)
         VALUES (?1, ?2, ?3, 1, ?4, '{}', NULL, ?5, ?6, ?7, ?8, 1, ?6, ?9, ?10, ?11)`,
      ).bind(tenant, r.id, r.workflow, r.status, r.cost ?? null, r.created, r.started ?? null, r.ended ?? null, r.input ?? null, r.output ?? null, r.steps ? JSON.stringify(r.steps) : null),
    ),
  );
}

export async function seedUsage(tenant: string, rows: readonly UsageSeed[]): Promise<void> {
  await env.DB.batch(
    rows.map((r) =>
      env.DB.prepare(
        `INSERT INTO usage_records (tenant, execution_id, workflow_id, step_id, item, attempt, call, model, input_tokens, output_tokens, cost_usd, price, time)
         VALUES (?1, ?2, ?3, ?4, -1, 1, ?5, ?6, ?7, ?8, ?9, NULL, ?10)`,
      ).bind(tenant, r.execution, r.workflow, r.step, r.call ?? 1, r.model, r.input ?? 0, r.output ?? 0, r.cost, r.time),
    ),
  );
}

export function counts(partial: Partial<StatusCounts>): StatusCounts {
  return { ...(Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, 0])) as StatusCounts), ...partial };
}

/** Nearest rank, computed here independently of the SQL: the value at rank ⌈p × n⌉ of the sorted values (p in percent). */
export function nearestRank(values: readonly number[], percent: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((percent * sorted.length) / 100) - 1]!;
}

export const iso = (ms: number) => new Date(ms).toISOString();
export const range = (from: number, to: number) => `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;

async function ok<T>(key: string, path: string, query: string): Promise<T> {
  const res = await call<T>("GET", `${path}${query ? `?${query}` : ""}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body;
}
export const summaryOf = (key: string, query = "") => ok<TelemetrySummary>(key, "/v1/telemetry/summary", query);
export const statsOf = (key: string, workflow: string, query = "") => ok<WorkflowStats>(key, `/v1/telemetry/workflows/${workflow}/stats`, query);

/** The request log lines the app wrote while `run` ran. */
export async function requestLogs(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const spy = vi.spyOn(console, "log");
  try {
    await run();
    const lines = spy.mock.calls.map((args) => String(args[0])).filter((l) => l.startsWith("{"));
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === "request");
  } finally {
    spy.mockRestore();
  }
}

// ---------------------------------------------------------------------------------------------
// The summary: a small hand-computed tenant

let buckets: { lo: number; value: number }[] | undefined;

/** A function from a duration (ms) to the middle of its bucket, as telemetry reports it. */
export async function durationBuckets(): Promise<(ms: number | null) => number | null> {
  buckets ??= (await env.DB.prepare("SELECT lo, value FROM duration_buckets ORDER BY lo").all<{ lo: number; value: number }>()).results;
  const all = buckets;
  return (ms) => {
    if (ms === null) return null;
    let lo = 0;
    let hi = all.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (all[mid]!.lo <= ms) lo = mid;
      else hi = mid - 1;
    }
    return all[lo]!.value;
  };
}
