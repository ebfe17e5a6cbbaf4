/** An event step's one-use callback URL (SPEC §9): no API key, HMAC-bound to tenant, execution, step and attempt. */
import { describe, expect, it } from "vitest";
import { call, expectProblem, tenantWithKeys } from "../helpers/api";
import { start, waitForStatus } from "../helpers/executions";

const awaitsPayment = (extra: Record<string, unknown> = {}) => ({
  definition: {
    id: "awaits-payment",
    steps: [
      { id: "paid", type: "event", event: "payment.settled", schema: { type: "object", required: ["amount"], properties: { amount: { type: "number" } } }, ...extra },
    ],
    output: "steps.paid.output",
  },
});

describe("an event step's callback URL", () => {
  it("delivers once without a key; a second use is 409; a forged token is 404", async () => {
    const t = await tenantWithKeys("sig-cb");
    const started = await start(t.operator, awaitsPayment({ timeout_seconds: 600 }));
    const id = started.body.id;
    const waiting = await waitForStatus(t.viewer, id, ["waiting"]);
    const url = (waiting.waiting_for as unknown as { callback_url: string }).callback_url;
    expect(url).toMatch(/^http:\/\/stepline\.test\/v1\/callbacks\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const path = new URL(url).pathname;
    expectProblem(await call("POST", path, { key: null, body: { data: { amount: "x" } } }), 400, "VALIDATION_FAILED");
    const first = await call("POST", path, { key: null, body: { data: { amount: 5 } } });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ event: "payment.settled", step_id: "paid" });
    expectProblem(await call("POST", path, { key: null, body: { data: { amount: 5 } } }), 409, "CALLBACK_USED");
    const forged = path.slice(0, -3) + (path.endsWith("AAA") ? "BBB" : "AAA");
    expectProblem(await call("POST", forged, { key: null, body: { data: { amount: 5 } } }), 404, "CALLBACK_NOT_FOUND");
    const done = await waitForStatus(t.viewer, id, ["completed", "failed"]);
    expect(done.output).toMatchObject({ data: { amount: 5 }, via: "callback" });
  });
});
