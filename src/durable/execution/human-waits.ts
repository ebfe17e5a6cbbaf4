/**
 * What people decide: answers to an input step, decisions on approval gates, and a gate's expiry
 * (`on_expiry` decides in place of a person). Each change is one transaction: answers through
 * `ExecutionRuntime.apply` of `decideAnswer`, decisions and expiry through `tx`.
 */
import { checkAnswers } from "../../engine/answers";
import { checkDecision } from "../../engine/approvals";
import { decideAnswer, decideCancelOpenSteps } from "../../engine/execution-moves";
import { StepError, type ErrorInfo } from "../../engine/errors";
import { allowedExecutionCommands, isTerminalExecution, transitionExecution, type ExecutionCommand } from "../../engine/state-machine";
import type { ApprovalGate } from "../../schemas/executions";
import type { EventSpec } from "../storage/event-log";
import type { AuditRow } from "../../schemas/audit";
import type { AnswerResult, DecisionArgs, DecisionResult } from "../../schemas/execution-rpc";
import { isoTime } from "../../lib/time";
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
    if (def.type !== "input" || st.status !== "waiting" || !check.ok) {
      return { ok: false, reason: "not_waiting", status: s.execution.status, stepStatus: st.status };
    }
    const answers = checkAnswers(def.questions, given);
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
    const gate = s.execution.approvals[check.index]!;
    const by = audit?.actor ?? null;
    const comment = req.comment ? this.rt.mask(s, req.comment) : undefined;
    this.rt.tx((emit) => {
      Object.assign(gate, { status: req.decision === "approve" ? "approved" : "rejected", decided_at: isoTime(now), by }, comment ? { comment } : {});
      this.rt.timers.clear("approval_expiry", gate.step_id ?? null);
      const decided = { kind: gate.kind, level: gate.level, by, ...(comment ? { comment } : {}) };
      if (req.decision === "approve") {
        emit({ type: "approval.granted", stepId: gate.step_id, data: decided });
        this.openGate(s, gate, emit);
      } else {
        emit({ type: "approval.rejected", stepId: gate.step_id, data: decided });
        const error: ErrorInfo = {
          code: "APPROVAL_REJECTED",
          message: gate.step_id ? `The approval of step '${gate.step_id}' was rejected.` : "The execution was rejected by an approver.",
          ...(gate.step_id ? { step_id: gate.step_id } : {}),
        };
        this.endRejected(s, "reject", "rejected", error, emit);
      }
      if (audit) this.rt.outbox.enqueueAudit(audit, now);
    });
    if (req.decision === "reject") this.rt.abortAll(new StepError("CANCELLED", "The execution was rejected."));
    this.rt.notifyIfEnded(s);
    return { ok: true, execution: toExecution(s.execution) };
  }

  /** An approved gate lets the work it held proceed. Inside a tx; the gate is already marked. */
  private openGate(s: LoadedState, gate: ApprovalGate, emit: (e: EventSpec) => void): void {
    const now = this.rt.deps.clock.now();
    switch (gate.kind) {
      case "execution":
        this.rt.moveExecution(s, "approve");
        // Admitted at once: nothing (no concurrency limit) makes an approved execution queue.
        this.rt.moveExecution(s, "admit", { startedAt: now });
        emit({ type: "execution.started", data: { attempt: s.execution.attempt } });
        return;
      case "step":
        this.rt.moveStep(s.steps.get(gate.step_id!)!, "release");
        this.rt.moveExecution(s, "approve");
        return;
      case "approval_step": {
        const st = s.steps.get(gate.step_id!)!;
        const output = { approved: true, by: gate.by ?? null, ...(gate.comment ? { comment: gate.comment } : {}) };
        this.rt.store.finishAttempt(st.id, st.attempts, "completed", now, output, null);
        this.rt.moveStep(st, "complete", { output, endedAt: now });
        emit({ type: "step.completed", stepId: st.id, data: { attempt: st.attempts, output } });
        this.rt.moveExecution(s, "approve");
        return;
      }
    }
  }

  /** Ends the execution `rejected` (a person said no, or an approval expired). Inside a tx. */
  private endRejected(
    s: LoadedState,
    command: "reject" | "expire_approval",
    reason: "rejected" | "approval_expired",
    error: ErrorInfo,
    emit: (e: EventSpec) => void,
  ): void {
    this.rt.apply(s, decideCancelOpenSteps(s.steps.values(), { code: "CANCELLED", message: "Cancelled because the execution was rejected." }, this.rt.deps.clock.now()));
    this.rt.moveExecution(s, command, { error: { ...error, details: { reason } } });
    emit({ type: "execution.rejected", data: { reason, error: s.execution.error } });
  }

  /** An approval gate's expiry timer: `on_expiry` decides in place of a person. */
  expireGate(s: LoadedState, stepId: string | null): void {
    const gate = s.execution.approvals.find((g) => g.status === "pending" && (stepId === null ? g.kind === "execution" : g.step_id === stepId));
    // `on_expiry` is the workflow gate's (registration allows `approve` at level 1 only); an approval step's expiry rejects.
    const onExpiry = gate?.kind === "execution" ? (s.execution.definition.approval?.on_expiry ?? "reject") : "reject";
    const now = this.rt.deps.clock.now();
    this.rt.tx((emit) => {
      this.rt.timers.clear("approval_expiry", stepId);
      if (!gate || isTerminalExecution(s.execution.status)) return;
      Object.assign(gate, { status: onExpiry === "approve" ? "approved" : "expired", decided_at: isoTime(now), by: null });
      emit({ type: "approval.expired", stepId: gate.step_id, data: { kind: gate.kind, level: gate.level, action: onExpiry } });
      if (onExpiry === "approve") {
        this.openGate(s, gate, emit);
        return;
      }
      const error: ErrorInfo = {
        code: "APPROVAL_EXPIRED",
        message: gate.step_id ? `Nobody decided on step '${gate.step_id}' before ${gate.expires_at}.` : `Nobody approved the execution before ${gate.expires_at}.`,
        ...(gate.step_id ? { step_id: gate.step_id } : {}),
      };
      this.endRejected(s, "expire_approval", "approval_expired", error, emit);
    });
    this.rt.abortAll(new StepError("CANCELLED", "The execution was rejected."));
    this.rt.notifyIfEnded(s);
  }
}
