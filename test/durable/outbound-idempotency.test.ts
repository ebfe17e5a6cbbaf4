/**
 * The `Idempotency-Key` an http step sends is the step's, not the attempt's: every re-attempt of a
 * step (after a retryable failure, or after the object was cut off mid-request) carries the same
 * key, so an upstream can de-duplicate a POST it receives twice. Another step, or another
 * execution, sends another key.
 */
import { describe, expect, it } from "vitest";
import { tenantWithKeys } from "../helpers/api";
import { start, stepsOf } from "../helpers/executions";
import { UPSTREAM, marker, requestsWith } from "../helpers/upstream";

const FAST_RETRY = { max_attempts: 4, backoff: "constant", initial_interval_ms: 1, jitter: false };

function definition(m: string) {
  return {
    id: "post-twice",
    steps: [
      { id: "charge", type: "http", retry: FAST_RETRY, request: { method: "POST", url: `${UPSTREAM}/flaky/${m}-charge/2`, body: { amount: 5 } } },
      { id: "notify", type: "http", needs: ["charge"], retry: FAST_RETRY, request: { method: "POST", url: `${UPSTREAM}/flaky/${m}-notify/1`, body: "done" } },
    ],
    output: "steps.charge.output.body.calls",
  };
}

describe("outbound Idempotency-Key", { timeout: 20_000 }, () => {
  it("is the same on every attempt of a step, and differs between steps and executions", async () => {
    const t = await tenantWithKeys("outbound-idem");
    const m = marker("idem");
    const res = await start(t.operator, { definition: definition(m) }, { wait: 20 });
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("completed");
    expect(res.body.output).toBe(3);
    const id = res.body.id;
    // The step really was attempted three times (two 503s, then 200).
    const steps = await stepsOf(t.viewer, id);
    expect(steps[0]!.attempts.map((a) => a.status)).toEqual(["failed", "failed", "completed"]);

    const charge = await requestsWith(`${m}-charge`);
    expect(charge.map((r) => r.method)).toEqual(["POST", "POST", "POST"]);
    expect(new Set(charge.map((r) => r.idempotency_key))).toEqual(new Set([`${id}:charge`]));
    const notify = await requestsWith(`${m}-notify`);
    expect(notify).toHaveLength(2);
    expect(new Set(notify.map((r) => r.idempotency_key))).toEqual(new Set([`${id}:notify`]));

    // Another execution of the same definition sends its own keys.
    const m2 = marker("idem2");
    const again = await start(t.operator, { definition: definition(m2) }, { wait: 20 });
    expect(again.body.status).toBe("completed");
    const other = await requestsWith(`${m2}-charge`);
    expect(other).toHaveLength(3);
    expect(new Set(other.map((r) => r.idempotency_key))).toEqual(new Set([`${again.body.id}:charge`]));
    expect(again.body.id).not.toBe(id);
  });
});
