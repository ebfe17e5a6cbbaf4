/**
 * The dry run's driver in pure code (engine/dry-run.ts): the engine's decisions applied in memory,
 * each kind's `simulate` in place of `run`, mocks through the retry policy, waits fast-forwarded,
 * people and signals answered from the request.
 */
import { describe, expect, it } from "vitest";
import { DRY_RUN_APPROVER, dryRun, type DryRunEnvironment, type DryRunRequest } from "../../src/engine/dry-run";
import type { Step, WorkflowDefinition } from "../../src/schemas/definition";
import { isoTime } from "../../src/lib/time";

const NOW = Date.parse("2026-03-01T10:00:00.000Z");
const TOKEN = "tok-DRY-5e1b";

const environment: DryRunEnvironment = {
  now: NOW,
  random: () => 0.5,
  secret: (name) => (name === "TOKEN" ? TOKEN : undefined),
  llm: { baseUrl: "http://127.0.0.1:9999/llm/v1", apiKey: "k", ai: undefined, defaultMaxTokens: 1024 },
  allowedPrivateHosts: ["127.0.0.1:9999"],
};

function request(steps: unknown[], p: Partial<DryRunRequest> & { workflow?: Partial<WorkflowDefinition> } = {}): DryRunRequest {
  const { workflow, ...rest } = p;
  return {
    executionId: "ex_00000000000000000000000000000001",
    tenant: "t",
    workflowId: "wf",
    workflowVersion: 1,
    definitionHash: "h",
    definition: { id: "wf", steps: steps as Step[], ...workflow } as WorkflowDefinition,
    input: { id: "inv-7", n: 3 },
    planHash: "p".repeat(64),
    mocks: {},
    answers: {},
    approve: true,
    signals: {},
    ...rest,
  };
}

const types = (r: { events: { type: string; stepId?: string | undefined }[] }) => r.events.map((e) => (e.stepId ? `${e.type} ${e.stepId}` : e.type));

describe("dryRun", () => {
  it("http: simulated, not sent: output null and what it would send, the token masked; steps downstream run on it", async () => {
    const r = await dryRun(
      request(
        [
          { id: "pay", type: "http", request: { method: "POST", url: "http://127.0.0.1:9999/pay/{{ input.id }}", headers: { authorization: "Bearer {{ secrets.TOKEN }}" }, body: { n: "{{ input.n }}" } } },
          { id: "after", type: "transform", needs: ["pay"], expression: "steps.pay.output = null ? 'nothing came back' : 'sent'" },
        ],
        { workflow: { output: "steps.after.output" } },
      ),
      environment,
    );
    expect(r.status).toBe("completed");
    expect(r.output).toBe("nothing came back");
    expect(r.steps[0]).toEqual({
      id: "pay",
      type: "http",
      status: "completed",
      attempts: 1,
      output: null,
      mocked: false,
      would_send: {
        method: "POST",
        url: "http://127.0.0.1:9999/pay/inv-7",
        headers: { authorization: "Bearer ***", "content-type": "application/json", "idempotency-key": "ex_00000000000000000000000000000001:pay" },
        body: '{"n":3}',
      },
    });
    expect(JSON.stringify(r)).not.toContain(TOKEN);
    expect(types(r)).toEqual([
      "execution.created",
      "execution.started",
      "step.started pay",
      "step.completed pay",
      "step.started after",
      "step.completed after",
      "execution.completed",
    ]);
  });

  it("a mocked output completes the step with it (marked mocked) and feeds what needs it", async () => {
    const r = await dryRun(
      request([
        { id: "fetch", type: "http", request: { method: "GET", url: "http://127.0.0.1:9999/json" } },
        { id: "sum", type: "transform", needs: ["fetch"], expression: "steps.fetch.output.body.total * 2" },
      ], { mocks: { fetch: { output: { status: 200, body: { total: 21 } } } } }),
      environment,
    );
    expect(r.steps.map((s) => [s.id, s.status, s.output, s.mocked, s.would_send])).toEqual([
      ["fetch", "completed", { status: 200, body: { total: 21 } }, true, undefined],
      ["sum", "completed", 42, false, undefined],
    ]);
  });

  it("a mocked error goes through the retry policy: retried with backoff on the dry run's clock, then the step and the run fail", async () => {
    const r = await dryRun(
      request(
        [
          { id: "pay", type: "http", request: { method: "POST", url: "http://127.0.0.1:9999/pay" }, retry: { max_attempts: 3, initial_interval_ms: 1000, backoff_coefficient: 2, jitter: false } },
          { id: "notify", type: "transform", needs: ["pay"], expression: "'paid'" },
        ],
        { mocks: { pay: { error: { code: "HTTP_STATUS", message: "503 from billing" } } } },
      ),
      environment,
    );
    expect(r.status).toBe("failed");
    expect(r.error).toEqual({ code: "HTTP_STATUS", message: "503 from billing", step_id: "pay", attempt: 3 });
    expect(r.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ["pay", "failed", 3],
      ["notify", "cancelled", 0],
    ]);
    const retries = r.events.filter((e) => e.type === "step.retrying");
    expect(retries.map((e) => e.data?.retry_at)).toEqual([isoTime(NOW + 1000), isoTime(NOW + 3000)]);
    expect(r.events.at(-1)).toMatchObject({ type: "execution.failed", time: NOW + 3000 });
  });

  it("a mocked error that is not retryable fails at once; under on_error: continue the run ends partial", async () => {
    const r = await dryRun(
      request([{ id: "pay", type: "transform", expression: "1", on_error: "continue", retry: { max_attempts: 5 } }], {
        mocks: { pay: { error: { code: "CARD_DECLINED", message: "no", retryable: false } } },
      }),
      environment,
    );
    expect(r.status).toBe("partial");
    expect(r.steps[0]).toMatchObject({ status: "failed", attempts: 1, mocked: true, error: { code: "CARD_DECLINED" } });
  });

  it("a wait is fast-forwarded: it completes at once with the time it would have waited until", async () => {
    const r = await dryRun(request([{ id: "w", type: "wait", seconds: 3600 }]), environment);
    expect(r.status).toBe("completed");
    expect(r.steps[0]).toMatchObject({ status: "completed", output: { waited_until: isoTime(NOW + 3_600_000) } });
  });

  it("an approval step: approve true completes it; false ends the run rejected and runs nothing after it", async () => {
    const steps = [
      { id: "ok", type: "approval", comment: "Pay {{ input.id }}?" },
      { id: "pay", type: "transform", needs: ["ok"], expression: "'paid'" },
    ];
    const yes = await dryRun(request(steps), environment);
    expect(yes.status).toBe("completed");
    expect(yes.steps.map((s) => [s.id, s.status, s.output])).toEqual([
      ["ok", "completed", { approved: true, by: DRY_RUN_APPROVER }],
      ["pay", "completed", "paid"],
    ]);
    expect(types(yes)).toContain("approval.granted ok");
    const no = await dryRun(request(steps, { approve: false }), environment);
    expect(no.status).toBe("rejected");
    expect(no.error).toMatchObject({ code: "APPROVAL_REJECTED", step_id: "ok" });
    expect(no.steps.map((s) => s.status)).toEqual(["cancelled", "cancelled"]);
  });

  it("a workflow approval gate (level 1) and level-3 step gates are decided the same way", async () => {
    const gated = await dryRun(request([{ id: "a", type: "transform", expression: "1" }], { workflow: { approval: { level: 1 } } }), environment);
    expect(gated.status).toBe("completed");
    expect(types(gated).slice(0, 4)).toEqual(["execution.created", "approval.requested", "approval.granted", "execution.started"]);
    const rejected = await dryRun(request([{ id: "a", type: "transform", expression: "1" }], { workflow: { approval: { level: 3 } }, approve: false }), environment);
    expect(rejected.status).toBe("rejected");
    expect(rejected.steps[0]).toMatchObject({ status: "cancelled", attempts: 0 });
  });

  it("an input step takes the request's answers; without them it waits out its timeout (fast-forwarded)", async () => {
    const ask = { id: "ask", type: "input", timeout_seconds: 600, questions: [{ id: "amount", prompt: "How much?", type: "number" }, { id: "note", prompt: "Note", type: "string", default: "-" }] };
    const answered = await dryRun(request([ask], { answers: { ask: { amount: 5 } } }), environment);
    expect(answered.steps[0]).toMatchObject({ status: "completed", output: { amount: 5, note: "-" } });
    const unanswered = await dryRun(request([ask]), environment);
    expect(unanswered.status).toBe("failed");
    expect(unanswered.steps[0]).toMatchObject({ status: "failed", error: { code: "ANSWERS_TIMEOUT" } });
    expect(unanswered.events.at(-1)!.time).toBe(NOW + 600_000);
  });

  it("an event step takes the request's signal once; without one its timeout decides (or the execution's)", async () => {
    const steps = [
      { id: "paid", type: "event", event: "payment.settled", timeout_seconds: 60, on_timeout: "continue" },
      { id: "again", type: "event", event: "payment.settled", needs: ["paid"], timeout_seconds: 60, on_timeout: "continue" },
    ];
    const r = await dryRun(request(steps, { signals: { "payment.settled": { amount: 12 } } }), environment);
    expect(r.steps.map((s) => s.output)).toEqual([
      { data: { amount: 12 }, received_at: isoTime(NOW), via: "signal" },
      { data: null, received_at: null, via: "timeout" },
    ]);
    expect(types(r)).toContain("signal.received paid");
    const forever = await dryRun(request([{ id: "paid", type: "event", event: "go" }], { workflow: { timeout_seconds: 120 } }), environment);
    expect(forever.status).toBe("timed_out");
    expect(forever.error).toMatchObject({ code: "EXECUTION_TIMEOUT" });
  });

  it("a workflow step starts no child; an llm step calls nothing; a false `if` skips (and what only needs it)", async () => {
    const r = await dryRun(
      request([
        { id: "child", type: "workflow", workflow_id: "other" },
        { id: "ask", type: "llm", model: "standin-small", prompt: "Say {{ input.id }}", max_tokens: 5 },
        { id: "maybe", type: "transform", if: "input.n > 10", expression: "1" },
        { id: "after", type: "transform", needs: ["maybe"], expression: "2" },
      ], { mocks: { maybe: { output: 9 } } }),
      environment,
    );
    expect(r.steps[2]).toMatchObject({ id: "maybe", mocked: false }); // skipped: its mock was never taken
    expect(r.steps.map((s) => [s.id, s.status, "output" in s ? s.output : "absent"])).toEqual([
      ["child", "completed", null],
      ["ask", "completed", null],
      ["maybe", "skipped", "absent"],
      ["after", "skipped", "absent"],
    ]);
    expect(r.steps[1]!.would_send).toMatchObject({ method: "POST", url: "http://127.0.0.1:9999/llm/v1/chat/completions", headers: { authorization: "Bearer ***" } });
    expect(r.status).toBe("completed");
  });

  it("an output expression that fails fails the run, as in a real one", async () => {
    const r = await dryRun(request([{ id: "a", type: "transform", expression: "1" }], { workflow: { output: "$error('no')" } }), environment);
    expect(r.status).toBe("failed");
    expect(r.error).toMatchObject({ code: "EXPRESSION_ERROR", message: expect.stringContaining("output: ") });
  });
});
