/** Helpers for execution tests: register, start, and wait without blind sleeps. */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { ApprovalGate } from "../../src/schemas/executions";
import { call, type ApiResponse } from "./api";
import { SseReader } from "./sse";

/** The wire shape of an approval gate is the engine's own record. */
export type ApprovalGateBody = ApprovalGate;

export interface ExecutionBody {
  id: string;
  plan_hash?: string;
  approvals?: ApprovalGateBody[];
  workflow_id: string;
  workflow_version: number;
  status: string;
  waiting_for?: { kind: string; step_id?: string; until?: string };
  input: unknown;
  output?: unknown;
  error?: { code: string; message: string; step_id?: string; attempt?: number; details?: Record<string, unknown> };
  labels: Record<string, string>;
  attempt: number;
  created_at: string;
  started_at?: string;
  ended_at?: string;
}
export interface StepBody {
  id: string;
  type: string;
  status: string;
  attempts: { attempt: number; status: string; started_at: string; ended_at?: string; output?: unknown; error?: { code: string; message: string } }[];
  output?: unknown;
  error?: { code: string; message: string; step_id?: string; attempt?: number };
  next_attempt_at?: string;
}
export interface EventBody {
  seq: number;
  time: string;
  type: string;
  step_id?: string;
  data: Record<string, unknown>;
}

export const TERMINAL = ["completed", "partial", "failed", "cancelled", "timed_out", "rejected"];

export async function register(key: string, definition: Record<string, unknown>): Promise<void> {
  const res = await call("POST", "/v1/workflows", { key, body: definition });
  expect([200, 201], res.text).toContain(res.status);
}

export async function start(
  key: string,
  body: Record<string, unknown>,
  opts: { wait?: number; idempotencyKey?: string } = {},
): Promise<ApiResponse<ExecutionBody>> {
  const q = opts.wait !== undefined ? `?wait=${opts.wait}` : "";
  const headers: Record<string, string> = opts.idempotencyKey ? { "idempotency-key": opts.idempotencyKey } : {};
  return call<ExecutionBody>("POST", `/v1/executions${q}`, { key, body, headers });
}

/**
 * Waits until the execution's status is one of `statuses`; rejects after `ms`. Event-driven: it
 * follows the execution's own SSE stream and reads the execution again after each `execution.*`
 * event (every status change emits one), instead of polling on a timer.
 */
export async function waitForStatus(key: string, id: string, statuses: string[], ms = 10_000): Promise<ExecutionBody> {
  const deadline = Date.now() + ms;
  const read = async (): Promise<ExecutionBody> => (await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key })).body;
  let last = await read();
  if (statuses.includes(last.status)) return last;
  const res = await exports.default.fetch(
    new Request(`http://stepline.test/v1/executions/${id}/events`, { headers: { authorization: `Bearer ${key}`, accept: "text/event-stream" } }),
  );
  if (res.status !== 200) throw new Error(`execution ${id}: its event stream answered ${res.status}`);
  const stream = new SseReader(res);
  try {
    for (let left = ms; left > 0; left = deadline - Date.now()) {
      const frame = await stream.next(left).catch(() => null); // null: the stream ended, or nothing came in time
      if (frame !== null && !frame.event?.startsWith("execution.")) continue;
      last = await read();
      if (statuses.includes(last.status) || frame === null) break;
    }
  } finally {
    await stream.cancel().catch(() => undefined);
  }
  if (statuses.includes(last.status)) return last;
  throw new Error(`execution ${id} did not reach ${statuses.join("|")} within ${ms} ms (last: ${last.status})`);
}

export async function stepsOf(key: string, id: string): Promise<StepBody[]> {
  const res = await call<{ items: StepBody[] }>("GET", `/v1/executions/${id}/steps`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

export async function eventsOf(key: string, id: string): Promise<EventBody[]> {
  const res = await call<{ items: EventBody[] }>("GET", `/v1/executions/${id}/events?limit=1000`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

/** Event seqs are 1..n with no gap or duplicate. */
export function expectContiguous(events: EventBody[]): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
}

/** A chain of n transform steps, each adding one to the previous output. */
export function chain(id: string, n: number, extra: Record<string, unknown> = {}) {
  return {
    id,
    steps: Array.from({ length: n }, (_, i) =>
      i === 0
        ? { id: "s0", type: "transform", expression: "input.n" }
        : { id: `s${i}`, type: "transform", needs: [`s${i - 1}`], expression: `steps.s${i - 1}.output + 1` },
    ),
    output: `steps.s${n - 1}.output`,
    ...extra,
  };
}

/** A workflow that sleeps 10 minutes, then runs one step: for tests that watch an execution live. */
export const NAP_THEN_GO = {
  definition: {
    id: "nap-then-go",
    steps: [
      { id: "nap", type: "wait", seconds: 600 },
      { id: "go", type: "transform", needs: ["nap"], expression: "'awake'" },
    ],
    output: "steps.go.output",
  },
};
