/**
 * Rows of the execution and its steps' attempts in the Durable Object's SQLite storage (the steps
 * themselves are in the transition log).
 * Plain reads and writes: which transition happens is decided by the engine, never here.
 */
import { insertRows, type Sql } from "./metered-sql";
import type { ApprovalGate } from "../../schemas/executions";
import type { ErrorInfo } from "../../engine/errors";
import type { AttemptStatus, ExecutionBudget, ExecutionRecord, StepRecord } from "../../engine/model";
import type { WorkflowDefinition } from "../../schemas/definition";
import type { ExecutionConcurrency } from "../../schemas/concurrency";
import type { ChildVersions, ParentLink } from "../../schemas/execution-rpc";
import type { ExecutionStatus, WaitingFor } from "../../schemas/executions";
import type { ExecutionCost, Price, PriceBook } from "../../schemas/costs";
import { roundUsd, type UsageEntry } from "../../engine/usage";
import type { Signal } from "../../engine/signals";
import type { StoredStep } from "./transition-log";

export interface FinishedAttempt {
  stepId: string;
  attempt: number;
  startedAt: number;
  endedAt: number;
  output: unknown;
}

export interface AttemptRecord {
  stepId: string;
  attempt: number;
  status: AttemptStatus;
  startedAt: number;
  endedAt: number | null;
  output: unknown;
  error: ErrorInfo | null;
}

export type { AttemptStatus, ExecutionRecord, StepRecord };

type Row = Record<string, SqlStorageValue>;

const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const parse = (v: SqlStorageValue | undefined): unknown => (v === null || v === undefined ? undefined : JSON.parse(v as string));
const num = (v: SqlStorageValue | undefined): number | null => (v === null || v === undefined ? null : (v as number));

/** The columns of the execution row that change after it is created, with their values: one list for the insert and the update. */
function mutableColumns(e: ExecutionRecord): [string, SqlStorageValue][] {
  return [
    ["status", e.status],
    ["paused_from", e.pausedFrom],
    ["waiting_for", json(e.waitingFor ?? undefined)],
    ["output", json(e.output)],
    ["error", json(e.error ?? undefined)],
    ["attempt", e.attempt],
    ["started_at", e.startedAt],
    ["ended_at", e.endedAt],
    ["deadline_at", e.deadlineAt],
    ["state_version", e.stateVersion],
    ["approvals", JSON.stringify(e.approvals)],
    ["budget", json(e.budget ?? undefined)],
  ];
}

/** A step as declared, before anything happened to it. */
export function pendingStep(id: string, idx: number): StepRecord {
  return { id, idx, status: "pending", attempts: 0, output: undefined, error: null, startedAt: null, endedAt: null, nextAttemptAt: null };
}

/**
 * The steps, in definition order, from what the transition log stored. Only steps that have
 * started have a record: a step without one is pending, as it was declared (a 100-step execution
 * does not write 100 records to begin).
 */
export function stepsAsDeclared(declared: readonly { id: string }[], stored: ReadonlyMap<string, StoredStep>): StepRecord[] {
  return declared.map((d, idx): StepRecord => {
    const r = stored.get(d.id);
    return r ? { ...r, id: d.id, idx } : pendingStep(d.id, idx);
  });
}

export class StateStore {
  constructor(private readonly sql: Sql) {}

  loadExecution(): ExecutionRecord | null {
    const r = this.sql.exec<Row>("SELECT * FROM execution LIMIT 1").toArray()[0];
    if (!r) return null;
    return {
      id: r.id as string,
      tenant: r.tenant as string,
      workflowId: r.workflow_id as string,
      workflowVersion: r.workflow_version as number,
      definitionHash: r.definition_hash as string,
      definition: JSON.parse(r.definition as string) as WorkflowDefinition,
      input: parse(r.input),
      labels: JSON.parse(r.labels as string) as Record<string, string>,
      requestHash: (r.request_hash as string | null) ?? null,
      planHash: (r.plan_hash as string | null) ?? "",
      approvals: JSON.parse((r.approvals as string | null) ?? "[]") as ApprovalGate[],
      status: r.status as ExecutionStatus,
      pausedFrom: (r.paused_from as ExecutionStatus | null) ?? null,
      waitingFor: (parse(r.waiting_for) as WaitingFor | undefined) ?? null,
      output: parse(r.output),
      error: (parse(r.error) as ErrorInfo | undefined) ?? null,
      attempt: r.attempt as number,
      createdAt: r.created_at as number,
      startedAt: num(r.started_at),
      endedAt: num(r.ended_at),
      deadlineAt: num(r.deadline_at),
      stateVersion: r.state_version as number,
      prices: JSON.parse((r.prices as string | null) ?? "{}") as PriceBook,
      cost: this.usageTotals(),
      budget: (parse(r.budget) as ExecutionBudget | undefined) ?? null,
      budgetIds: JSON.parse((r.budget_ids as string | null) ?? "[]") as string[],
      concurrency: (parse(r.concurrency) as ExecutionConcurrency | undefined) ?? null,
      origin: (r.origin as string | null | undefined) ?? null,
      parent: (parse(r.parent) as ParentLink | undefined) ?? null,
      depth: (r.depth as number | undefined) ?? 1,
      childVersions: JSON.parse((r.child_versions as string | null | undefined) ?? "{}") as ChildVersions,
    };
  }

  /** The sum of the usage ledger: the execution's cost. */
  usageTotals(): ExecutionCost {
    const r = this.sql
      .exec<{ usd: number | null; input: number | null; output: number | null }>(
        "SELECT SUM(cost_usd) AS usd, SUM(input_tokens) AS input, SUM(output_tokens) AS output FROM usage",
      )
      .one();
    return { total_usd: roundUsd(r.usd ?? 0), input_tokens: r.input ?? 0, output_tokens: r.output ?? 0 };
  }

  /** A signal no step waits for yet, kept. */
  keepSignal(signal: Signal): void {
    this.sql.exec("INSERT INTO signals (event, data, received_at, via) VALUES (?, ?, ?, ?)", signal.event, json(signal.data) ?? "null", signal.receivedAt, signal.via);
  }

  /** The oldest signal kept for `event`, with its seq, or null. */
  oldestSignal(event: string): (Signal & { seq: number }) | null {
    const r = this.sql.exec<Row>("SELECT seq, event, data, received_at, via FROM signals WHERE event = ? ORDER BY seq LIMIT 1", event).toArray()[0];
    if (!r) return null;
    return { seq: r.seq as number, event: r.event as string, data: parse(r.data) ?? null, receivedAt: r.received_at as number, via: r.via as Signal["via"] };
  }

  takeSignal(seq: number): void {
    this.sql.exec("DELETE FROM signals WHERE seq = ?", seq);
  }

  keptSignals(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM signals").one().n;
  }

  insertUsage(entries: readonly UsageEntry[]): void {
    insertRows(
      this.sql,
      "INSERT INTO usage (step_id, item, attempt, call, model, input_tokens, output_tokens, cost_usd, price, time)",
      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      entries.map((u) => [u.stepId, u.item ?? -1, u.attempt, u.call, u.model, u.input_tokens, u.output_tokens, u.cost_usd, json(u.price ?? undefined), u.time]),
    );
  }

  loadUsage(): UsageEntry[] {
    return this.sql
      .exec<Row>("SELECT * FROM usage ORDER BY time, step_id, item, attempt, call")
      .toArray()
      .map((r) => ({
        stepId: r.step_id as string,
        item: (r.item as number) < 0 ? null : (r.item as number),
        attempt: r.attempt as number,
        call: r.call as number,
        model: (r.model as string | null) ?? null,
        input_tokens: r.input_tokens as number,
        output_tokens: r.output_tokens as number,
        cost_usd: num(r.cost_usd),
        price: (parse(r.price) as Price | undefined) ?? null,
        time: r.time as number,
      }));
  }

  insertExecution(e: ExecutionRecord): void {
    const fixed: [string, SqlStorageValue][] = [
      ["id", e.id],
      ["tenant", e.tenant],
      ["workflow_id", e.workflowId],
      ["workflow_version", e.workflowVersion],
      ["definition_hash", e.definitionHash],
      ["definition", JSON.stringify(e.definition)],
      ["input", json(e.input) ?? "null"],
      ["labels", JSON.stringify(e.labels)],
      ["request_hash", e.requestHash],
      ["created_at", e.createdAt],
      ["plan_hash", e.planHash],
      ["prices", JSON.stringify(e.prices)],
      ["budget_ids", JSON.stringify(e.budgetIds)],
      ["concurrency", json(e.concurrency ?? undefined)],
      ["origin", e.origin],
      ["parent", json(e.parent ?? undefined)],
      ["depth", e.depth],
      ["child_versions", JSON.stringify(e.childVersions)],
    ];
    const columns = [...fixed, ...mutableColumns(e)];
    this.sql.exec(
      `INSERT INTO execution (${columns.map(([name]) => name).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
      ...columns.map(([, value]) => value),
    );
  }

  /** Writes the mutable columns of the execution row. */
  saveExecution(e: ExecutionRecord): void {
    const columns = mutableColumns(e);
    this.sql.exec(`UPDATE execution SET ${columns.map(([name]) => `${name} = ?`).join(", ")}`, ...columns.map(([, value]) => value));
  }

  /** Writes the input and its plan hash (a rerun with a new input): not with every move, an input can be large. */
  saveInput(e: ExecutionRecord): void {
    this.sql.exec("UPDATE execution SET input = ?, plan_hash = ?", json(e.input) ?? "null", e.planHash);
  }

  /** Writes the approval gates alone (a gate opened or decided without a status change). */
  saveApprovals(e: ExecutionRecord): void {
    this.sql.exec("UPDATE execution SET approvals = ?", JSON.stringify(e.approvals));
  }

  insertAttempt(stepId: string, attempt: number, startedAt: number): void {
    this.sql.exec("INSERT INTO attempts (step_id, attempt, status, started_at) VALUES (?, ?, 'running', ?)", stepId, attempt, startedAt);
  }

  /** Attempts that started and ended before anything was recorded (pure steps' retries), with few statements. */
  /** `ifMissing`: an attempt that already has its row keeps it (see `Decision.kept`). */
  insertFinishedAttempts(attempts: readonly FinishedAttempt[], ifMissing = false): void {
    insertRows(
      this.sql,
      `INSERT${ifMissing ? " OR IGNORE" : ""} INTO attempts (step_id, attempt, status, started_at, ended_at, output)`,
      "(?, ?, 'completed', ?, ?, ?)",
      attempts.map((a) => [a.stepId, a.attempt, a.startedAt, a.endedAt, json(a.output)]),
    );
  }

  finishAttempt(stepId: string, attempt: number, status: AttemptStatus, endedAt: number, output: unknown, error: ErrorInfo | null): void {
    this.sql.exec(
      "UPDATE attempts SET status = ?, ended_at = ?, output = ?, error = ? WHERE step_id = ? AND attempt = ?",
      status,
      endedAt,
      json(output),
      json(error ?? undefined),
      stepId,
      attempt,
    );
  }

  loadAttempts(): AttemptRecord[] {
    return this.sql
      .exec<Row>("SELECT * FROM attempts ORDER BY step_id, attempt")
      .toArray()
      .map((r) => ({
        stepId: r.step_id as string,
        attempt: r.attempt as number,
        status: r.status as AttemptStatus,
        startedAt: r.started_at as number,
        endedAt: num(r.ended_at),
        output: parse(r.output),
        error: (parse(r.error) as ErrorInfo | undefined) ?? null,
      }));
  }
}
