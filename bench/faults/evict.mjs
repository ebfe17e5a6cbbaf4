/* global performance */
// Cases "evict" and "midstep": the execution's object is evicted (`ctx.abort()`: its instance and
// memory gone, storage kept) by the wrapper Worker bench/faults/evict-worker.mjs, served instead of
// src/index.ts by a generated copy of wrangler.toml:
//
//   evict    after every step's completion became durable (each step of each execution once);
//   midstep  while each http step's request to the effects upstream (held 300 ms) is in flight.
//
// Nothing reads an execution until the D1 listing shows it ended, so only the object's own alarm
// (and the start-up catch-up of the new instance it wakes) can bring it back. Then every execution
// must be completed with the right output, once, with a gapless log, a matching index row, each
// http step's request received at least once and every delivery of it carrying the step's one
// Idempotency-Key. The evictions are counted from the service's log (one `fault_injected` line
// each, naming the execution and the step).
import { fmt } from "../lib/report.mjs";
import { benchVars } from "../lib/targets.mjs";
import { countingClient, fivexxOf, waitTerminal } from "./client.mjs";
import { startLoad, summarizeLoad } from "./load.mjs";
import { logNote, startFaultService } from "./service.mjs";
import { agreedCell, esc, statusCell, sum, tableHead } from "./report.mjs";
import { checkIndex, verifyExecutions } from "./verify.mjs";

const HOLD_MS = 300;
const EVICT_AFTER_MS = 100;
/** What the request of step `stepId` of the execution of input `n` carries in its body (the upstream files deliveries by it). */
const tagOf = (workflowId) => (n, stepId) => `${workflowId}:${n}:${stepId}`;
const post = (effectsBase, workflowId, stepId, needs, holdMs = 0) => ({
  id: stepId,
  type: "http",
  needs,
  request: { method: "POST", url: `${effectsBase}/effect${holdMs ? `?ms=${holdMs}` : ""}`, body: { n: "{{ input.n }}", tag: tagOf(workflowId)("{{ input.n }}", stepId) } },
});

/** a: transform; send: POST; b: transform; pause: a 1 s wait; c: a transform over all of them. */
function boundaryWorkflow(effectsBase) {
  return {
    id: "faults-evict",
    name: "Fault case: evicted at every step boundary",
    steps: [
      { id: "a", type: "transform", expression: "input.n + 1" },
      post(effectsBase, "faults-evict", "send", ["a"]),
      { id: "b", type: "transform", expression: "steps.a.output * 2", needs: ["send"] },
      { id: "pause", type: "wait", seconds: 1, needs: ["b"] },
      { id: "c", type: "transform", expression: "steps.b.output + steps.send.output.status", needs: ["pause"] },
    ],
    output: "steps.c.output",
  };
}

/** a: transform; send: POST held 300 ms; b: transform; notify: POST held 300 ms; c: a transform over all. */
function midstepWorkflow(effectsBase) {
  return {
    id: "faults-midstep",
    name: "Fault case: evicted in the middle of a step",
    steps: [
      { id: "a", type: "transform", expression: "input.n + 1" },
      post(effectsBase, "faults-midstep", "send", ["a"], HOLD_MS),
      { id: "b", type: "transform", expression: "steps.a.output * 2", needs: ["send"] },
      post(effectsBase, "faults-midstep", "notify", ["b"], HOLD_MS),
      { id: "c", type: "transform", expression: "steps.b.output + steps.send.output.status + steps.notify.output.status", needs: ["notify"] },
    ],
    output: "steps.c.output",
  };
}

const VARIANTS = {
  evict: {
    mode: "boundary",
    fault: "evict_boundary",
    workflow: boundaryWorkflow,
    httpSteps: ["send"],
    expectedOutput: (n) => (n + 1) * 2 + 200,
    /** The steps an eviction line covers. */
    covers: (f) => f.after ?? [],
  },
  midstep: {
    mode: "midstep",
    fault: "evict_midstep",
    workflow: midstepWorkflow,
    httpSteps: ["send", "notify"],
    expectedOutput: (n) => (n + 1) * 2 + 400,
    covers: (f) => (f.step ? [f.step] : []),
  },
};

function evictionCase(id, { title, describe, notes, faults, details }) {
  const v = VARIANTS[id];
  return {
    id,
    title,
    describe,
    notes,
    faults,
    details,
    async run(ctx) {
      const { runIndex, effectsPort, logDir } = ctx;
      const vars = benchVars({ ALLOWED_PRIVATE_HOSTS: `127.0.0.1:${effectsPort}`, FAULT_EVICT: v.mode, FAULT_EVICT_AFTER_MS: String(EVICT_AFTER_MS) });
      const { svc, done } = await startFaultService({ name: `${id}-run${runIndex}`, vars, worker: "evict-worker.mjs", logDir, countPatterns: { evictions: new RegExp(`"fault":"${v.fault}"`) } });
      try {
        return await evictionRun(ctx, id, v, svc, vars);
      } finally {
        await done();
      }
    },
  };
}

async function evictionRun({ opts, effects, effectsBase, runIndex }, id, v, svc, vars) {
  const client = countingClient(svc.base, vars.ADMIN_API_KEY);
  const workflow = v.workflow(effectsBase);
  await client.ok("POST", "/v1/workflows", { body: workflow });
  const t0 = performance.now();
  const load = startLoad({ client, concurrency: opts[`${id}Concurrency`], count: opts[`${id}Executions`], make: (i) => ({ body: { workflow_id: workflow.id, input: { n: i } } }) });
  const { records } = await load.done;
  const acked = records.filter((r) => r.id);
  const ids = acked.map((r) => r.id);
  const wait = await waitTerminal(client, workflow.id, ids, { listingMs: opts.listingWaitMs });
  const endMs = performance.now() - t0;
  logNote(`${id} run ${runIndex}: ${ids.length - wait.not_terminal.length} of ${ids.length} ended in ${(endMs / 1000).toFixed(1)} s; ${svc.counts.get("evictions")} evictions; checking each`);
  const { result: verify, statusById } = await verifyExecutions(client, acked.map((r) => ({ id: r.id, n: r.i })), { httpStepIds: v.httpSteps, tagOf: tagOf(workflow.id), effects, expectedOutput: v.expectedOutput });
  const index = await checkIndex(client, workflow.id, statusById);
  return {
    run: runIndex,
    duration_s: Math.round((performance.now() - t0) / 100) / 10,
    load: summarizeLoad(records),
    executions: ids.length,
    all_ended_s: Math.round(endMs / 100) / 10,
    evictions: evictionFigures(svc, v, ids, workflow),
    wait,
    verify,
    index,
    statuses: client.statuses,
    responses_5xx: fivexxOf(client.statuses),
    server_log_tail: svc.kept.filter((l) => !/fault_injected|fault injected/.test(l)).slice(-20),
  };
}

/**
 * From the `fault_injected` lines: evictions, the points they covered (each step of each
 * execution for `evict`, each http step for `midstep`), and executions that missed any.
 */
function evictionFigures(svc, v, ids, workflow) {
  const lines = svc.faults.filter((f) => f.fault === v.fault);
  const expected = v.mode === "midstep" ? v.httpSteps : workflow.steps.map((s) => s.id);
  const covered = new Map();
  for (const f of lines) {
    if (!covered.has(f.execution)) covered.set(f.execution, new Set());
    for (const step of v.covers(f)) covered.get(f.execution).add(step);
  }
  const perExecution = lines.length / Math.max(1, ids.length);
  return {
    logged: svc.counts.get("evictions"),
    parsed: lines.length,
    per_execution: Math.round(perExecution * 100) / 100,
    points_expected: expected.length * ids.length,
    points_covered: ids.reduce((a, id) => a + expected.filter((s) => covered.get(id)?.has(s)).length, 0),
    executions_missing_some: ids.filter((id) => expected.some((s) => !covered.get(id)?.has(s))).length,
    // evict: the drive had started the next step in the same turn, before the commit was durable.
    with_next_step_in_flight: lines.filter((f) => (f.steps_in_flight ?? []).length > 0).length,
    by_status: countBy(lines, (f) => f.status),
    // midstep: the step's attempt was still waiting for the upstream when the object went.
    request_in_flight: lines.filter((f) => f.request_in_flight === true).length,
  };
}

function countBy(items, key) {
  const out = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The columns both eviction cases end with: how the executions came out. */
const OUTCOME_COLUMNS = ["All ended after", "Ended before any was read", "Not completed", "Wrong output", "Index agreed after", "5xx"];
const outcomeCells = (r) => [`${fmt(r.all_ended_s)} s`, `${r.wait.terminal_in_listing_untouched} of ${r.executions}`, r.verify.not_completed, r.verify.wrong_output, agreedCell(r.index), r.responses_5xx];
const row = (cells) => `| ${cells.map(esc).join(" | ")} |`;

export const evictCase = evictionCase("evict", {
  title: "evicted at every step boundary",
  describe: (o) =>
    `${o.evictExecutions} executions of a 5-step workflow (a transform, an http POST to a loopback counter, a transform, a 1 s wait, a transform) started at concurrency ${o.evictConcurrency}, ` +
    "on a server whose every ExecutionObject is evicted (`ctx.abort()`: instance and memory gone, storage kept) right after each step's completion is durable — the runtime's post-commit listener sees `step.completed`, then `ctx.storage.sync()` resolves — once per step of each execution " +
    "(bench/faults/evict-worker.mjs wraps the production class; src/ has no fault hook). No execution is read until the listing shows it ended: only its alarm brings it back.",
  faults: (c) => {
    const e = (pick) => sum(c.runs, (r) => pick(r.evictions));
    return `${e((x) => x.parsed)} evictions (${fmt(e((x) => x.parsed) / Math.max(1, sum(c.runs, (r) => r.executions)))} per execution), after ${e((x) => x.points_covered)} of ${e((x) => x.points_expected)} step completions; ${sum(c.runs, (r) => r.verify.interrupted_attempts)} attempts cut off by one and re-run`;
  },
  details: (c) => [
    ...tableHead(["Run", "Executions", "Evictions", "Per execution", "Step completions followed by one", "Executions missing one", "Next step in flight when evicted", "Status when evicted", "Interrupted attempts re-run", "http requests received (re-sent)", ...OUTCOME_COLUMNS]),
    ...c.runs.map((r) => {
      const e = r.evictions;
      return row([r.run, r.executions, e.parsed, fmt(e.per_execution), `${e.points_covered} of ${e.points_expected}`, e.executions_missing_some, e.with_next_step_in_flight, statusCell(e.by_status), r.verify.interrupted_attempts, `${r.verify.deliveries} (${r.verify.resent_effects})`, ...outcomeCells(r)]);
    }),
  ],
  notes: () => [
    "*Step completions followed by one*: each step of each execution whose completion was followed by an eviction (the harness checks every step of every execution, from the log lines naming them). There are fewer evictions than steps because workerd makes an object's writes durable once per event-loop turn: steps committed in one turn (a burst of pure steps, or a step's end and the next step's start) share one durable point, so one eviction follows them all — in this workflow three per execution: after `a` with `send` already started (*next step in flight*: its attempt was cut off before its request left, found `running` by the next instance, closed `INTERRUPTED` and re-run), after `send` and `b` with `pause` sleeping (`waiting`), and after `pause`, `c` and the end (`completed`: the index flush may still have been under way; the outbox's timer brings the next instance to do it).",
  ],
});

export const midstepCase = evictionCase("midstep", {
  title: "evicted in the middle of a step",
  describe: (o) =>
    `${o.midstepExecutions} executions of a 5-step workflow (a transform, an http POST held ${HOLD_MS} ms by a loopback counter, a transform, another such POST, a transform) started at concurrency ${o.midstepConcurrency}, ` +
    `on a server whose every ExecutionObject is evicted (\`ctx.abort()\`) ${EVICT_AFTER_MS} ms after each http step's request left — the upstream has it and has not answered — once per step of each execution ` +
    "(bench/faults/evict-worker.mjs). The attempt cut off is found `running` by the next instance, closed `INTERRUPTED` and re-run with the same `Idempotency-Key`.",
  faults: (c) => {
    const e = (pick) => sum(c.runs, (r) => pick(r.evictions));
    return `${e((x) => x.parsed)} evictions, ${e((x) => x.request_in_flight)} of them with the http request in flight (${e((x) => x.points_covered)} of ${e((x) => x.points_expected)} http steps); ${sum(c.runs, (r) => r.verify.resent_effects)} requests re-sent, ${sum(c.runs, (r) => r.verify.key_mismatches)} with another Idempotency-Key`;
  },
  details: (c) => [
    ...tableHead(["Run", "Executions", "Evictions", "http steps evicted in (of all)", "Request still in flight", "Interrupted attempts re-run", "Deliveries", "Steps re-sent", "Sent more often than attempted", "Delivered with another key", "Effect missing", ...OUTCOME_COLUMNS]),
    ...c.runs.map((r) => {
      const e = r.evictions;
      const v = r.verify;
      return row([r.run, r.executions, e.parsed, `${e.points_covered} of ${e.points_expected}`, e.request_in_flight, v.interrupted_attempts, v.deliveries, v.resent_effects, v.duplicated_effects, v.key_mismatches, v.missing_effects, ...outcomeCells(r)]);
    }),
  ],
  notes: () => [
    "*Deliveries*: requests the upstream received for the executions' http steps; *steps re-sent*: steps whose request arrived more than once (at-least-once: the upstream got the cut-off attempt's request and the re-run's), each never more often than the step's recorded attempts (*sent more often than attempted* 0) and every delivery with the step's one `Idempotency-Key` (*delivered with another key* 0; deliveries are found by a tag in the request body, not by the key). *Request still in flight*: the eviction's timer fired while the attempt still waited for the upstream; when it fires late (timers slip on a loaded 2-core machine) the step had already ended and the eviction fell at its end instead, with nothing re-sent.",
  ],
});
