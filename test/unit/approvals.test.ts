import { describe, expect, it } from "vitest";
import { checkDecision, executionGateLevel, gateExpiryMs, planHashOf, stepsNeedApproval } from "../../src/engine/approvals";
import type { ApprovalGate } from "../../src/schemas/executions";

const T = "2026-01-01T00:00:00.000Z";
const gate = (g: Partial<ApprovalGate>): ApprovalGate => ({ kind: "execution", level: 1, status: "pending", requested_at: T, expires_at: T, ...g });
const HASH = "a".repeat(64);

describe("checkDecision", () => {
  it("a decision without step_id is for the pending execution gate", () => {
    expect(checkDecision([gate({})], { decision: "approve" }, HASH)).toEqual({ ok: true, index: 0 });
    expect(checkDecision([gate({})], { decision: "reject" }, HASH)).toEqual({ ok: true, index: 0 });
  });

  it("a decided gate is never decided again, whatever the decision", () => {
    for (const status of ["approved", "rejected", "expired", "cancelled"] as const) {
      const decided = gate({ status });
      for (const decision of ["approve", "reject"] as const) {
        expect(checkDecision([decided], { decision }, HASH)).toEqual({ ok: false, reason: "already_decided", gate: decided });
      }
    }
  });

  it("step gates: found by step_id; the pending one wins over an earlier decided one of the same step", () => {
    const gates = [gate({ kind: "step", step_id: "a", level: 3, status: "approved" }), gate({ kind: "approval_step", step_id: "a", level: 1 })];
    expect(checkDecision(gates, { decision: "approve", step_id: "a" }, HASH)).toEqual({ ok: true, index: 1 });
    expect(checkDecision([gates[0]!], { decision: "approve", step_id: "a" }, HASH)).toMatchObject({ ok: false, reason: "already_decided" });
    expect(checkDecision(gates, { decision: "approve", step_id: "b" }, HASH)).toEqual({ ok: false, reason: "not_waiting" });
  });

  it("without step_id while only steps wait: step_id is required, naming them", () => {
    const gates = [gate({ kind: "step", step_id: "a", level: 3 }), gate({ kind: "step", step_id: "b", level: 3 }), gate({ kind: "step", step_id: "c", level: 3, status: "approved" })];
    expect(checkDecision(gates, { decision: "approve" }, HASH)).toEqual({ ok: false, reason: "step_id_required", waiting: ["a", "b"] });
  });

  it("nothing pending and nothing decided: not waiting", () => {
    expect(checkDecision([], { decision: "approve" }, HASH)).toEqual({ ok: false, reason: "not_waiting" });
    expect(checkDecision([], { decision: "approve", step_id: "a" }, HASH)).toEqual({ ok: false, reason: "not_waiting" });
  });

  it("level 2 takes only the execution's plan hash, for approve and reject alike; other levels ignore it", () => {
    const l2 = [gate({ level: 2 })];
    for (const decision of ["approve", "reject"] as const) {
      expect(checkDecision(l2, { decision, plan_hash: HASH }, HASH)).toEqual({ ok: true, index: 0 });
      expect(checkDecision(l2, { decision }, HASH)).toEqual({ ok: false, reason: "plan_hash_mismatch" });
      expect(checkDecision(l2, { decision, plan_hash: "b".repeat(64) }, HASH)).toEqual({ ok: false, reason: "plan_hash_mismatch" });
      expect(checkDecision(l2, { decision, plan_hash: "" }, HASH)).toEqual({ ok: false, reason: "plan_hash_mismatch" });
    }
    expect(checkDecision([gate({ level: 1 })], { decision: "approve", plan_hash: "whatever" }, HASH)).toEqual({ ok: true, index: 0 });
    expect(checkDecision([gate({ kind: "approval_step", step_id: "x", level: 2 })], { decision: "approve", step_id: "x" }, HASH)).toEqual({
      ok: false,
      reason: "plan_hash_mismatch",
    });
  });
});

describe("gate levels and expiry", () => {
  it("levels 1 and 2 gate the execution, level 3 the steps, 0 nothing", () => {
    expect([0, 1, 2, 3].map((level) => executionGateLevel({ level: level as 0 | 1 | 2 | 3 }))).toEqual([null, 1, 2, null]);
    expect(executionGateLevel(undefined)).toBeNull();
    expect([0, 1, 2, 3].map((level) => stepsNeedApproval({ level: level as 0 | 1 | 2 | 3 }))).toEqual([false, false, false, true]);
  });

  it("expiry: expires_in_seconds, else 5/15/30 minutes by level", () => {
    expect(gateExpiryMs({}, 1)).toBe(300_000);
    expect(gateExpiryMs({}, 2)).toBe(900_000);
    expect(gateExpiryMs({}, 3)).toBe(1_800_000);
    expect(gateExpiryMs({ expires_in_seconds: 42 }, 3)).toBe(42_000);
  });
});

describe("planHashOf", () => {
  it("is stable over key order and changes with the definition or the input", async () => {
    const h = await planHashOf("d1", { a: 1, b: [1, 2] });
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(await planHashOf("d1", { b: [1, 2], a: 1 })).toBe(h);
    expect(await planHashOf("d2", { a: 1, b: [1, 2] })).not.toBe(h);
    expect(await planHashOf("d1", { a: 1, b: [2, 1] })).not.toBe(h);
    expect(await planHashOf("d1", undefined)).toBe(await planHashOf("d1", null));
  });
});
