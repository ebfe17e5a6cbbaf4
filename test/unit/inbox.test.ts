/** Inbox changes derived in pure code from a transition's events (engine/inbox.ts). */
import { describe, expect, it } from "vitest";
import { inboxChanges } from "../../src/engine/inbox";

const OWNER = { tenant: "t", executionId: "ex_1", workflowId: "wf" };
const AT = 1_000;

describe("inboxChanges", () => {
  it("opens an item for each wait a person or a caller ends, and nothing for other events", () => {
    expect(
      inboxChanges(OWNER, [
        { type: "execution.created", data: {} },
        { type: "approval.requested", data: { kind: "execution", level: 2, expires_at: "2026-01-01T00:00:00.000Z", plan_hash: "abcdef0123456789" } },
        { type: "approval.requested", stepId: "ship", data: { kind: "approval_step", level: 1, expires_at: "x", request_comment: "Ship it?" } },
        { type: "answers.requested", stepId: "q", data: { questions: [{ prompt: "A?" }, { prompt: "B?" }] } },
        { type: "step.waiting", stepId: "paid", data: { kind: "event", event: "payment.settled", until: "u" } },
        { type: "step.waiting", stepId: "nap", data: { kind: "sleep" } },
        { type: "budget.exceeded", stepId: "llm", data: { budget: { id: "execution" } } },
      ], AT),
    ).toEqual([
      { op: "open", kind: "approval", stepId: null, requestedAt: AT, expiresAt: "2026-01-01T00:00:00.000Z", summary: "Review the plan of wf (plan abcdef012345)" },
      { op: "open", kind: "approval", stepId: "ship", requestedAt: AT, expiresAt: "x", summary: "Ship it?" },
      { op: "open", kind: "answers", stepId: "q", requestedAt: AT, expiresAt: null, summary: "A? (+1 more)" },
      { op: "open", kind: "event", stepId: "paid", requestedAt: AT, expiresAt: "u", summary: "Waiting for the signal payment.settled" },
      { op: "open", kind: "budget", stepId: "llm", requestedAt: AT, expiresAt: null, summary: "Step llm waits for a budget raise (execution)" },
    ]);
  });

  it("closes items with how they ended; an expiry that approves reads approved; timeouts expire the step's item; the end closes the rest", () => {
    const closes = inboxChanges(OWNER, [
      { type: "approval.granted", data: { by: "key_a" } },
      { type: "approval.rejected", stepId: "s", data: { by: "key_b" } },
      { type: "approval.expired", data: { action: "approve" } },
      { type: "approval.expired", stepId: "s", data: { action: "reject" } },
      { type: "answers.received", stepId: "q", data: { by: "key_c" } },
      { type: "signal.received", stepId: "paid", data: {} },
      { type: "signal.received", data: { kept: true } },
      { type: "budget.released", stepId: "llm", data: {} },
      { type: "step.completed", stepId: "paid", data: { timed_out: true } },
      { type: "step.failed", stepId: "q", data: { error: { code: "ANSWERS_TIMEOUT" } } },
      { type: "step.failed", stepId: "h", data: { error: { code: "HTTP_STATUS" } } },
      { type: "execution.cancelled", data: {}, time: 5 },
    ], AT);
    expect(closes.map((c) => (c.op === "close" ? [c.kind, c.stepId, c.outcome, c.by] : [c.op]))).toEqual([
      ["approval", null, "approved", "key_a"],
      ["approval", "s", "rejected", "key_b"],
      ["approval", null, "approved", null],
      ["approval", "s", "expired", null],
      ["answers", "q", "answered", "key_c"],
      ["event", "paid", "received", null],
      ["budget", "llm", "raised", null],
      [null, "paid", "expired", null],
      [null, "q", "expired", null],
      ["close_all"],
    ]);
    expect(closes.at(-1)).toEqual({ op: "close_all", at: 5 });
  });
});
