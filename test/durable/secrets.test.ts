/**
 * Secrets are masked (`***`) wherever the engine records a value — outputs, errors, events, step
 * traces, the execution's output — whichever step or attempt came to hold the value: also a step
 * that never resolved the secret itself, e.g. one that reads back from an upstream a credential an
 * earlier step sent there.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, tenantWithKeys } from "../helpers/api";
import { eventsOf, expectContiguous, start, stepsOf } from "../helpers/executions";
import { stubOf } from "../helpers/objects";
import { UPSTREAM, hits, marker } from "../helpers/upstream";

/** The value of the Worker secret SECRET_API_TOKEN set in vitest.config.ts. */
const SECRET = "tok-stepline-e2e-9f3c7a51d2b84e06";
const FORMS = [SECRET, encodeURIComponent(SECRET), SECRET.slice(4)];

/** Every row of every table of the execution's object, as text. */
function objectStorage(id: string): Promise<string> {
  return runInDurableObject(stubOf(id), (_instance, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'")
      .toArray()
      .map((r) => r.name);
    return JSON.stringify(tables.map((name) => [name, sql.exec(`SELECT * FROM ${name}`).toArray()]));
  });
}

describe("secrets", { timeout: 20_000 }, () => {
  it("are masked in what later steps hold, though they never resolved the secret themselves", async () => {
    expect((env as unknown as Record<string, unknown>).SECRET_API_TOKEN).toBe(SECRET);
    const t = await tenantWithKeys("secret-spread");
    const m = marker("spread");
    const definition = {
      id: "secret-spread",
      steps: [
        // Sends the secret to /echo, which reflects it; the next transform reads the reflection.
        { id: "echo", type: "http", request: { method: "POST", url: `${UPSTREAM}/echo?m=${m}`, headers: { authorization: "Bearer {{ secrets.API_TOKEN }}" } } },
        { id: "show_echo", type: "transform", needs: ["echo"], expression: "steps.echo.output.body.headers.authorization" },
        // Hands the secret to an upstream that keeps it ...
        { id: "keep", type: "http", request: { method: "PUT", url: `${UPSTREAM}/store/${m}`, body: "token={{ secrets.API_TOKEN }}" } },
        // ... and reads it back in a step that resolves no secret at all.
        { id: "fetch", type: "http", needs: ["keep"], request: { method: "GET", url: `${UPSTREAM}/store/${m}` } },
        { id: "show", type: "transform", needs: ["fetch"], expression: "steps.fetch.output.body.value" },
        // An error that quotes the value (the body of an unexpected response).
        { id: "refuse", type: "http", needs: ["keep"], on_error: "continue", expect_status: [201], request: { method: "GET", url: `${UPSTREAM}/store/${m}?again=1` } },
      ],
      output: "[steps.show_echo.output, steps.show.output]",
    };
    const res = await start(t.operator, { definition }, { wait: 20 });
    expect(res.status, res.text).toBe(200);
    const done = res.body;
    expect(done.status).toBe("partial");
    expect(done.output).toEqual(["Bearer ***", "token=***"]);

    // The upstream did receive and keep the real value: it was masked only in what was recorded.
    const kept = (await (await fetch(`${UPSTREAM}/store/${m}`)).json()) as { value: string };
    expect(kept.value).toBe(`token=${SECRET}`);
    expect(await hits(m)).toBe(5);

    const steps = await stepsOf(t.viewer, done.id);
    const byId = new Map(steps.map((s) => [s.id, s]));
    expect(byId.get("fetch")!.output).toMatchObject({ status: 200, body: { value: "token=***" } });
    expect(byId.get("show")!.output).toBe("token=***");
    expect(byId.get("show_echo")!.output).toBe("Bearer ***");
    const refused = byId.get("refuse")!;
    expect(refused.status).toBe("failed");
    expect(refused.error).toMatchObject({ code: "HTTP_STATUS" });
    expect(JSON.stringify(refused.error)).toContain("token=***");

    const events = await eventsOf(t.viewer, done.id);
    expectContiguous(events);
    const completedShow = events.find((e) => e.type === "step.completed" && e.step_id === "show");
    expect(completedShow?.data.output).toBe("token=***");

    const texts: Record<string, string> = {
      execution: (await call("GET", `/v1/executions/${done.id}`, { key: t.viewer })).text,
      result: (await call("GET", `/v1/executions/${done.id}/result`, { key: t.viewer })).text,
      steps: (await call("GET", `/v1/executions/${done.id}/steps`, { key: t.viewer })).text,
      events: (await call("GET", `/v1/executions/${done.id}/events?limit=1000`, { key: t.viewer })).text,
      object: await objectStorage(done.id),
    };
    for (const [where, text] of Object.entries(texts)) {
      expect(text, where).toContain("***");
      for (const form of FORMS) expect(text.includes(form), `the secret is in ${where}`).toBe(false);
    }
  });
});
