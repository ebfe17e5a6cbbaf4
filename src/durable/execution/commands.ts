/**
 * What a caller asks of the execution as a whole: create it (or find it again, for an idempotent
 * replay), then cancel, pause, resume or retry it. Each is one transaction with its audit row in
 * the outbox: `ExecutionRuntime.apply` of a decision from engine/execution-moves.ts, or `tx` for
 * create and cancel.
 */
import { approvalRequestedData, executionGateLevel, gateExpiryMs, gateWaitingFor, pendingGate } from "../../engine/approvals";
import { StepError } from "../../engine/errors";
import { decideCancel, decidePause, decideResume, decideRetry } from "../../engine/execution-moves";
import { executionTimeoutMs } from "../../engine/retry";
import { allowedExecutionCommands, transitionExecution } from "../../engine/state-machine";
import { pendingStep, type ExecutionRecord } from "../storage/state-store";
import type { AuditRow } from "../../schemas/audit";
import type { CommandResult, CreateResult } from "../../schemas/execution-rpc";
import { ensureSchema } from "../storage/sqlite-schema";
import { parseRfc3339 } from "../../lib/time";
import { asExisting, toExecution, type ReadModel } from "./read-model";
import { loadedState, type CreateRequest, type ExecutionRuntime } from "./runtime";

export class Commands {
  constructor(
    private readonly rt: ExecutionRuntime,
    private readonly reads: ReadModel,
  ) {}

  /**
   * Creates the execution, or returns the existing one (an idempotent replay, or a reuse of the
   * key with another request when `sameRequest` is false). Runs before any await, so concurrent
   * duplicates are serialised by the object's single thread and only one creates.
   */
  create(req: CreateRequest): CreateResult {
    const existing = this.rt.load();
    if (existing) return asExisting(existing.execution, req.requestHash);
    const now = this.rt.deps.clock.now();
    // Workflow approval level 1 or 2: the execution waits for its gate before anything runs.
    const gateLevel = executionGateLevel(req.definition.approval);
    const gate = gateLevel === null ? null : pendingGate({ kind: "execution", level: gateLevel }, now, now + gateExpiryMs(req.definition.approval!, gateLevel));
    const execution: ExecutionRecord = {
      id: req.id,
      tenant: req.tenant,
      workflowId: req.workflowId,
      workflowVersion: req.workflowVersion,
      definitionHash: req.definitionHash,
      definition: req.definition,
      input: req.input,
      labels: req.labels,
      requestHash: req.requestHash,
      planHash: req.planHash,
      approvals: gate ? [gate] : [],
      status: gate ? "pending_approval" : "running",
      pausedFrom: null,
      waitingFor: gate ? gateWaitingFor(gate, req.planHash) : null,
      output: undefined,
      error: null,
      attempt: 1,
      createdAt: now,
      startedAt: gate ? null : now,
      endedAt: null,
      deadlineAt: now + executionTimeoutMs(req.definition),
      stateVersion: 1,
    };
    this.rt.tx((emit) => {
      ensureSchema(this.rt.sql); // the first write this object ever makes, in the creating transaction
      this.rt.store.insertExecution(execution);
      this.rt.timers.set("execution_timeout", execution.deadlineAt!);
      this.rt.outbox.enqueueIndex(this.rt.indexRow(execution), now);
      if (req.audit) this.rt.outbox.enqueueAudit(req.audit, now);
      this.rt.timers.set("outbox_flush", now + 1_000);
      emit({ type: "execution.created", data: { workflow_id: req.workflowId, workflow_version: req.workflowVersion, labels: req.labels } });
      if (gate) {
        this.rt.timers.set("approval_expiry", parseRfc3339(gate.expires_at)!);
        emit({ type: "approval.requested", data: approvalRequestedData(gate, req.planHash) });
      } else {
        emit({ type: "execution.started", data: { attempt: 1 } });
      }
    });
    this.rt.schemaReady = true;
    // What was just written is what a load would read back (no step has a row yet).
    this.rt.state = loadedState(execution, execution.definition.steps.map((d, idx) => pendingStep(d.id, idx)), this.rt.deps.env);
    return { kind: "created", execution: this.reads.snapshot(req.tenant)! };
  }

  /** cancel | pause | resume | retry, requested by a user. */
  command(tenant: string, command: "cancel" | "pause" | "resume" | "retry", audit: AuditRow | null = null): CommandResult {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    const check = transitionExecution(s.execution.status, command);
    if (!check.ok) return { ok: false, reason: "invalid_state", status: s.execution.status, allowed: allowedExecutionCommands(s.execution.status, "user") };
    const now = this.rt.deps.clock.now();
    switch (command) {
      case "cancel":
        this.rt.apply(s, decideCancel(s.steps.values(), audit, now));
        this.rt.abortAll(new StepError("CANCELLED", "The execution was cancelled."));
        break;
      case "pause":
        this.rt.apply(s, decidePause(s.execution, audit, now));
        break;
      case "resume":
        this.rt.apply(s, decideResume(audit, now));
        break;
      case "retry":
        this.rt.apply(s, decideRetry(s.execution, s.steps.values(), audit, now));
        break;
    }
    this.rt.notifyIfEnded(s);
    return { ok: true, execution: toExecution(s.execution) };
  }
}
