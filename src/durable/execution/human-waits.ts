/**
 * What people decide: answers to an input step, decisions on approval gates, and a gate's expiry
 * (`on_expiry` decides in place of a person). Each change is one transaction: answers through
 * `ExecutionRuntime.apply`: `decideAnswer`, `decideApproval`, `decideGateExpiry`.
 */
import { checkDecision } from "../../engine/approvals";
import { decideAnswer } from "../../engine/execution-moves";
import { StepError } from "../../engine/errors";
import { decideApproval, decideGateExpiry } from "../../engine/human-moves";
import { kindOf } from "../../engine/steps/registry";
import { allowedExecutionCommands, isTerminalExecution, transitionExecution, type ExecutionCommand } from "../../engine/state-machine";
import type { AuditRow } from "../../schemas/audit";
import type { AnswerResult, DecisionArgs, DecisionResult } from "../../schemas/execution-rpc";
import { toExecution } from "./read-model";
import type { ExecutionRuntime, LoadedState } from "./runtime";

export class HumanWaits {
  constructor(private readonly rt: ExecutionRuntime) {}

  /** Answers to a waiting input step: validated, then they complete it and the run continues. */
  answer(tenant: string, stepId: string, given: Record<string, unknown>, audit: AuditRow | null = null): AnswerResult {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    const st = s.steps.get(stepId);
    const def = s.defs.get(stepId);
    if (!st || !def) return { ok: false, reason: "step_not_found" };
    const check = transitionExecution(s.execution.status, "answer");
    // Only a step whose kind takes answers (an input step) can be answered.
    const takes = kindOf(def.type, this.rt.deps.kinds)?.answers;
    if (!takes || st.status !== "waiting" || !check.ok) {
      return { ok: false, reason: "not_waiting", status: s.execution.status, stepStatus: st.status };
    }
    const answers = takes.check(def, given);
    if (!answers.ok) return { ok: false, reason: "invalid_answers", problems: answers.problems };
    const answered = this.rt.mask(s, answers.answers);
    const now = this.rt.deps.clock.now();
    this.rt.apply(s, decideAnswer(s.execution, st, answered, audit, now));
    return { ok: true, execution: toExecution(s.execution) };
  }

  /**
   * A person's decision on an approval gate (see src/engine/approvals.ts for which gate and when it
   * is refused). Approve opens the gate: the execution starts, the held step may run, or the
   * approval step completes. Reject ends the execution `rejected`.
   */
  decide(tenant: string, req: DecisionArgs, audit: AuditRow | null = null): DecisionResult {
    const s = this.rt.owned(tenant);
    if (!s) return { ok: false, reason: "not_found" };
    if (req.step_id !== undefined && !s.steps.has(req.step_id)) return { ok: false, reason: "step_not_found" };
    const check = checkDecision(s.execution.approvals, req, s.execution.planHash);
    if (!check.ok) return check;
    const command: ExecutionCommand = req.decision === "approve" ? "approve" : "reject";
    if (!transitionExecution(s.execution.status, command).ok) {
      return { ok: false, reason: "invalid_state", status: s.execution.status, allowed: allowedExecutionCommands(s.execution.status, "user") };
    }
    const now = this.rt.deps.clock.now();
    const comment = req.comment ? this.rt.mask(s, req.comment) : undefined;
    this.rt.apply(s, decideApproval(s.execution, s.steps, check.index, req.decision, audit?.actor ?? null, comment, audit, now));
    if (req.decision === "reject") this.rt.abortAll(new StepError("CANCELLED", "The execution was rejected."));
    this.rt.notifyIfEnded(s);
    return { ok: true, execution: toExecution(s.execution) };
  }

  /** An approval gate's expiry timer: `on_expiry` decides in place of a person. */
  expireGate(s: LoadedState, stepId: string | null): void {
    this.rt.apply(s, decideGateExpiry(s.execution, s.steps, stepId, isTerminalExecution(s.execution.status), this.rt.deps.clock.now()));
    this.rt.abortAll(new StepError("CANCELLED", "The execution was rejected."));
    this.rt.notifyIfEnded(s);
  }
}
