/**
 * Defects found where users run Stepline, each shown over real HTTP (each also has a workerd
 * test beside the code that fixed it).
 */
import { describe, expect, it } from "vitest";
import { apiToken, call, type Execution, uniqueId, upstreamUrl } from "../helpers/client";
import { readSse } from "../helpers/streams";

describe("sync waits", () => {
  it("?wait= that runs out while the execution goes on: 202 with Location and Retry-After", async () => {
    const res = await call<Execution>("POST", "/v1/executions?wait=1", {
      body: { definition: { id: uniqueId("long"), steps: [{ id: "nap", type: "wait", seconds: 30 }] }, input: {} },
    });
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("location")).toBe(`/v1/executions/${res.body.id}`);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(["running", "waiting"]).toContain(res.body.status);
    expect((await call("POST", `/v1/executions/${res.body.id}/cancel`)).status).toBe(200);
  });

  it("an execution that times out while the caller waits: 504 EXECUTION_TIMED_OUT with its id", async () => {
    const res = await call<{ code: string; execution_id: string }>("POST", "/v1/executions?wait=10", {
      body: { definition: { id: uniqueId("timeout"), timeout_seconds: 1, steps: [{ id: "nap", type: "wait", seconds: 30 }] }, input: {} },
    });
    expect(res.status, res.text).toBe(504);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body.code).toBe("EXECUTION_TIMED_OUT");
    const e = await call<Execution>("GET", `/v1/executions/${res.body.execution_id}`);
    expect(e.body.status).toBe("timed_out");
  });
});

describe("idempotency", () => {
  it("a replay of an execution whose workflow was archived since is the replay, not 409", async () => {
    const wf = uniqueId("archived");
    expect((await call("POST", "/v1/workflows", { body: { id: wf, steps: [{ id: "v", type: "transform", expression: "{ 'v': 1 }" }] } })).status).toBe(201);
    const key = uniqueId("key");
    const body = { workflow_id: wf, input: {} };
    const first = await call<Execution>("POST", "/v1/executions?wait=10", { body, headers: { "idempotency-key": key } });
    expect(first.status, first.text).toBe(200);
    expect((await call("DELETE", `/v1/workflows/${wf}`)).status).toBe(200);
    const replay = await call<Execution>("POST", "/v1/executions", { body, headers: { "idempotency-key": key } });
    expect(replay.status, replay.text).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body.id).toBe(first.body.id);
    const fresh = await call("POST", "/v1/executions", { body, headers: { "idempotency-key": uniqueId("key") } });
    expect(fresh.status).toBe(409);
  });

  it("an http step sends the same Idempotency-Key on every re-attempt", async () => {
    const marker = uniqueId("idem-key");
    const definition = (id: string) => ({
      id,
      steps: [{ id: "post", type: "http", request: { method: "POST", url: `${upstreamUrl}/flaky/${marker}-${id}/2`, body: { a: 1 } }, retry: { max_attempts: 3, backoff: "constant", initial_interval_ms: 100 } }],
    });
    for (const id of ["one", "two"]) {
      const res = await call<Execution>("POST", "/v1/executions?wait=15", { body: { definition: definition(id), input: {} } });
      expect(res.body.status, res.text).toBe("completed");
    }
    const hits = async (id: string) =>
      ((await (await fetch(`${upstreamUrl}/__hits?contains=${marker}-${id}`)).json()) as { requests: { idempotency_key: string | null }[] }).requests;
    const one = await hits("one");
    expect(one).toHaveLength(3);
    expect(one[0]?.idempotency_key).toBeTruthy();
    expect(new Set(one.map((r) => r.idempotency_key)).size).toBe(1);
    const two = await hits("two");
    expect(two[0]?.idempotency_key).not.toBe(one[0]?.idempotency_key);
  });
});

describe("secrets", () => {
  it("a secret's value is masked wherever it shows, in later steps too", async () => {
    const res = await call<Execution>("POST", "/v1/executions?wait=15", {
      body: {
        definition: {
          id: uniqueId("secret"),
          steps: [
            { id: "send", type: "http", request: { method: "POST", url: `${upstreamUrl}/echo`, headers: { authorization: "Bearer {{ secrets.API_TOKEN }}" }, body: { token: "{{ secrets.API_TOKEN }}" } } },
            { id: "copy", type: "transform", needs: ["send"], expression: "{ 'seen': steps.send.output.body.headers.authorization, 'body': steps.send.output.body.body }" },
          ],
          output: "steps.copy.output",
        },
        input: {},
      },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("completed");
    for (const path of ["", "/steps", "/events"]) {
      const read = await call("GET", `/v1/executions/${res.body.id}${path}`);
      expect(read.text).not.toContain(apiToken);
      expect(read.text).toContain("***");
    }
    expect(res.text).not.toContain(apiToken);
  });
});

describe("registration checks", () => {
  it("a misspelt retry_on code is a 400 that lists the known codes", async () => {
    const res = await call<{ errors: { path: string; message: string }[] }>("POST", "/v1/workflows", {
      body: { id: uniqueId("retry-on"), steps: [{ id: "h", type: "http", request: { method: "GET", url: `${upstreamUrl}/json` }, retry: { max_attempts: 2, retry_on: ["TIMEOUT"] } }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]?.path).toBe("/steps/0/retry/retry_on/0");
    expect(res.body.errors[0]?.message).toContain("STEP_TIMEOUT");
  });

  it("an impossible date is refused at registration, not at run time", async () => {
    const res = await call<{ errors: { path: string }[] }>("POST", "/v1/workflows", {
      body: { id: uniqueId("feb30"), steps: [{ id: "w", type: "wait", until: "2026-02-30T00:00:00Z" }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e) => e.path)).toContain("/steps/0/until");
  });
});

describe("stream tokens", () => {
  it("stop working once the key that minted them is revoked", async () => {
    const key = await call<{ id: string; key: string }>("POST", "/v1/api-keys", { body: { name: uniqueId("streamer"), role: "viewer" } });
    const run = await call<Execution>("POST", "/v1/executions?wait=10", { body: { definition: { id: uniqueId("tok"), steps: [{ id: "v", type: "transform", expression: "1" }] }, input: {} } });
    const token = await call<{ events_url: string }>("POST", `/v1/executions/${run.body.id}/stream-token`, { key: key.body.key });
    expect(token.status).toBe(201);
    expect((await readSse(token.body.events_url, {})).status).toBe(200);
    expect((await call("DELETE", `/v1/api-keys/${key.body.id}`)).status).toBe(200);
    expect((await readSse(token.body.events_url, {})).status).toBe(401);
  });
});
