/**
 * What a caller asks of the execution as a whole: create it (or find it again, for an idempotent
 * replay), then cancel, pause, resume or retry it. Each is one transaction with its audit row in
 * the outbox: `ExecutionRuntime.apply` of a decision from engine/execution-moves.ts.
 */
import { StepError } from "../../engine/errors";
import { decideCancel, decideCreate, decidePause, decideRerun, decideResume, decideRetry } from "../../engine/execution-moves";
import { redrivePlan } from "../../engine/redrive";
import { planHashOf } from "../../engine/approvals";
import { validateJsonValue } from "../../engine/json-schema-validate";
import { decideBudgetRelease, decideRaiseBudget } from "../../engine/budget";
import { allowedExecutionCommands, isTerminalExecution, transitionExecution } from "../../engine/state-machine";
import { pendingStep } from "../storage/state-store";
import type { AuditRow } from "../../schemas/audit";
import type { CommandResult, CreateResult, RaiseBudgetResult, RerunResult } from "../../schemas/execution-rpc";
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

  /** An approver raises the execution's own budget; the steps waiting for it run on. */
  raiseBudget(tenant: string, maxUsd: number, audit: AuditRow | null): RaiseBudgetResult {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    if (isTerminalExecution(s.execution.status)) return { ok: false, reason: "invalid_state", status: s.execution.status };
    const own = s.execution.budget;
    if (!own) return { ok: false, reason: "no_budget" };
    if (maxUsd <= own.max_usd) return { ok: false, reason: "not_higher", current: own.max_usd };
    this.rt.apply(s, decideRaiseBudget(s.execution, s.steps.values(), maxUsd, audit, this.rt.deps.clock.now()));
    return { ok: true, execution: toExecution(s.execution) };
  }

  /** A shared budget changed (raised, deleted): the steps waiting for it run on. */
  budgetChanged(budgetId: string): { ok: boolean } {
    const s = this.rt.load();
    if (!s || isTerminalExecution(s.execution.status)) return { ok: false };
    this.rt.flushBurst(); // the log stays in order
    const released = decideBudgetRelease(s.steps.values(), budgetId);
    if (!released) return { ok: false };
    this.rt.apply(s, released);
    return { ok: true };
  }

  /**
   * A retry from a step (SPEC §10), on any ended execution: the step, its downstream and whatever
   * did not complete run again (engine/redrive.ts); a new input, checked against the workflow's
   * `input_schema`, comes with a new plan hash.
   */
  async rerun(tenant: string, fromStep: string, newInput: { value: unknown } | null, audit: AuditRow | null): Promise<RerunResult> {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    if (!s.defs.has(fromStep)) return { ok: false, reason: "step_not_found" };
    const refused = (): RerunResult => ({ ok: false, reason: "invalid_state", status: s.execution.status, allowed: allowedExecutionCommands(s.execution.status, "user") });
    if (!transitionExecution(s.execution.status, "rerun").ok) return refused();
    let input: { input: unknown; planHash: string } | null = null;
    if (newInput) {
      const schema = s.execution.definition.input_schema;
      const problems = schema ? validateJsonValue(schema, newInput.value) : [];
      if (problems.length > 0) return { ok: false, reason: "invalid_input", problems };
      input = { input: newInput.value, planHash: await planHashOf(s.execution.definitionHash, newInput.value) };
      if (!transitionExecution(s.execution.status, "rerun").ok) return refused(); // moved on meanwhile
    }
    const { rerun } = redrivePlan(s.plan, s.steps, fromStep);
    this.rt.apply(s, decideRerun(s.execution, s.steps, rerun, fromStep, input, audit, this.rt.deps.clock.now()));
    return { ok: true, execution: toExecution(s.execution) };
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
