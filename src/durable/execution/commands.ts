/**
 * What a caller asks of the execution as a whole: create it (or find it again, for an idempotent
 * replay), then cancel, pause, resume or retry it. Each is one transaction with its audit row in
 * the outbox: `ExecutionRuntime.apply` of a decision from engine/execution-moves.ts.
 */
import { StepError } from "../../engine/errors";
import { decideCancel, decideCreate, decidePause, decideResume, decideRetry } from "../../engine/execution-moves";
import { allowedExecutionCommands, transitionExecution } from "../../engine/state-machine";
import { pendingStep } from "../storage/state-store";
import type { AuditRow } from "../../schemas/audit";
import type { CommandResult, CreateResult } from "../../schemas/execution-rpc";
import { asExisting, toExecution, type ReadModel } from "./read-model";
import { loadedState } from "./loaded-state";
import type { CreateRequest, ExecutionRuntime } from "./runtime";

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
    const decision = decideCreate(req, this.rt.deps.clock.now());
    // What is about to be written is what a load would read back (no step has a row yet).
    const s = loadedState(decision.created, req.definition.steps.map((d, idx) => pendingStep(d.id, idx)), this.rt.deps.env);
    this.rt.apply(s, decision);
    this.rt.schemaReady = true;
    this.rt.state = s;
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
