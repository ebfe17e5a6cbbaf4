/* global clearInterval, performance, setInterval */
// Case "soak": N executions started at concurrency C on one server, no fault injected: every one
// must end completed, the D1 listing must hold exactly N rows that agree with the objects, and no
// request of the whole case (starts, listing reads, every check) may be answered 5xx.
import { benchVars } from "../lib/targets.mjs";
import { countingClient, fivexxOf, waitTerminal } from "./client.mjs";
import { startLoad, summarizeLoad } from "./load.mjs";
import { logNote, startFaultService } from "./service.mjs";
import { checkIndex, verifyExecutions } from "./verify.mjs";

export const WORKFLOW_ID = "faults-soak";

/** a, b: transforms; send: POST to the effects upstream; c: a transform over both. */
export function soakWorkflow(effectsBase) {
  return {
    id: WORKFLOW_ID,
    name: "Fault case: soak",
    steps: [
      { id: "a", type: "transform", expression: "input.n + 1" },
      { id: "b", type: "transform", expression: "steps.a.output * 2", needs: ["a"] },
      { id: "send", type: "http", needs: ["b"], request: { method: "POST", url: `${effectsBase}/effect`, body: { n: "{{ input.n }}" } } },
      { id: "c", type: "transform", expression: "steps.b.output + steps.send.output.status", needs: ["send"] },
    ],
    output: "steps.c.output",
  };
}
const expectedOutput = (n) => (n + 1) * 2 + 200;

export const soakCase = {
  id: "soak",
  title: "many executions at concurrency 50, no fault",
  describe: (o) =>
    `${o.soakExecutions.toLocaleString("en-US")} executions of a 4-step workflow (2 transforms, an http POST to a loopback counter, a transform) started at concurrency ${o.soakConcurrency} on one server from fresh state. ` +
    "(The default is 2,000: 10,000, with `--soak 10000`, takes about 15 minutes on this 2-core machine — about 25 starts/s, then 3 reads per execution to check it.) " +
    "Then every execution must be completed with the right output, its event log gapless, its http effect sent once, the D1 listing exactly one row per execution agreeing with the objects, and no request of the case answered 5xx (every status counted).",
  async run(ctx) {
    const { runIndex, effectsPort, logDir } = ctx;
    const vars = benchVars({ ALLOWED_PRIVATE_HOSTS: `127.0.0.1:${effectsPort}` });
    const { svc, done } = await startFaultService({ name: `soak-run${runIndex}`, vars, logDir });
    try {
      return await soakRun(ctx, svc, vars);
    } finally {
      await done();
    }
  },
};

async function soakRun({ opts, effects, effectsBase, runIndex }, svc, vars) {
  const client = countingClient(svc.base, vars.ADMIN_API_KEY);
  await client.ok("POST", "/v1/workflows", { body: soakWorkflow(effectsBase) });
  const t0 = performance.now();
  const load = startLoad({
    client,
    concurrency: opts.soakConcurrency,
    count: opts.soakExecutions,
    make: (i) => ({ body: { workflow_id: WORKFLOW_ID, input: { n: i } } }),
  });
  const progress = setInterval(() => logNote(`soak: ${load.records.length} starts sent`), 30_000);
  const { records, ms: startMs } = await load.done.finally(() => clearInterval(progress));
  const starts = summarizeLoad(records);
  logNote(`soak run ${runIndex}: ${starts.acked}/${starts.starts} starts acknowledged in ${(startMs / 1000).toFixed(1)} s`);
  const acked = records.filter((r) => r.id);
  const ids = acked.map((r) => r.id);
  const wait = await waitTerminal(client, WORKFLOW_ID, ids, { listingMs: opts.soakListingWaitMs });
  const endMs = performance.now() - t0;
  logNote(`soak run ${runIndex}: all but ${wait.not_terminal.length} ended ${(endMs / 1000).toFixed(1)} s after the first start; checking each`);
  const { result: verify, statusById } = await verifyExecutions(client, acked.map((r) => ({ id: r.id, n: r.i })), { httpStepId: "send", effects, expectedOutput, concurrency: 16 });
  const index = await checkIndex(client, WORKFLOW_ID, statusById);
  return {
    run: runIndex,
    duration_s: Math.round((performance.now() - t0) / 100) / 10,
    requested: opts.soakExecutions,
    concurrency: opts.soakConcurrency,
    load: starts,
    start_phase_s: Math.round(startMs / 100) / 10,
    starts_per_s: Math.round((starts.starts / (startMs / 1000)) * 10) / 10,
    all_ended_s: Math.round(endMs / 100) / 10,
    executions: ids.length,
    wait,
    verify,
    index,
    index_count_exact: index.rows === opts.soakExecutions && index.mismatches === 0,
    statuses: client.statuses,
    responses_5xx: fivexxOf(client.statuses),
    server_log_tail: svc.kept.slice(-20),
  };
}
