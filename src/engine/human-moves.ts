/**
 * Decisions people take on approval gates, in pure code (see engine/decision.ts; applied by
 * `ExecutionRuntime.apply`): a person's approve or reject (`decideApproval`), and a gate's expiry,
 * where `on_expiry` decides in place of a person (`decideGateExpiry`). The gate changes in place
 * (`decidedGates`); approving lets the work it held proceed, rejecting (or expiring) ends the
 * execution `rejected` with its open steps cancelled. Which gate and whether the decision may be
 * taken is `checkDecision` (engine/approvals.ts), checked by the caller first.
 */
import { audited, type Decision } from "./decision";
import type { ErrorInfo } from "./errors";
import { decideCancelOpenSteps } from "./execution-moves";
import type { ExecutionRecord, StepRecord } from "./model";
import { queueOrAdmit } from "./slots";
import { transitionExecution } from "./state-machine";
import type { AuditRow } from "../schemas/audit";
import type { ApprovalGate } from "../schemas/executions";
import { isoTime } from "../lib/time";

/** What an approved gate lets proceed: the execution starts, the held step is released, or the approval step completes. */
function openGate(execution: Readonly<ExecutionRecord>, steps: ReadonlyMap<string, Readonly<StepRecord>>, gate: Readonly<ApprovalGate>, by: string | null, comment: string | undefined, now: number): Decision {
  switch (gate.kind) {
    case "execution":
      // Approved, it may start: admitted at once, or queued for its concurrency key's slot.
      return queueOrAdmit(execution, { command: "approve" }, { command: "admit", patch: { startedAt: now } }, execution.attempt, now);
    case "step":
      return { steps: [{ stepId: gate.step_id!, command: "release" }], execution: [{ command: "approve" }], events: [] };
    case "approval_step": {
      const st = steps.get(gate.step_id!)!;
      const output = { approved: true, by, ...(comment ? { comment } : {}) };
      return {
        finished: [{ stepId: st.id, attempt: st.attempts, status: "completed", endedAt: now, output, error: null }],
        steps: [{ stepId: st.id, command: "complete", patch: { output, endedAt: now } }],
        execution: [{ command: "approve" }],
        events: [{ type: "step.completed", stepId: st.id, data: { attempt: st.attempts, output } }],
      };
    }
  }
}

/** The execution ends `rejected` (a person said no, or an approval expired): open steps cancelled, then the execution's move. */
function endRejected(
  execution: Readonly<ExecutionRecord>,
  steps: ReadonlyMap<string, Readonly<StepRecord>>,
  command: "reject" | "expire_approval",
  reason: "rejected" | "approval_expired",
  error: ErrorInfo,
  now: number,
): Decision[] {
  const ended: ErrorInfo = { ...error, details: { reason } };
  // A move the table refuses changes nothing: the event then shows the error the execution has.
  const shown = transitionExecution(execution.status, command).ok ? ended : execution.error;
  return [
    ...decideCancelOpenSteps(steps.values(), { code: "CANCELLED", message: "Cancelled because the execution was rejected." }, now),
    { execution: [{ command, patch: { error: ended } }], events: [{ type: "execution.rejected", data: { reason, error: shown } }] },
  ];
}

/**
 * A person's decision on the pending gate at `index` (`by`: who; `comment`: masked). The caller
 * checked the decision (`checkDecision`) and the execution's command. The request's audit row
 * follows the execution's move.
 */
export function decideApproval(
  execution: Readonly<ExecutionRecord>,
  steps: ReadonlyMap<string, Readonly<StepRecord>>,
  index: number,
  decision: "approve" | "reject",
  by: string | null,
  comment: string | undefined,
  audit: AuditRow | null,
  now: number,
): Decision[] {
  const gate = execution.approvals[index]!;
  const decided = { kind: gate.kind, level: gate.level, by, ...(comment ? { comment } : {}) };
  const first: Decision = {
    decidedGates: [{ index, patch: { status: decision === "approve" ? "approved" : "rejected", decided_at: isoTime(now), by, ...(comment ? { comment } : {}) } }],
    timers: { clear: [{ kind: "approval_expiry", stepId: gate.step_id ?? null }] },
    events: [{ type: decision === "approve" ? "approval.granted" : "approval.rejected", stepId: gate.step_id, data: decided }],
  };
  let rest: Decision[];
  if (decision === "approve") {
    rest = [openGate(execution, steps, gate, by, comment, now)];
  } else {
    const error: ErrorInfo = {
      code: "APPROVAL_REJECTED",
      message: gate.step_id ? `The approval of step '${gate.step_id}' was rejected.` : "The execution was rejected by an approver.",
      ...(gate.step_id ? { step_id: gate.step_id } : {}),
    };
    rest = endRejected(execution, steps, "reject", "rejected", error, now);
  }
  const last = rest[rest.length - 1]!;
  rest[rest.length - 1] = { ...last, ...audited(audit, now) };
  return [first, ...rest];
}

/**
 * An approval gate's expiry timer (`stepId` null: the execution's gate). Its timer is cleared; a
 * gate still pending on a live execution is then decided by `on_expiry` — the workflow gate's
 * (registration allows `approve` at level 1 only); an approval step's expiry rejects.
 */
export function decideGateExpiry(
  execution: Readonly<ExecutionRecord>,
  steps: ReadonlyMap<string, Readonly<StepRecord>>,
  stepId: string | null,
  terminal: boolean,
  now: number,
): Decision[] {
  const clear: Decision = { timers: { clear: [{ kind: "approval_expiry", stepId }] }, events: [] };
  const index = execution.approvals.findIndex((g) => g.status === "pending" && (stepId === null ? g.kind === "execution" : g.step_id === stepId));
  const gate = index < 0 ? undefined : execution.approvals[index]!;
  if (!gate || terminal) return [clear];
  const onExpiry = gate.kind === "execution" ? (execution.definition.approval?.on_expiry ?? "reject") : "reject";
  const first: Decision = {
    ...clear,
    decidedGates: [{ index, patch: { status: onExpiry === "approve" ? "approved" : "expired", decided_at: isoTime(now), by: null } }],
    events: [{ type: "approval.expired", stepId: gate.step_id, data: { kind: gate.kind, level: gate.level, action: onExpiry } }],
  };
  if (onExpiry === "approve") return [first, openGate(execution, steps, gate, null, undefined, now)];
  const error: ErrorInfo = {
    code: "APPROVAL_EXPIRED",
    message: gate.step_id ? `Nobody decided on step '${gate.step_id}' before ${gate.expires_at}.` : `Nobody approved the execution before ${gate.expires_at}.`,
    ...(gate.step_id ? { step_id: gate.step_id } : {}),
  };
  return [first, ...endRejected(execution, steps, "expire_approval", "approval_expired", error, now)];
}
