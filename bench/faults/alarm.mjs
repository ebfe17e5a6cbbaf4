/* global performance */
// Case "alarm": every execution object's first k alarm invocations throw (bench/faults/alarm-worker.mjs,
// served instead of src/index.ts by a generated copy of wrangler.toml; FAULT_ALARM_THROWS=k in the
// case's own vars file). The platform retries a failed alarm; every execution must still end
// completed, once, with a gapless log and a matching index row. The injected failures are counted
// from the service's output (one `fault_injected` line each, with the platform's retryCount).
import { benchVars } from "../lib/targets.mjs";
import { countingClient, waitTerminal } from "./client.mjs";
import { startLoad, summarizeLoad } from "./load.mjs";
import { logNote, startFaultService } from "./service.mjs";
import { checkIndex, verifyExecutions } from "./verify.mjs";

export const WORKFLOW_ID = "faults-alarm";

/** a: transform; send: POST to the effects upstream; pause: 1 s (an alarm); c: a transform over both. */
export function alarmWorkflow(effectsBase) {
  return {
    id: WORKFLOW_ID,
    name: "Fault case: alarms that throw",
    steps: [
      { id: "a", type: "transform", expression: "input.n + 1" },
      { id: "send", type: "http", needs: ["a"], request: { method: "POST", url: `${effectsBase}/effect`, body: { n: "{{ input.n }}" } } },
      { id: "pause", type: "wait", seconds: 1, needs: ["send"] },
      { id: "c", type: "transform", expression: "steps.a.output * 2 + steps.send.output.status", needs: ["pause"] },
    ],
    output: "steps.c.output",
  };
}
const expectedOutput = (n) => (n + 1) * 2 + 200;

export const alarmCase = {
  id: "alarm",
  title: "alarms that throw k times",
  describe: (o) =>
    `${o.alarmExecutions} executions of a 4-step workflow (a transform, an http POST to a loopback counter, a 1 s wait — the alarm —, a transform) started at concurrency ${o.alarmConcurrency}, ` +
    `on a server whose every ExecutionObject throws from its first ${o.alarmThrows} alarm invocations (bench/faults/alarm-worker.mjs wraps the production class; src/ has no fault hook). The platform retries the failed alarms.`,
  notes: () => [
    "Gentler than the other cases on purpose: with 200 executions at concurrency 20, `wrangler dev` 4.124 itself exited (an empty `[ERROR]` after about 130 uncaught alarm errors within seconds, workerd going with it) — a limit of the local toolchain, not a Stepline figure. Each injected failure shows in the service's log as an `Uncaught Error` and one `fault_injected` line (counted here).",
  ],
  async run(ctx) {
    const { runIndex, effectsPort, logDir, opts } = ctx;
    const vars = benchVars({ ALLOWED_PRIVATE_HOSTS: `127.0.0.1:${effectsPort}`, FAULT_ALARM_THROWS: String(opts.alarmThrows) });
    const { svc, done } = await startFaultService({
      name: `alarm-run${runIndex}`,
      vars,
      worker: "alarm-worker.mjs",
      logDir,
      countPatterns: { injected: /"message":"fault_injected"/, injected_on_retry: /"message":"fault_injected".*"retry_count":[1-9]/ },
    });
    try {
      return await alarmRun(ctx, svc, vars);
    } finally {
      await done();
    }
  },
};

async function alarmRun({ opts, effects, effectsBase, runIndex }, svc, vars) {
  const client = countingClient(svc.base, vars.ADMIN_API_KEY);
  await client.ok("POST", "/v1/workflows", { body: alarmWorkflow(effectsBase) });
  const t0 = performance.now();
  const load = startLoad({ client, concurrency: opts.alarmConcurrency, count: opts.alarmExecutions, make: (i) => ({ body: { workflow_id: WORKFLOW_ID, input: { n: i } } }) });
  const { records } = await load.done;
  const acked = records.filter((r) => r.id);
  const ids = acked.map((r) => r.id);
  const wait = await waitTerminal(client, WORKFLOW_ID, ids, { listingMs: opts.listingWaitMs });
  const endMs = performance.now() - t0;
  logNote(`alarm run ${runIndex}: ${ids.length - wait.not_terminal.length} of ${ids.length} ended in ${(endMs / 1000).toFixed(1)} s; ${svc.counts.get("injected")} alarm failures injected so far; checking each`);
  const { result: verify, statusById } = await verifyExecutions(client, acked.map((r) => ({ id: r.id, n: r.i })), { httpStepId: "send", effects, expectedOutput });
  const index = await checkIndex(client, WORKFLOW_ID, statusById);
  return {
    run: runIndex,
    duration_s: Math.round((performance.now() - t0) / 100) / 10,
    throws_per_object: opts.alarmThrows,
    load: summarizeLoad(records),
    executions: ids.length,
    all_ended_s: Math.round(endMs / 100) / 10,
    alarm_failures_injected: svc.counts.get("injected"),
    injected_on_platform_retry: svc.counts.get("injected_on_retry"),
    wait,
    verify,
    index,
    statuses: client.statuses,
    server_log_tail: svc.kept.filter((l) => !/fault_injected|fault injected|alarm-worker\.mjs/.test(l)).slice(-20),
  };
}
