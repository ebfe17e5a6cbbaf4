/** Plain records for the pure decider tests (engine/outcomes, execution-moves, human-moves). */
import type { ExecutionRecord, StepRecord } from "../../src/engine/model";
import type { AuditRow } from "../../src/schemas/audit";

export const NOW = Date.parse("2026-03-01T10:00:00.000Z");

/** A running execution with an empty definition, started a second before NOW. */
export const executionRecord = (p: Partial<ExecutionRecord> = {}): ExecutionRecord => ({
  id: "ex_1",
  tenant: "t",
  workflowId: "wf",
  workflowVersion: 1,
  definitionHash: "h",
  definition: { id: "wf", steps: [], timeout_seconds: 60 } as unknown as ExecutionRecord["definition"],
  input: {},
  labels: {},
  requestHash: null,
  planHash: "p",
  approvals: [],
  status: "running",
  pausedFrom: null,
  waitingFor: null,
  output: undefined,
  error: null,
  attempt: 1,
  createdAt: NOW - 1_000,
  startedAt: NOW - 1_000,
  endedAt: null,
  deadlineAt: NOW + 59_000,
  stateVersion: 3,
  prices: {},
  cost: { total_usd: 0, input_tokens: 0, output_tokens: 0 },
  budget: null,
  budgetIds: [],
  concurrency: null,
  origin: null,
  parent: null,
  depth: 1,
  childVersions: {},
  ...p,
});

export const stepRecord = (id: string, status: StepRecord["status"], attempts = 1): StepRecord => ({
  id,
  idx: 0,
  status,
  attempts,
  output: undefined,
  error: null,
  startedAt: null,
  endedAt: null,
  nextAttemptAt: null,
});

/** A successful audit row of `action` by key_1 on ex_1, at NOW. */
export const auditRow = (action: string): AuditRow => ({
  id: "au_1",
  time: NOW,
  tenant: "t",
  actor: "key_1",
  action,
  target: "ex_1",
  result: "success",
  status: 200,
  requestId: "req",
  detail: null,
});
