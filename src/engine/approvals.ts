/**
 * Approval gates (SPEC §3): which gate a decision is for, whether it may be taken, and when a gate
 * expires. Pure: the Durable Object persists gates and applies the outcome.
 *
 * Gates:
 * - `execution` (workflow `approval.level` 1 or 2): the execution starts `pending_approval` and
 *   runs only once approved. At level 2 the approver must send the `plan_hash` they reviewed.
 * - `step` (workflow level 3): before each step's first attempt, the step waits for its own
 *   approval (the decision names it with `step_id`). A skipped step is never asked about.
 * - `approval_step` (an `approval` step): the step waits for a decision; approving completes it.
 *   Its own `level` 2 also asks for the plan hash.
 *
 * Decisions:
 * - A gate is decided once. A second decision for it — same or opposite — is refused
 *   (`already_decided`, 409): the first one has already moved the execution on.
 * - A decision without `step_id` is for the execution gate. When no execution gate is pending but
 *   steps are waiting for approval, `step_id` is required (the caller must say which step they
 *   reviewed; guessing would let a stale client approve a step it never saw).
 * - A level-2 gate takes only the execution's plan hash; a missing or different hash is
 *   `plan_hash_mismatch` (409) and changes nothing — the approver reviewed another plan, or none.
 * - Expiry: `step.timeout_seconds` (approval steps), else `approval.expires_in_seconds`, else the
 *   level's default (300/900/1800 s). `on_expiry: reject` (the default) ends the execution
 *   `rejected` with reason `approval_expired`; `approve` lets it proceed as if approved, recorded
 *   with no approver.
 */
import type { WorkflowApproval } from "../schemas/definition";
import type { ApprovalGate, WaitingFor } from "../schemas/executions";
import { isoTime } from "../lib/time";
import { sha256Hex } from "../lib/digest";
import { canonicalJson } from "./canonical-json";
import { APPROVAL_EXPIRY_SECONDS } from "./retry";

/**
 * Gates are the schema's `ApprovalGate` (one type for the record, the wire and the engine). Its
 * status `cancelled`: the execution ended (cancelled, timed out, another gate rejected) before
 * anyone decided; `by` is null when the gate expired or was decided by its `on_expiry`.
 */
export type ApprovalLevel = ApprovalGate["level"];
export type Decision = "approve" | "reject";

export interface DecisionRequest {
  decision: Decision;
  plan_hash?: string | undefined;
  step_id?: string | undefined;
}

export type DecisionCheck =
  | { ok: true; index: number }
  | { ok: false; reason: "already_decided"; gate: ApprovalGate }
  | { ok: false; reason: "step_id_required"; waiting: string[] }
  | { ok: false; reason: "not_waiting" }
  | { ok: false; reason: "plan_hash_mismatch" };

/** The gate `req` decides, or why it cannot be decided. `gates` are the execution's, oldest first. */
export function checkDecision(gates: readonly ApprovalGate[], req: DecisionRequest, planHash: string): DecisionCheck {
  const forTarget = (g: ApprovalGate): boolean => (req.step_id === undefined ? g.kind === "execution" : g.step_id === req.step_id);
  const index = gates.findIndex((g) => g.status === "pending" && forTarget(g));
  if (index < 0) {
    const decided = gates.findLast(forTarget);
    if (decided) return { ok: false, reason: "already_decided", gate: decided };
    const waiting = gates.filter((g) => g.status === "pending" && g.step_id !== undefined).map((g) => g.step_id!);
    if (req.step_id === undefined && waiting.length > 0) return { ok: false, reason: "step_id_required", waiting };
    return { ok: false, reason: "not_waiting" };
  }
  if (gates[index]!.level === 2 && req.plan_hash !== planHash) return { ok: false, reason: "plan_hash_mismatch" };
  return { ok: true, index };
}

/** How long a workflow-level gate (execution or step) waits, in milliseconds. */
export function gateExpiryMs(approval: Pick<WorkflowApproval, "expires_in_seconds">, level: ApprovalLevel): number {
  return (approval.expires_in_seconds ?? APPROVAL_EXPIRY_SECONDS[level]) * 1000;
}

/** The workflow gate an execution of this definition starts behind, if any. */
export function executionGateLevel(approval: WorkflowApproval | undefined): 1 | 2 | null {
  return approval?.level === 1 || approval?.level === 2 ? approval.level : null;
}

/** True when every step of an execution of this definition waits for its own approval first. */
export function stepsNeedApproval(approval: WorkflowApproval | undefined): boolean {
  return approval?.level === 3;
}

/**
 * The plan hash: SHA-256 of the pinned definition (by its content hash) plus the input, in
 * canonical JSON. An approver who reviewed this plan sends it back; any change to either changes it.
 */
export async function planHashOf(definitionHash: string, input: unknown): Promise<string> {
  return sha256Hex(canonicalJson({ definition_hash: definitionHash, input: input ?? null }));
}

/** A gate as it opens: pending from `now` until `expiresAt` (epoch ms). */
export function pendingGate(
  asked: Pick<ApprovalGate, "kind" | "level"> & Partial<Pick<ApprovalGate, "step_id" | "request_comment">>,
  now: number,
  expiresAt: number,
): ApprovalGate {
  const { request_comment, ...gate } = asked;
  return { ...gate, status: "pending", requested_at: isoTime(now), expires_at: isoTime(expiresAt), ...(request_comment !== undefined ? { request_comment } : {}) };
}

/** What a gate asks of its approver besides yes or no: the plan hash (level 2 only) and the step's comment. */
function gateAsks(gate: ApprovalGate, planHash: string): { plan_hash?: string; request_comment?: string } {
  return {
    ...(gate.level === 2 ? { plan_hash: planHash } : {}),
    ...(gate.request_comment ? { request_comment: gate.request_comment } : {}),
  };
}

/** What `waiting_for` says of a pending approval gate. */
export function gateWaitingFor(gate: ApprovalGate, planHash: string): WaitingFor {
  return {
    kind: "approval",
    ...(gate.step_id ? { step_id: gate.step_id } : {}),
    until: gate.expires_at,
    level: gate.level,
    gate: gate.kind,
    ...gateAsks(gate, planHash),
  };
}

export function approvalRequestedData(gate: ApprovalGate, planHash: string): Record<string, unknown> {
  return { kind: gate.kind, level: gate.level, expires_at: gate.expires_at, ...gateAsks(gate, planHash) };
}
