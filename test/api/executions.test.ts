import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecutionObject } from "../../src/durable/execution/execution-object";
import { sha256Hex } from "../../src/lib/digest";
import { call, eventually, expectProblem, tenantWithKeys } from "../helpers/api";
import { OffsetClock } from "../helpers/objects";
import {
  NAP_THEN_GO,
  chain,
  eventsOf,
  expectContiguous,
  register,
  start,
  stepsOf,
  waitForStatus,
  type ExecutionBody,
} from "../helpers/executions";

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

describe("POST /v1/executions", () => {
  it("starts a registered workflow: 202 with Location, then runs to completion", async () => {
    const t = await tenantWithKeys("exstart");
    await register(t.operator, chain("adder", 3));
    const res = await start(t.operator, { workflow_id: "adder", input: { n: 40 }, labels: { team: "core" } });
    expect(res.status, res.text).toBe(202);
    expect(res.body.id).toMatch(/^ex_[0-9a-f]{32}$/);
    expect(res.headers.get("location")).toBe(`/v1/executions/${res.body.id}`);
    expect(res.body).toMatchObject({ workflow_id: "adder", workflow_version: 1, input: { n: 40 }, labels: { team: "core" }, attempt: 1 });
    const done = await waitForStatus(t.viewer, res.body.id, ["completed"]);
    expect(done.output).toBe(42);
    expect(Date.parse(done.ended_at!)).toBeGreaterThanOrEqual(Date.parse(done.created_at));
  });

  it("?wait= answers 200 with the output once the execution ends", async () => {
    const t = await tenantWithKeys("exwait");
    await register(t.operator, chain("waiter", 5));
    const res = await start(t.operator, { workflow_id: "waiter", input: { n: 1 } }, { wait: 10 });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "completed", output: 5 });
  });

  it("?wait= reports a failed execution as 200 with its error object, not a 5xx", async () => {
    const t = await tenantWithKeys("exfail");
    const definition = {
      id: "boom",
      steps: [
        { id: "ok", type: "transform", expression: "1" },
        { id: "bad", type: "transform", needs: ["ok"], expression: "$error('kaput')" },
      ],
    };
    const res = await start(t.operator, { definition, input: {} }, { wait: 10 });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("failed");
    expect(res.body.error).toMatchObject({ code: "EXPRESSION_ERROR", step_id: "bad", attempt: 1 });
    expect(res.body.error!.message).toContain("kaput");
    expect(res.body.workflow_version).toBe(0); // inline definitions are not stored
    expectProblem(await call("GET", "/v1/workflows/boom", { key: t.viewer }), 404, "WORKFLOW_NOT_FOUND");
  });

  it("?wait= that runs out while the execution is still going: 202 with Location and Retry-After", async () => {
    const t = await tenantWithKeys("exwaitout");
    const res = await start(t.operator, NAP_THEN_GO, { wait: 1 });
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("location")).toBe(`/v1/executions/${res.body.id}`);
    const retryAfter = res.headers.get("retry-after");
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    expect(res.body).toMatchObject({ id: expect.stringMatching(/^ex_/), status: "waiting", waiting_for: { kind: "sleep", step_id: "nap" } });
    // Without ?wait= the 202 is the ordinary "accepted": no Retry-After.
    const plain = await start(t.operator, NAP_THEN_GO);
    expect(plain.status).toBe(202);
    expect(plain.headers.get("retry-after")).toBeNull();
  });

  it("?wait= when the execution ends timed_out meanwhile: 504 EXECUTION_TIMED_OUT carrying execution_id", async () => {
    const t = await tenantWithKeys("exwait504");
    const definition = { id: "too-slow", timeout_seconds: 1, steps: [{ id: "nap", type: "wait", seconds: 600 }] };
    const res = await start(t.operator, { definition, input: {} }, { wait: 10 });
    const p = expectProblem(res, 504, "EXECUTION_TIMED_OUT") as ReturnType<typeof expectProblem> & { execution_id?: string };
    expect(p.execution_id).toMatch(/^ex_[0-9a-f]{32}$/);
    const ended = await call<ExecutionBody>("GET", `/v1/executions/${p.execution_id}`, { key: t.viewer });
    expect(ended.body).toMatchObject({ status: "timed_out", error: { code: "EXECUTION_TIMEOUT" } });
  });

  it("validates input against input_schema: 400 listing every problem, nothing started", async () => {
    const t = await tenantWithKeys("exinput");
    await register(t.operator, chain("typed", 2, { input_schema: { type: "object", required: ["n"], properties: { n: { type: "number" }, tag: { type: "string" } } } }));
    const res = await start(t.operator, { workflow_id: "typed", input: { tag: 5 } });
    const p = expectProblem(res, 400, "VALIDATION_FAILED");
    expect(p.errors!.map((e) => e.path).sort()).toEqual(["/input", "/input/tag"]);
    const listed = await call<Page<ExecutionBody>>("GET", "/v1/executions", { key: t.viewer });
    expect(listed.body.items).toHaveLength(0);
  });

  it("400 for a bad body, 404 for an unknown workflow or version, 409 for an archived one", async () => {
    const t = await tenantWithKeys("exbad");
    const bad = expectProblem(await start(t.operator, { workflow_id: "x", inputs: {} }), 400, "VALIDATION_FAILED");
    expect(bad.errors!.length).toBeGreaterThan(0);
    expectProblem(await start(t.operator, { workflow_id: "nope" }), 404, "WORKFLOW_NOT_FOUND");
    await register(t.operator, chain("retiring", 1));
    expectProblem(await start(t.operator, { workflow_id: "retiring", version: 2 }), 404, "WORKFLOW_NOT_FOUND");
    await call("DELETE", "/v1/workflows/retiring", { key: t.operator });
    expectProblem(await start(t.operator, { workflow_id: "retiring", input: { n: 1 } }), 409, "WORKFLOW_ARCHIVED");
  });

  it("an inline definition is validated like a registered one", async () => {
    const t = await tenantWithKeys("exinline");
    const res = await start(t.operator, { definition: { id: "cyc", steps: [{ id: "a", type: "transform", expression: "1", needs: ["a"] }] } });
    const p = expectProblem(res, 400, "VALIDATION_FAILED");
    expect(p.errors!.map((e) => e.code)).toContain("SELF_DEPENDENCY");
  });

  it("refuses features the engine cannot run yet with 422, listing them", async () => {
    const t = await tenantWithKeys("exfeatures");
    const res = await start(t.operator, {
      definition: {
        id: "limited",
        concurrency: { key: "one", limit: 1 }, // runs now (SPEC §8)
        steps: [{ id: "q", type: "map", items: [1, 2], step: { id: "each", type: "event", event: "go" } }],
      },
    });
    const p = expectProblem(res, 422, "FEATURE_NOT_AVAILABLE");
    expect(p.errors!.map((e) => e.path).sort()).toEqual(["/steps/0/step/type"]);
  });

  it("403 for viewer and approver; 401 without a key", async () => {
    const t = await tenantWithKeys("exroles");
    await register(t.operator, chain("guarded", 1));
    for (const role of ["viewer", "approver"] as const) {
      expectProblem(await start(t[role], { workflow_id: "guarded", input: { n: 1 } }), 403, "FORBIDDEN");
    }
    expectProblem(await call("POST", "/v1/executions", { key: null, body: { workflow_id: "guarded" } }), 401, "UNAUTHORIZED");
    expect((await start(t.admin, { workflow_id: "guarded", input: { n: 1 } })).status).toBe(202);
  });
});

describe("Idempotency-Key", () => {
  it("the same key and body return the same execution; another body is 422", async () => {
    const t = await tenantWithKeys("exidem");
    await register(t.operator, chain("idem", 2));
    const body = { workflow_id: "idem", input: { n: 1 } };
    const first = await start(t.operator, body, { idempotencyKey: "order-42" });
    expect(first.status).toBe(202);
    const again = await start(t.operator, body, { idempotencyKey: "order-42" });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.id).toBe(first.body.id);
    const other = await start(t.operator, { workflow_id: "idem", input: { n: 2 } }, { idempotencyKey: "order-42" });
    expectProblem(other, 422, "IDEMPOTENCY_KEY_REUSED");
    // Keys are per tenant: another tenant's identical key is a different execution.
    const u = await tenantWithKeys("exidem2");
    await register(u.operator, chain("idem", 2));
    const theirs = await start(u.operator, body, { idempotencyKey: "order-42" });
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).not.toBe(first.body.id);
  });

  it("a replay still answers after the workflow is archived; another body is still 422; a new key is 409 and writes nothing", async () => {
    const t = await tenantWithKeys("exidemarch");
    await register(t.operator, chain("retired", 1));
    const body = { workflow_id: "retired", input: { n: 1 } };
    const first = await start(t.operator, body, { idempotencyKey: "before-archive" });
    expect(first.status, first.text).toBe(202);
    expect((await call("DELETE", "/v1/workflows/retired", { key: t.operator })).status).toBe(200);
    const again = await start(t.operator, body, { idempotencyKey: "before-archive" });
    expect(again.status, again.text).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(`/v1/executions/${first.body.id}`);
    expect(again.body.id).toBe(first.body.id);
    expectProblem(await start(t.operator, { workflow_id: "retired", input: { n: 2 } }, { idempotencyKey: "before-archive" }), 422, "IDEMPOTENCY_KEY_REUSED");
    expectProblem(await start(t.operator, body, { idempotencyKey: "after-archive" }), 409, "WORKFLOW_ARCHIVED");
    // The refused request wrote nothing: not even the schema of the object its key leads to.
    const failedId = `ex_${(await sha256Hex(`idempotency\n${t.tenant}\nafter-archive`)).slice(0, 32)}`;
    const tables = await runInDurableObject(env.EXECUTIONS.getByName(failedId), (_o, state) =>
      state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'").toArray(),
    );
    expect(tables).toEqual([]);
    expectProblem(await call("GET", `/v1/executions/${failedId}`, { key: t.viewer }), 404, "EXECUTION_NOT_FOUND");
    await eventually(async () => {
      const listed = await call<Page<ExecutionBody>>("GET", "/v1/executions?workflow_id=retired", { key: t.viewer });
      expect(listed.body.items.map((e) => e.id)).toEqual([first.body.id]);
    });
  });

  it("a key older than 24 h has expired: reusing it starts a new execution", async () => {
    const t = await tenantWithKeys("exidemold");
    await register(t.operator, chain("daily", 1));
    const key = "nightly-run";
    const firstId = `ex_${(await sha256Hex(`idempotency\n${t.tenant}\n${key}`)).slice(0, 32)}`;
    // The first execution's object runs 25 hours behind: its key is already past the 24 h window.
    await runInDurableObject(env.EXECUTIONS.getByName(firstId), (o) => {
      (o as unknown as ExecutionObject).deps.clock = new OffsetClock(-25 * 3600 * 1000);
    });
    const body = { workflow_id: "daily", input: { n: 1 } };
    const first = await start(t.operator, body, { idempotencyKey: key });
    expect(first.body.id).toBe(firstId);
    const second = await start(t.operator, body, { idempotencyKey: key });
    expect(second.status).toBe(202);
    expect(second.body.id).not.toBe(firstId);
    const third = await start(t.operator, body, { idempotencyKey: key });
    expect(third.status).toBe(200);
    expect(third.headers.get("idempotent-replayed")).toBe("true");
    expect(third.body.id).toBe(second.body.id);
  });

  it("concurrent duplicates create exactly one execution", async () => {
    const t = await tenantWithKeys("exrace");
    await register(t.operator, chain("racy", 3));
    const body = { workflow_id: "racy", input: { n: 0 } };
    const results = await Promise.all(Array.from({ length: 10 }, () => start(t.operator, body, { idempotencyKey: "same-key" })));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(9);
    await waitForStatus(t.viewer, results[0]!.body.id, ["completed"]);
    await eventually(async () => {
      const listed = await call<Page<ExecutionBody>>("GET", "/v1/executions?workflow_id=racy", { key: t.viewer });
      expect(listed.body.items.map((e) => [e.id, e.status])).toEqual([[results[0]!.body.id, "completed"]]);
    });
    const events = await eventsOf(t.viewer, results[0]!.body.id);
    expect(events.filter((e) => e.type === "execution.created")).toHaveLength(1);
  });
});

describe("reading an execution", () => {
  it("steps show status, attempts and outputs; events are contiguous and ordered", async () => {
    const t = await tenantWithKeys("exread");
    await register(t.operator, chain("trace", 3));
    const res = await start(t.operator, { workflow_id: "trace", input: { n: 10 } }, { wait: 10 });
    expect(res.body.status).toBe("completed");
    const steps = await stepsOf(t.viewer, res.body.id);
    expect(steps.map((s) => [s.id, s.type, s.status, s.output])).toEqual([
      ["s0", "transform", "completed", 10],
      ["s1", "transform", "completed", 11],
      ["s2", "transform", "completed", 12],
    ]);
    for (const s of steps) {
      expect(s.attempts).toHaveLength(1);
      expect(s.attempts[0]).toMatchObject({ attempt: 1, status: "completed", output: s.output });
    }
    const events = await eventsOf(t.viewer, res.body.id);
    expectContiguous(events);
    expect(events.map((e) => [e.type, e.step_id ?? null])).toEqual([
      ["execution.created", null],
      ["execution.started", null],
      ["step.started", "s0"],
      ["step.completed", "s0"],
      ["step.started", "s1"],
      ["step.completed", "s1"],
      ["step.started", "s2"],
      ["step.completed", "s2"],
      ["execution.completed", null],
    ]);
    expect(events[8]!.data).toEqual({ output: 12 });
    const page = await call<{ items: { seq: number }[]; next_after: number; terminal: boolean }>(
      "GET",
      `/v1/executions/${res.body.id}/events?after=3&limit=2`,
      { key: t.viewer },
    );
    expect(page.body.items.map((e) => e.seq)).toEqual([4, 5]);
    expect(page.body).toMatchObject({ next_after: 5, terminal: false });
    const tail = await call<{ items: { seq: number }[]; terminal: boolean }>("GET", `/v1/executions/${res.body.id}/events?after=5`, { key: t.viewer });
    expect(tail.body.terminal).toBe(true);
    const result = await call("GET", `/v1/executions/${res.body.id}/result`, { key: t.viewer });
    expect(result.body).toEqual({ id: res.body.id, status: "completed", output: 12 });
  });

  it("another tenant's execution is a 404 everywhere, like a missing one", async () => {
    const a = await tenantWithKeys("exxa");
    const b = await tenantWithKeys("exxb");
    await register(a.operator, chain("mine", 1));
    const res = await start(a.operator, { workflow_id: "mine", input: { n: 1 } }, { wait: 10 });
    const id = res.body.id;
    for (const path of [`/v1/executions/${id}`, `/v1/executions/${id}/steps`, `/v1/executions/${id}/events`, `/v1/executions/${id}/result`]) {
      expectProblem(await call("GET", path, { key: b.admin }), 404, "EXECUTION_NOT_FOUND");
    }
    expectProblem(await call("POST", `/v1/executions/${id}/cancel`, { key: b.admin }), 404, "EXECUTION_NOT_FOUND");
    expectProblem(await call("GET", "/v1/executions/ex_00000000000000000000000000000000", { key: b.admin }), 404, "EXECUTION_NOT_FOUND");
    expectProblem(await call("GET", "/v1/executions/not-an-id", { key: b.admin }), 404, "EXECUTION_NOT_FOUND");
    const listed = await call<Page<ExecutionBody>>("GET", "/v1/executions", { key: b.admin });
    expect(listed.body.items).toHaveLength(0);
  });
});

describe("cancel, pause, resume, retry", () => {
  it("cancel ends a sleeping execution; a second cancel is 409 with the current status", async () => {
    const t = await tenantWithKeys("excancel");
    const res = await start(t.operator, { definition: { id: "sleepy", steps: [{ id: "nap", type: "wait", seconds: 3600 }] } });
    const waiting = await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    expect(waiting.waiting_for).toMatchObject({ kind: "sleep", step_id: "nap" });
    const early = expectProblem(await call("GET", `/v1/executions/${res.body.id}/result`, { key: t.viewer }), 409, "INVALID_STATE");
    expect(early).toMatchObject({ current_status: "waiting" });
    // What a waiting execution allows, from the state machine's table (not a list kept by the route).
    expect((early as unknown as { allowed_actions: string[] }).allowed_actions).toEqual(expect.arrayContaining(["cancel", "pause"]));
    expect((early as unknown as { allowed_actions: string[] }).allowed_actions).not.toContain("resume");
    expectProblem(await call("POST", `/v1/executions/${res.body.id}/cancel`, { key: t.viewer }), 403, "FORBIDDEN");
    const cancelled = await call<ExecutionBody>("POST", `/v1/executions/${res.body.id}/cancel`, { key: t.operator });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    const again = expectProblem(await call("POST", `/v1/executions/${res.body.id}/cancel`, { key: t.operator }), 409, "INVALID_STATE");
    expect(again).toMatchObject({ current_status: "cancelled" });
    expect((await stepsOf(t.viewer, res.body.id))[0]).toMatchObject({ status: "cancelled" });
    const result = await call("GET", `/v1/executions/${res.body.id}/result`, { key: t.viewer });
    expect(result.body).toMatchObject({ status: "cancelled" });
  });

  it("pause holds a sleeping execution; resume continues it", async () => {
    const t = await tenantWithKeys("expause");
    const res = await start(t.operator, { definition: { id: "pausable", steps: [{ id: "nap", type: "wait", seconds: 3600 }] } });
    await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    const paused = await call<ExecutionBody>("POST", `/v1/executions/${res.body.id}/pause`, { key: t.operator });
    expect(paused.body.status).toBe("paused");
    expectProblem(await call("POST", `/v1/executions/${res.body.id}/pause`, { key: t.operator }), 409, "INVALID_STATE");
    const resumed = await call<ExecutionBody>("POST", `/v1/executions/${res.body.id}/resume`, { key: t.operator });
    expect(resumed.body.status).toBe("running");
    await waitForStatus(t.viewer, res.body.id, ["waiting"]);
    const types = (await eventsOf(t.viewer, res.body.id)).map((e) => e.type);
    expect(types.slice(-3)).toEqual(["execution.paused", "execution.resumed", "execution.waiting"]);
  });

  it("retry re-runs a failed execution from its failed step, keeping completed ones", async () => {
    const t = await tenantWithKeys("exretry");
    const definition = {
      id: "second-time-lucky",
      steps: [
        { id: "first", type: "transform", expression: "'done once'" },
        { id: "flaky", type: "transform", needs: ["first"], expression: "execution.attempt = 1 ? $error('not yet') : 'ok'" },
      ],
      output: "steps.flaky.output",
    };
    const failed = await start(t.operator, { definition }, { wait: 10 });
    expect(failed.body.status).toBe("failed");
    expectProblem(await call("POST", `/v1/executions/${failed.body.id}/resume`, { key: t.operator }), 409, "INVALID_STATE");
    const retried = await call<ExecutionBody>("POST", `/v1/executions/${failed.body.id}/retry`, { key: t.operator });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ status: "running", attempt: 2 });
    expect(retried.body.error).toBeUndefined();
    const done = await waitForStatus(t.viewer, failed.body.id, ["completed"]);
    expect(done.output).toBe("ok");
    const steps = await stepsOf(t.viewer, failed.body.id);
    expect(steps[0]!.attempts).toHaveLength(1); // the completed step did not run again
    expect(steps[1]!.attempts.map((a) => a.status)).toEqual(["failed", "completed"]);
    expectProblem(await call("POST", `/v1/executions/${failed.body.id}/retry`, { key: t.operator }), 409, "INVALID_STATE");
  });

  it("on_error: continue makes the execution partial; if false skips, and skips spread", async () => {
    const t = await tenantWithKeys("expartial");
    const definition = {
      id: "tolerant",
      steps: [
        { id: "broken", type: "transform", expression: "$error('nope')", on_error: "continue" },
        { id: "after", type: "transform", needs: ["broken"], expression: "steps.broken.status" },
        { id: "maybe", type: "transform", if: "false", expression: "1" },
        { id: "only_after_skipped", type: "transform", needs: ["maybe"], expression: "2" },
      ],
      output: "steps.after.output",
    };
    const res = await start(t.operator, { definition }, { wait: 10 });
    expect(res.body).toMatchObject({ status: "partial", output: "failed" });
    const steps = await stepsOf(t.viewer, res.body.id);
    expect(steps.map((s) => [s.id, s.status])).toEqual([
      ["broken", "failed"],
      ["after", "completed"],
      ["maybe", "skipped"],
      ["only_after_skipped", "skipped"],
    ]);
  });
});

describe("GET /v1/executions", () => {
  it("filters by workflow, status, label and creation time, newest first, with keyset paging", async () => {
    const t = await tenantWithKeys("exlist");
    await register(t.operator, chain("fast", 1));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await start(t.operator, { workflow_id: "fast", input: { n: i }, labels: { batch: i % 2 === 0 ? "even" : "odd" } }, { wait: 10 });
      ids.push(r.body.id);
    }
    const sleeper = await start(t.operator, { definition: { id: "sleeper", steps: [{ id: "nap", type: "wait", seconds: 3600 }] } });
    await waitForStatus(t.viewer, sleeper.body.id, ["waiting"]);

    // The index converges asynchronously (flushed after each transition): wait for it once.
    const all = await eventually(async () => {
      const res = await call<Page<{ id: string; status: string }>>("GET", "/v1/executions?limit=100", { key: t.viewer });
      expect(res.body.items.map((e) => [e.id, e.status])).toEqual([
        [sleeper.body.id, "waiting"],
        ...ids.slice().reverse().map((id) => [id, "completed"]),
      ]);
      return res;
    });

    const completed = await call<Page<{ id: string }>>("GET", "/v1/executions?status=completed", { key: t.viewer });
    expect(completed.body.items.map((e) => e.id)).toEqual(ids.slice().reverse());
    const waiting = await call<Page<{ id: string }>>("GET", "/v1/executions?status=waiting", { key: t.viewer });
    expect(waiting.body.items.map((e) => e.id)).toEqual([sleeper.body.id]);
    const byWorkflow = await call<Page<{ id: string }>>("GET", "/v1/executions?workflow_id=sleeper", { key: t.viewer });
    expect(byWorkflow.body.items.map((e) => e.id)).toEqual([sleeper.body.id]);
    const even = await call<Page<{ id: string }>>("GET", "/v1/executions?label=batch:even", { key: t.viewer });
    expect(even.body.items.map((e) => e.id)).toEqual([ids[4], ids[2], ids[0]]);
    const future = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    expect((await call<Page<unknown>>("GET", `/v1/executions?created_after=${future}`, { key: t.viewer })).body.items).toHaveLength(0);
    expect((await call<Page<unknown>>("GET", `/v1/executions?created_before=${future}`, { key: t.viewer })).body.items).toHaveLength(6);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: Page<{ id: string }> } = await call<Page<{ id: string }>>(
        "GET",
        `/v1/executions?limit=4${cursor ? `&cursor=${cursor}` : ""}`,
        { key: t.viewer },
      );
      seen.push(...page.body.items.map((e) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((e) => e.id));

    const bad = expectProblem(await call("GET", "/v1/executions?status=done&limit=500", { key: t.viewer }), 400, "VALIDATION_FAILED");
    expect(bad.errors!.map((e) => e.path).sort()).toEqual(["/limit", "/status"]);
  });

  it("writes are audited", async () => {
    const t = await tenantWithKeys("exaudit");
    const res = await start(t.operator, { definition: { id: "aud", steps: [{ id: "nap", type: "wait", seconds: 3600 }] } });
    await call("POST", `/v1/executions/${res.body.id}/cancel`, { key: t.operator });
    await call("POST", `/v1/executions/${res.body.id}/cancel`, { key: t.operator }); // 409: recorded as a failure
    // Rows of requests the execution's object carried out reach D1 with its index flush.
    await eventually(async () => {
      const audit = await call<Page<{ action: string; target: string; result: string; status: number }>>("GET", "/v1/audit?limit=10", { key: t.admin });
      const rows = audit.body.items.filter((e) => e.action.startsWith("execution.")).map((e) => [e.action, e.target, e.result, e.status]);
      expect(rows).toHaveLength(3);
      expect(rows).toEqual(
        expect.arrayContaining([
          ["execution.cancel", res.body.id, "failure", 409],
          ["execution.cancel", res.body.id, "success", 200],
          ["execution.start", res.body.id, "success", 202],
        ]),
      );
    });
  });
});
