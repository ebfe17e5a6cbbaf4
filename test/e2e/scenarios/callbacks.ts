/**
 * An event step's callback URL (SPEC §9) through the real wrangler dev: the URL in `waiting_for`
 * points at this server and delivers the signal without an API key, once; a second use is 409, an
 * altered token 404, data that does not match the step's schema 400.
 */
import { describe, expect, it } from "vitest";
import { baseUrl, call, type Execution, uniqueId, until } from "../helpers/client";

interface Waiting extends Execution {
  waiting_for?: { kind: string; step_id?: string; event?: string; callback_url?: string };
  output?: unknown;
}

describe("an event step's callback URL", () => {
  it("delivers once without a key, answering only a receipt; a second use is 409, an altered token 404, bad data 400", async () => {
    const id = uniqueId("callback");
    const start = await call<Waiting>("POST", "/v1/executions", {
      body: {
        definition: {
          id,
          steps: [{ id: "approved", type: "event", event: "vendor.approved", timeout_seconds: 600, schema: { type: "object", required: ["ok"], properties: { ok: { type: "boolean" } } } }],
          output: "steps.approved.output",
        },
      },
    });
    expect(start.status, start.text).toBe(202);
    const waiting = await until<Waiting>(start.body.id, (e) => e.status === "waiting");
    expect(waiting.waiting_for).toMatchObject({ kind: "event", step_id: "approved", event: "vendor.approved" });
    const url = waiting.waiting_for!.callback_url!;
    expect(url.startsWith(`${baseUrl}/v1/callbacks/`), url).toBe(true);
    const path = url.slice(baseUrl.length);

    const bad = await call<{ code: string }>("POST", path, { key: null, body: { data: { ok: "yes" } } });
    expect(bad.status, bad.text).toBe(400);
    const token = path.split("/").pop()!;
    const altered = `/v1/callbacks/${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;
    const forged = await call<{ code: string }>("POST", altered, { key: null, body: { data: { ok: true } } });
    expect(forged.status, forged.text).toBe(404);
    expect(forged.body.code).toBe("CALLBACK_NOT_FOUND");

    const first = await call<{ event: string; step_id: string; received_at: string }>("POST", path, { key: null, body: { data: { ok: true } } });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ event: "vendor.approved", step_id: "approved", received_at: expect.any(String) });
    const again = await call<{ code: string }>("POST", path, { key: null, body: { data: { ok: true } } });
    expect(again.status, again.text).toBe(409);
    expect(again.body.code).toBe("CALLBACK_USED");

    const done = await until<Waiting>(start.body.id, (e) => e.status === "completed");
    expect(done.output).toEqual({ data: { ok: true }, received_at: first.body.received_at, via: "callback" });
  });
});
