/**
 * Concurrency slots in pure code (SPEC §8): src/engine/slots.ts, and the keyed paths of the
 * decisions that may start an execution — create, retry, and the execution gate's approval (or its
 * expiry with `on_expiry: approve`). Each keyed decision is also walked through the execution
 * table, so it is one the state machine accepts.
 */
import { describe, expect, it } from "vitest";
import { auditRow, executionRecord, NOW, stepRecord } from "../helpers/records";
import { decideAdmit, holdsSlot, QUEUE_TIMEOUT, queueOrAdmit, queueTimer, releasesSlot, slotWaitingFor } from "../../src/engine/slots";
import { decideCreate, decideRetry } from "../../src/engine/execution-moves";
import { decideApproval, decideGateExpiry } from "../../src/engine/human-moves";
import { isTerminalExecution, transitionExecution } from "../../src/engine/state-machine";
import type { Decision } from "../../src/engine/decision";
import type { ExecutionRecord } from "../../src/engine/model";
import type { ExecutionConcurrency } from "../../src/schemas/concurrency";
import type { ApprovalGate, ExecutionStatus } from "../../src/schemas/executions";
import { EXECUTION_STATUSES } from "../../src/schemas/vocabulary";

const keyed = (p: Partial<ExecutionConcurrency> = {}): ExecutionConcurrency => ({ key: "deploy:api", limit: 1, priority: 7, queueTtlSeconds: 120, ...p });

/** The status `from` ends in after the decision's execution moves, each checked against the table. */
function walk(from: ExecutionStatus, decisions: Decision | Decision[]): ExecutionStatus {
  let status = from;
  for (const d of Array.isArray(decisions) ? decisions : [decisions]) {
    for (const m of d.execution ?? []) {
      const t = transitionExecution(status, m.command);
      if (!t.ok) throw new Error(`${status} --${m.command}--> refused`);
      status = t.to;
    }
  }
  return status;
}

describe("slotWaitingFor", () => {
  it("names the key, and the position once the key's object has answered", () => {
    expect(slotWaitingFor("k")).toEqual({ kind: "slot", key: "k" });
    expect(slotWaitingFor("k", 3)).toEqual({ kind: "slot", key: "k", position: 3 });
  });
});

describe("releasesSlot", () => {
  const terminal = (s: ExecutionStatus) => isTerminalExecution(s);

  it("an end from queued, running, waiting or paused gives the slot (or the place) back", () => {
    for (const from of ["queued", "running", "waiting", "paused"] as const) {
      for (const to of ["completed", "partial", "failed", "cancelled", "timed_out", "rejected"] as const) {
        expect(releasesSlot(from, to), `${from} → ${to}`).toBe(true);
      }
    }
  });

  it("no other move does: not an end from pending_approval (it never asked), nor any move between live statuses", () => {
    for (const to of ["cancelled", "rejected", "timed_out"] as const) expect(releasesSlot("pending_approval", to)).toBe(false);
    for (const [from, to] of [
      ["queued", "running"],
      ["running", "waiting"],
      ["waiting", "paused"],
      ["paused", "running"],
      ["pending_approval", "queued"],
      ["failed", "queued"],
    ] as const) {
      expect(releasesSlot(from, to), `${from} → ${to}`).toBe(false);
    }
  });

  it("an ended execution has nothing left to give back", () => {
    for (const from of EXECUTION_STATUSES.filter(terminal)) expect(releasesSlot(from, from)).toBe(false);
  });
});

describe("holdsSlot", () => {
  it("an admitted, live execution of the key holds it: running, waiting, paused", () => {
    for (const status of ["running", "waiting", "paused"] as const) expect(holdsSlot({ status, concurrency: keyed() }, "deploy:api"), status).toBe(true);
  });

  it("not while queued or awaiting approval, not once ended, not for another key, not without a key", () => {
    for (const status of EXECUTION_STATUSES.filter((s) => !["running", "waiting", "paused"].includes(s))) {
      expect(holdsSlot({ status, concurrency: keyed() }, "deploy:api"), status).toBe(false);
    }
    expect(holdsSlot({ status: "running", concurrency: keyed() }, "deploy:web")).toBe(false);
    expect(holdsSlot({ status: "running", concurrency: null }, "deploy:api")).toBe(false);
  });
});

describe("queueTimer", () => {
  it("the TTL as the execution's own queue_timeout; none without a TTL", () => {
    expect(queueTimer(120, NOW)).toEqual({ timers: { set: [{ kind: "queue_timeout", stepId: null, dueAt: NOW + 120_000 }] } });
    expect(queueTimer(null, NOW)).toEqual({});
  });
});

describe("queueOrAdmit", () => {
  const entry = { command: "approve" as const, patch: { pausedFrom: null } };
  const admit = { command: "admit" as const, patch: { startedAt: NOW } };

  it("without a key: the entry, then the admission, at once (execution.started for the attempt)", () => {
    expect(queueOrAdmit(executionRecord({ startedAt: null }), entry, admit, 2, NOW)).toEqual({
      execution: [entry, admit],
      events: [{ type: "execution.started", data: { attempt: 2 } }],
    });
  });

  it("with a key: it waits queued for a slot (the entry's patch kept), with its TTL timer, and says so at its priority; no admission", () => {
    const d = queueOrAdmit(executionRecord({ startedAt: null, concurrency: keyed() }), entry, admit, 1, NOW);
    expect(d).toEqual({
      execution: [{ command: "approve", patch: { pausedFrom: null, waitingFor: { kind: "slot", key: "deploy:api" } } }],
      timers: { set: [{ kind: "queue_timeout", stepId: null, dueAt: NOW + 120_000 }] },
      events: [{ type: "execution.queued", data: { waiting_for: { kind: "slot", key: "deploy:api" }, priority: 7 } }],
    });
    expect(entry.patch).toEqual({ pausedFrom: null }); // the caller's move is not changed in place
  });

  it("with a key and no TTL: no timer", () => {
    const d = queueOrAdmit(executionRecord({ concurrency: keyed({ queueTtlSeconds: null }) }), { command: "retry" }, { command: "admit" }, 2, NOW);
    expect(d.timers).toBeUndefined();
    expect(d.execution).toEqual([{ command: "retry", patch: { waitingFor: { kind: "slot", key: "deploy:api" } } }]);
  });
});

describe("decideAdmit", () => {
  it("the queued execution runs: started now, its queue timer cleared, execution.started for its attempt", () => {
    const e = executionRecord({ status: "queued", startedAt: null, attempt: 1, concurrency: keyed() });
    const d = decideAdmit(e, NOW);
    expect(d).toEqual({
      execution: [{ command: "admit", patch: { startedAt: NOW } }],
      timers: { clear: [{ kind: "queue_timeout", stepId: null }] },
      events: [{ type: "execution.started", data: { attempt: 1 } }],
    });
    expect(walk("queued", d)).toBe("running");
  });

  it("a retried execution keeps the time it first started", () => {
    const e = executionRecord({ status: "queued", startedAt: NOW - 60_000, attempt: 3, concurrency: keyed() });
    expect(decideAdmit(e, NOW)).toMatchObject({ execution: [{ patch: { startedAt: NOW - 60_000 } }], events: [{ data: { attempt: 3 } }] });
  });

  it("QUEUE_TIMEOUT is the error a queue that waited too long ends with", () => {
    expect(QUEUE_TIMEOUT.code).toBe("QUEUE_TIMEOUT");
    expect(QUEUE_TIMEOUT.message).toMatch(/queue_ttl_seconds/);
  });
});

describe("decideCreate with a key", () => {
  const request = (concurrency: ExecutionConcurrency | null, approval?: Record<string, unknown>) => ({
    id: `ex_${"0".repeat(32)}`,
    tenant: "t",
    workflowId: "wf",
    workflowVersion: 1,
    definitionHash: "h",
    definition: { id: "wf", steps: [], timeout_seconds: 600, ...(approval ? { approval } : {}) } as unknown as ExecutionRecord["definition"],
    input: {},
    labels: {},
    requestHash: null,
    planHash: "f".repeat(64),
    prices: {},
    budget: null,
    budgetIds: [],
    concurrency,
    origin: null,
    parent: null,
    depth: 1,
    childVersions: {},
    audit: null,
  });

  it("waits queued for a slot, not started, with its TTL and deadline timers; execution.queued carries the priority", () => {
    const d = decideCreate(request(keyed()), NOW);
    expect(d.created).toMatchObject({ status: "queued", startedAt: null, waitingFor: { kind: "slot", key: "deploy:api" }, concurrency: keyed() });
    expect(d.timers!.set).toEqual([
      { kind: "execution_timeout", stepId: null, dueAt: NOW + 600_000 },
      { kind: "queue_timeout", stepId: null, dueAt: NOW + 120_000 },
    ]);
    expect(d.events).toEqual([
      { type: "execution.created", data: { workflow_id: "wf", workflow_version: 1, labels: {} } },
      { type: "execution.queued", data: { waiting_for: { kind: "slot", key: "deploy:api" }, priority: 7 } },
    ]);
    expect(d.execution).toBeUndefined(); // created queued: no move, and so no admission without the key's object
  });

  it("without a TTL: only the deadline", () => {
    expect(decideCreate(request(keyed({ queueTtlSeconds: null })), NOW).timers!.set).toEqual([{ kind: "execution_timeout", stepId: null, dueAt: NOW + 600_000 }]);
  });

  it("with an approval gate: waits for the approval first, and asks for no slot (no queue timer, no execution.queued)", () => {
    const d = decideCreate(request(keyed(), { level: 1 }), NOW);
    expect(d.created).toMatchObject({ status: "pending_approval", startedAt: null, waitingFor: { kind: "approval" }, concurrency: keyed() });
    expect(d.timers?.set?.map((t) => t.kind)).toEqual(["execution_timeout", "approval_expiry"]);
    expect(d.events.map((e) => e.type)).toEqual(["execution.created", "approval.requested"]);
  });

  it("without a key: runs at once, as before", () => {
    expect(decideCreate(request(null), NOW).created).toMatchObject({ status: "running", startedAt: NOW, waitingFor: null, concurrency: null });
  });
});

describe("decideRetry with a key", () => {
  it("queues again for a slot as its next attempt: new deadline, TTL timer, execution.queued; no admission", () => {
    const e = executionRecord({ status: "failed", attempt: 1, concurrency: keyed() });
    const audit = auditRow("execution.retry");
    const d = decideRetry(e, [stepRecord("a", "failed")], audit, NOW);
    expect(d).toEqual({
      steps: [{ stepId: "a", command: "redrive", patch: { error: null, endedAt: null, nextAttemptAt: null } }],
      execution: [
        {
          command: "retry",
          patch: { attempt: 2, error: null, endedAt: null, output: undefined, deadlineAt: NOW + 60_000, waitingFor: { kind: "slot", key: "deploy:api" } },
        },
      ],
      timers: {
        set: [
          { kind: "execution_timeout", stepId: null, dueAt: NOW + 60_000 },
          { kind: "queue_timeout", stepId: null, dueAt: NOW + 120_000 },
        ],
      },
      outbox: [{ audit, at: NOW }],
      events: [{ type: "execution.queued", data: { waiting_for: { kind: "slot", key: "deploy:api" }, priority: 7 } }],
    });
    expect(walk("failed", d)).toBe("queued");
    expect(walk("timed_out", d)).toBe("queued");
  });

  it("without a key: admitted at once (queued → running in one decision)", () => {
    const d = decideRetry(executionRecord({ status: "failed" }), [], null, NOW);
    expect(walk("failed", d)).toBe("running");
    expect(d.events).toEqual([{ type: "execution.started", data: { attempt: 2 } }]);
  });
});

describe("the execution gate, with a key", () => {
  const gate = (): ApprovalGate =>
    ({ kind: "execution", level: 1, status: "pending", requested_at: "2026-03-01T09:00:00.000Z", expires_at: "2026-03-01T09:30:00.000Z" }) as ApprovalGate;
  const pending = () => executionRecord({ status: "pending_approval", startedAt: null, approvals: [gate()], concurrency: keyed() });

  it("approved: the execution queues for its slot (not running); the audit row follows the move", () => {
    const audit = auditRow("execution.approve");
    const [decided, open] = decideApproval(pending(), new Map(), 0, "approve", "key_1", undefined, audit, NOW);
    expect(decided!.events.map((e) => e.type)).toEqual(["approval.granted"]);
    expect(open).toEqual({
      execution: [{ command: "approve", patch: { waitingFor: { kind: "slot", key: "deploy:api" } } }],
      timers: { set: [{ kind: "queue_timeout", stepId: null, dueAt: NOW + 120_000 }] },
      outbox: [{ audit, at: NOW }],
      events: [{ type: "execution.queued", data: { waiting_for: { kind: "slot", key: "deploy:api" }, priority: 7 } }],
    });
    expect(walk("pending_approval", [decided!, open!])).toBe("queued");
  });

  it("rejected: it ends rejected, having never asked for a slot", () => {
    const d = decideApproval(pending(), new Map(), 0, "reject", "key_1", undefined, null, NOW);
    expect(walk("pending_approval", d)).toBe("rejected");
    expect(d.flatMap((x) => x.events.map((e) => e.type))).not.toContain("execution.queued");
  });

  it("expired with on_expiry approve: queued too", () => {
    const e = { ...pending(), definition: { ...pending().definition, approval: { level: 1, on_expiry: "approve" } } } as ExecutionRecord;
    const d = decideGateExpiry(e, new Map(), null, false, NOW);
    expect(walk("pending_approval", d)).toBe("queued");
    expect(d.at(-1)!.events).toEqual([{ type: "execution.queued", data: { waiting_for: { kind: "slot", key: "deploy:api" }, priority: 7 } }]);
  });
});
