/** The examples `npm start` registers complete locally, against the demo upstream it starts. */
import { describe, expect, it } from "vitest";
import { call, type Execution, until } from "../helpers/client";

describe("the examples npm start registers", () => {
  it("invoice-review pays a small invoice straight away", async () => {
    const res = await call<Execution>("POST", "/v1/executions?wait=20", { body: { workflow_id: "invoice-review", input: { invoice_id: "INV-1001" } } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "completed", output: { invoice_id: "INV-1001", total: 200.5, paid: true } });
  });

  it("invoice-review asks a person before paying a large one", async () => {
    const res = await call<Execution>("POST", "/v1/executions", { body: { workflow_id: "invoice-review", input: { invoice_id: "INV-2002" } } });
    expect(res.status).toBe(202);
    const waiting = await until<Execution>(res.body.id, (e) => e.status === "waiting");
    expect(waiting.waiting_for).toMatchObject({ kind: "answers", step_id: "confirm" });
    const answered = await call("POST", `/v1/executions/${res.body.id}/steps/confirm/answers`, { body: { answers: { ok: true, note: "approved by finance" } } });
    expect(answered.status, answered.text).toBe(200);
    const done = await until<Execution>(res.body.id, (e) => e.status === "completed");
    expect(done.output).toEqual({ invoice_id: "INV-2002", total: 1750, paid: true });
  });
});
