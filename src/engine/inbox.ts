/**
 * The inbox (SPEC §10): everything an execution waits for a person (or a caller) to do, derived in
 * pure code from the events of a transition, so no decision can forget to open or close an item.
 * The runtime sends the changes to D1 through the outbox with the transition (runtime.ts `write`).
 *
 * An item is keyed by (execution, kind, step): a gate or a wait that opens again (a retry) reopens
 * its item. It leaves `pending` when it is decided, answered, received or raised, when its wait
 * times out (`expired`), and — every item still pending — when the execution ends (`cancelled`).
 */
import type { EventSpec } from "./model";
import type { InboxChange, InboxOwner } from "../schemas/inbox";

export type { InboxChange, InboxOwner };

const TERMINAL_EVENTS = new Set(["execution.completed", "execution.partial", "execution.failed", "execution.cancelled", "execution.timed_out", "execution.rejected"]);
const WAIT_TIMEOUTS = new Set(["ANSWERS_TIMEOUT", "EVENT_TIMEOUT"]);

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

function approvalSummary(data: Record<string, unknown>, workflowId: string, stepId: string | null): string {
  const comment = str(data.request_comment);
  if (comment) return comment;
  if (data.kind === "execution") return data.level === 2 ? `Review the plan of ${workflowId} (plan ${String(data.plan_hash ?? "").slice(0, 12)})` : `Confirm the start of ${workflowId}`;
  return `Approve step ${stepId ?? "?"} of ${workflowId}`;
}

function answersSummary(data: Record<string, unknown>): string {
  const questions = Array.isArray(data.questions) ? (data.questions as { prompt?: unknown }[]) : [];
  const first = str(questions[0]?.prompt) ?? "Answer the questions";
  return questions.length > 1 ? `${first} (+${questions.length - 1} more)` : first;
}

/** The inbox changes a transition's events make, in their order. `at`: when the transition happened. */
export function inboxChanges(owner: InboxOwner, events: readonly EventSpec[], at: number): InboxChange[] {
  const out: InboxChange[] = [];
  for (const e of events) {
    const data = e.data ?? {};
    const stepId = e.stepId ?? null;
    const time = e.time ?? at;
    switch (e.type) {
      case "approval.requested":
        out.push({ op: "open", kind: "approval", stepId, requestedAt: time, expiresAt: str(data.expires_at), summary: approvalSummary(data, owner.workflowId, stepId) });
        break;
      case "approval.granted":
      case "approval.rejected":
        out.push({ op: "close", kind: "approval", stepId, outcome: e.type === "approval.granted" ? "approved" : "rejected", by: str(data.by), at: time });
        break;
      case "approval.expired":
        out.push({ op: "close", kind: "approval", stepId, outcome: data.action === "approve" ? "approved" : "expired", by: null, at: time });
        break;
      case "answers.requested":
        out.push({ op: "open", kind: "answers", stepId, requestedAt: time, expiresAt: str(data.expires_at), summary: answersSummary(data) });
        break;
      case "answers.received":
        out.push({ op: "close", kind: "answers", stepId, outcome: "answered", by: str(data.by), at: time });
        break;
      case "step.waiting":
        if (data.kind === "event") out.push({ op: "open", kind: "event", stepId, requestedAt: time, expiresAt: str(data.until), summary: `Waiting for the signal ${String(data.event)}` });
        break;
      case "signal.received":
        if (stepId !== null) out.push({ op: "close", kind: "event", stepId, outcome: "received", by: null, at: time });
        break;
      case "budget.exceeded":
        out.push({ op: "open", kind: "budget", stepId, requestedAt: time, expiresAt: null, summary: `Step ${stepId ?? "?"} waits for a budget raise (${String((data.budget as { id?: unknown } | undefined)?.id ?? "budget")})` });
        break;
      case "budget.released":
        out.push({ op: "close", kind: "budget", stepId, outcome: "raised", by: null, at: time });
        break;
      case "step.completed":
        if (data.timed_out === true) out.push({ op: "close", kind: null, stepId, outcome: "expired", by: null, at: time });
        break;
      case "step.failed":
        if (WAIT_TIMEOUTS.has(String((data.error as { code?: unknown } | undefined)?.code))) out.push({ op: "close", kind: null, stepId, outcome: "expired", by: null, at: time });
        break;
      default:
        if (TERMINAL_EVENTS.has(e.type)) out.push({ op: "close_all", at: time });
    }
  }
  return out;
}
