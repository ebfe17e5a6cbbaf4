/**
 * Durable timers of the execution object: sleeps, workflow timeouts and retry backoff are rows
 * behind the object's single alarm. Time is moved with the object's clock (an `OffsetClock`) and
 * the alarm is run with `runDurableObjectAlarm` — no test sleeps through a deadline.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, tenantWithKeys } from "../helpers/api";
import { advanceAndRunAlarm, objectNow, stubOf } from "../helpers/objects";
import { UPSTREAM, hits } from "../helpers/upstream";
import { eventsOf, expectContiguous, start, stepsOf, waitForStatus, type ExecutionBody, type StepBody } from "../helpers/executions";

async function getExecution(key: string, id: string): Promise<ExecutionBody> {
  const res = await call<ExecutionBody>("GET", `/v1/executions/${id}`, { key });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** Polls the step trace until `pred` holds; rejects after `ms`. */
async function waitForSteps(key: string, id: string, pred: (steps: StepBody[]) => boolean, ms = 10_000): Promise<StepBody[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const steps = await stepsOf(key, id);
    if (pred(steps)) return steps;
    if (Date.now() > deadline) throw new Error(`steps of ${id} never matched: ${JSON.stringify(steps)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("wait steps", { timeout: 20_000 }, () => {
  it("seconds: 3600 → waiting for a sleep; the alarm does nothing early; an hour later it completes", async () => {
    const t = await tenantWithKeys("tm-sleep");
    const res = await start(t.operator, {
      definition: {
        id: "hour-nap",
        steps: [
          { id: "nap", type: "wait", seconds: 3600 },
          { id: "after", type: "transform", needs: ["nap"], expression: "'rested'" },
        ],
        output: "steps.after.output",
      },
    });
    expect(res.status, res.text).toBe(202);
    const id = res.body.id;
    const waiting = await waitForStatus(t.viewer, id, ["waiting"]);
    expect(waiting.waiting_for).toMatchObject({ kind: "sleep", step_id: "nap" });
    const until = Date.parse(waiting.waiting_for!.until!);
    expect(until - Date.parse(waiting.started_at!)).toBeGreaterThanOrEqual(3_600_000);
    expect(until - Date.parse(waiting.started_at!)).toBeLessThan(3_600_000 + 60_000);
    const steps = await stepsOf(t.viewer, id);
    expect(steps.map((s) => [s.id, s.status])).toEqual([
      ["nap", "waiting"],
      ["after", "pending"],
    ]);
    expect(steps[0]!.output).toEqual({ waited_until: waiting.waiting_for!.until });

    // The alarm firing before the wake time (e.g. for an index flush) wakes nothing.
    await runDurableObjectAlarm(stubOf(id));
    expect((await getExecution(t.viewer, id)).status).toBe("waiting");

    expect(await advanceAndRunAlarm(id, 3_601_000)).toBe(true);
    const done = await waitForStatus(t.viewer, id, ["completed"]);
    expect(done.output).toBe("rested");
    expect(done.waiting_for).toBeUndefined();
    const after = await stepsOf(t.viewer, id);
    expect(after.map((s) => [s.id, s.status])).toEqual([
      ["nap", "completed"],
      ["after", "completed"],
    ]);
    expect(after[0]!.attempts).toEqual([expect.objectContaining({ attempt: 1, status: "completed", output: { waited_until: waiting.waiting_for!.until } })]);
    // The step ended on the object's clock, past its wake time.
    expect(Date.parse(after[0]!.attempts[0]!.ended_at!)).toBeGreaterThanOrEqual(until);
    const events = await eventsOf(t.viewer, id);
    expectContiguous(events);
    expect(events.map((e) => [e.type, e.step_id ?? null])).toEqual([
      ["execution.created", null],
      ["execution.started", null],
      ["step.started", "nap"],
      ["step.waiting", "nap"],
      ["execution.waiting", null],
      ["step.completed", "nap"],
      ["step.started", "after"],
      ["step.completed", "after"],
      ["execution.completed", null],
    ]);
  });

  it("until in the past completes at once, without waiting", async () => {
    const t = await tenantWithKeys("tm-past");
    const res = await start(
      t.operator,
      {
        definition: {
          id: "past",
          steps: [
            { id: "nap", type: "wait", until: "{{ input.when }}" },
            { id: "after", type: "transform", needs: ["nap"], expression: "steps.nap.output.waited_until" },
          ],
          output: "steps.after.output",
        },
        input: { when: "2020-01-01T00:00:00Z" },
      },
      { wait: 10 },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe("completed");
    // A past instant is clamped to "now": the sleep ended when it started.
    expect(Date.parse(res.body.output as string)).toBeGreaterThanOrEqual(Date.parse(res.body.started_at!));
    const types = (await eventsOf(t.viewer, res.body.id)).map((e) => e.type);
    expect(types).not.toContain("execution.waiting");
    expect(types.at(-1)).toBe("execution.completed");
  });
});

describe("workflow timeout", { timeout: 20_000 }, () => {
  it("timeout_seconds: 60 with a long wait: 61 s later the execution is timed_out and the waiting step cancelled", async () => {
    const t = await tenantWithKeys("tm-timeout");
    const res = await start(t.operator, {
      definition: {
        id: "bounded",
        timeout_seconds: 60,
        steps: [
          { id: "nap", type: "wait", seconds: 3600 },
          { id: "after", type: "transform", needs: ["nap"], expression: "1" },
        ],
      },
    });
    const id = res.body.id;
    await waitForStatus(t.viewer, id, ["waiting"]);
    expect(await advanceAndRunAlarm(id, 61_000)).toBe(true);
    const ended = await getExecution(t.viewer, id);
    expect(ended.status).toBe("timed_out");
    expect(ended.error).toMatchObject({ code: "EXECUTION_TIMEOUT" });
    expect(ended.waiting_for).toBeUndefined();
    expect(ended.ended_at).toBeDefined();
    const steps = await stepsOf(t.viewer, id);
    expect(steps.map((s) => [s.id, s.status])).toEqual([
      ["nap", "cancelled"],
      ["after", "cancelled"],
    ]);
    expect(steps[0]!.attempts).toEqual([expect.objectContaining({ attempt: 1, status: "cancelled", error: expect.objectContaining({ code: "EXECUTION_TIMEOUT" }) })]);
    expect(steps[1]!.attempts).toHaveLength(0);
    const events = await eventsOf(t.viewer, id);
    expectContiguous(events);
    expect(events.map((e) => [e.type, e.step_id ?? null]).slice(-2)).toEqual([
      ["step.cancelled", "nap"],
      ["execution.timed_out", null],
    ]);
    expect(events.at(-1)!.data).toMatchObject({ error: { code: "EXECUTION_TIMEOUT" } });
    const result = await call("GET", `/v1/executions/${id}/result`, { key: t.viewer });
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ id, status: "timed_out", error: { code: "EXECUTION_TIMEOUT" } });
    // Nothing is left to wake: the nap's timer went with the execution.
    await runDurableObjectAlarm(stubOf(id));
    expect((await getExecution(t.viewer, id)).status).toBe("timed_out");
    expect((await eventsOf(t.viewer, id)).length).toBe(events.length);
  });
});

describe("retry backoff on the object's clock", { timeout: 20_000 }, () => {
  it("a 10 minute backoff keeps the step pending until the clock passes it; then the last attempt runs and fails", async () => {
    const t = await tenantWithKeys("tm-backoff");
    const m = `backoff-${crypto.randomUUID()}`;
    const res = await start(t.operator, {
      definition: {
        id: "slow-retry",
        steps: [
          {
            id: "call",
            type: "http",
            request: { method: "GET", url: `${UPSTREAM}/status/503?m=${m}` },
            retry: { max_attempts: 2, initial_interval_ms: 600_000, backoff: "constant", jitter: false },
          },
        ],
      },
    });
    expect(res.status, res.text).toBe(202);
    const id = res.body.id;
    const steps = await waitForSteps(t.viewer, id, (s) => s[0]!.attempts.length === 1 && s[0]!.attempts[0]!.status === "failed" && s[0]!.status === "pending");
    const step = steps[0]!;
    expect(step.attempts[0]!.error).toMatchObject({ code: "HTTP_STATUS" });
    expect(step.next_attempt_at).toBeDefined();
    const nextAt = Date.parse(step.next_attempt_at!);
    // Exactly the constant interval after the failed attempt ended (no jitter), i.e. ~10 minutes ahead.
    expect(nextAt - Date.parse(step.attempts[0]!.ended_at!)).toBe(600_000);
    expect(nextAt).toBeGreaterThan(Date.now() + 500_000);
    // A branch in backoff keeps the execution running (not waiting: nothing waits on the outside world).
    expect((await getExecution(t.viewer, id)).status).toBe("running");
    expect(await hits(m)).toBe(1);

    // The alarm running early starts nothing.
    await runDurableObjectAlarm(stubOf(id));
    const still = await stepsOf(t.viewer, id);
    expect(still[0]).toMatchObject({ status: "pending", next_attempt_at: step.next_attempt_at });
    expect(still[0]!.attempts).toHaveLength(1);
    expect(await hits(m)).toBe(1);
    const retrying = (await eventsOf(t.viewer, id)).filter((e) => e.type === "step.retrying");
    expect(retrying).toHaveLength(1);
    expect(retrying[0]!.data).toMatchObject({ attempt: 1, retry_at: step.next_attempt_at });

    // Ten minutes later (on the object's clock) the second and last attempt runs, and fails.
    expect(await objectNow(id)).toBeLessThan(nextAt);
    expect(await advanceAndRunAlarm(id, 600_001)).toBe(true);
    const failed = await waitForStatus(t.viewer, id, ["failed"]);
    expect(failed.error).toMatchObject({ code: "HTTP_STATUS", step_id: "call", attempt: 2 });
    const after = await stepsOf(t.viewer, id);
    expect(after[0]!.status).toBe("failed");
    expect(after[0]!.attempts.map((a) => [a.attempt, a.status, a.error?.code])).toEqual([
      [1, "failed", "HTTP_STATUS"],
      [2, "failed", "HTTP_STATUS"],
    ]);
    expect(Date.parse(after[0]!.attempts[1]!.started_at)).toBeGreaterThanOrEqual(nextAt);
    expect(after[0]!.next_attempt_at).toBeUndefined();
    expect(await hits(m)).toBe(2);
    const events = await eventsOf(t.viewer, id);
    expectContiguous(events);
    expect(events.map((e) => [e.type, e.data.attempt ?? null])).toEqual([
      ["execution.created", null],
      ["execution.started", 1],
      ["step.started", 1],
      ["step.retrying", 1],
      ["step.started", 2],
      ["step.failed", 2],
      ["execution.failed", null],
    ]);
  });
});

describe("pause and the clock", { timeout: 20_000 }, () => {
  it("a sleep that ends while paused completes its step, but nothing after it starts until resume", async () => {
    const t = await tenantWithKeys("tm-pause");
    const res = await start(t.operator, {
      definition: {
        id: "pause-nap",
        steps: [
          { id: "nap", type: "wait", seconds: 60 },
          { id: "after", type: "transform", needs: ["nap"], expression: "'next'" },
        ],
        output: "steps.after.output",
      },
    });
    const id = res.body.id;
    await waitForStatus(t.viewer, id, ["waiting"]);
    const paused = await call<ExecutionBody>("POST", `/v1/executions/${id}/pause`, { key: t.operator });
    expect(paused.status, paused.text).toBe(200);
    expect(paused.body.status).toBe("paused");

    // The wake time passes while paused.
    expect(await advanceAndRunAlarm(id, 61_000)).toBe(true);
    expect((await getExecution(t.viewer, id)).status).toBe("paused");
    const steps = await stepsOf(t.viewer, id);
    expect(steps.map((s) => [s.id, s.status])).toEqual([
      ["nap", "completed"],
      ["after", "pending"],
    ]);
    expect(steps[1]!.attempts).toHaveLength(0);
    // Running the alarm again (or later) still starts nothing.
    await advanceAndRunAlarm(id, 60_000);
    expect((await getExecution(t.viewer, id)).status).toBe("paused");
    expect((await stepsOf(t.viewer, id))[1]!.attempts).toHaveLength(0);
    const whilePaused = (await eventsOf(t.viewer, id)).map((e) => [e.type, e.step_id ?? null]);
    expect(whilePaused.slice(-2)).toEqual([
      ["execution.paused", null],
      ["step.completed", "nap"],
    ]);

    const resumed = await call<ExecutionBody>("POST", `/v1/executions/${id}/resume`, { key: t.operator });
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body.status).toBe("running");
    // The sleep it was waiting for is over: a running execution waits for nothing (SPEC §3: waiting_for
    // qualifies `waiting`).
    expect(resumed.body.waiting_for, "stale waiting_for after resume").toBeUndefined();
    // The resume re-armed the alarm for now (set in wall-clock time even with a skewed clock): the
    // object drives itself from here.
    const done = await waitForStatus(t.viewer, id, ["completed"]);
    expect(done.output).toBe("next");
    const events = await eventsOf(t.viewer, id);
    expectContiguous(events);
    expect(events.map((e) => [e.type, e.step_id ?? null])).toEqual([
      ["execution.created", null],
      ["execution.started", null],
      ["step.started", "nap"],
      ["step.waiting", "nap"],
      ["execution.waiting", null],
      ["execution.paused", null],
      ["step.completed", "nap"],
      ["execution.resumed", null],
      ["step.started", "after"],
      ["step.completed", "after"],
      ["execution.completed", null],
    ]);
  });
});
