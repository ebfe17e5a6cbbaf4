/* global performance */
// Case "kill": kill -9 under load, then restart on the same persisted state.
//
// A run: start the service on a fresh --persist-to dir; start executions at `concurrency` (each
// with its own Idempotency-Key); after a random few seconds, SIGKILL the service's whole process
// group (start.mjs, wrangler and its workerd processes) while starts are in flight and executions
// are mid-run (in their transforms, their http request to the effects upstream, or their 1 s wait);
// start the service again on the same dir; the starts that got no answer are sent again with
// their key, as a client would. That `kills` times; then wait until every acknowledged execution
// is terminal and check each one (verify.mjs) and the D1 listing.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "../lib/http.mjs";
import { freePort } from "../lib/server.mjs";
import { benchVars, STATE } from "../lib/targets.mjs";
import { countingClient, waitTerminal } from "./client.mjs";
import { startLoad, summarizeLoad } from "./load.mjs";
import { logNote, startService, varsFileText } from "./service.mjs";
import { checkIndex, verifyExecutions } from "./verify.mjs";

export const WORKFLOW_ID = "faults-kill";
const HOLD_MS = 200;

/** a, b: transforms; send: POST to the effects upstream (held 200 ms); pause: 1 s; c: a transform over both. */
export function killWorkflow(effectsBase) {
  return {
    id: WORKFLOW_ID,
    name: "Fault case: kill -9 under load",
    steps: [
      { id: "a", type: "transform", expression: "input.n + 1" },
      { id: "b", type: "transform", expression: "steps.a.output * 2", needs: ["a"] },
      { id: "send", type: "http", needs: ["b"], request: { method: "POST", url: `${effectsBase}/effect?ms=${HOLD_MS}`, body: { n: "{{ input.n }}", b: "{{ steps.b.output }}" } } },
      { id: "pause", type: "wait", seconds: 1, needs: ["send"] },
      { id: "c", type: "transform", expression: "steps.b.output + steps.send.output.status", needs: ["pause"] },
    ],
    output: "steps.c.output",
  };
}
const expectedOutput = (n) => (n + 1) * 2 + 200;

export const killCase = {
  id: "kill",
  title: "kill -9 under load, restart on the same state",
  describe: (o) =>
    `Per run: a fresh --persist-to dir; executions of a 5-step workflow (2 transforms, an http POST to a loopback counter held ${HOLD_MS} ms, a 1 s wait, a transform) started at concurrency ${o.killConcurrency}, each with its own Idempotency-Key; ` +
    `after ${o.killMinMs / 1000}–${o.killMaxMs / 1000} s of load (random), SIGKILL to the service's whole process group (start.mjs, wrangler, workerd) with starts in flight; ` +
    `restart on the same dir; the starts that got no answer are sent again with their key. ${o.kills} kills per run, then every acknowledged execution must end.`,
  notes: () => [
    "*Executions live across a kill*: created before a kill and ended after it, i.e. mid-run when the process died (all of them ended after the restart without the harness reading them: *ended before any was read*). *Interrupted attempts*: attempts a kill cut off, found by the restarted object and re-run (`INTERRUPTED` in the step trace); an http request re-sent after one is the at-least-once delivery Stepline documents, and never exceeded the attempts recorded (*duplicated* 0).",
    "A start in flight at a kill got no answer; sent again with its Idempotency-Key after the restart, it was either replayed (its execution had been created before the kill) or created then. Only acknowledged starts count as executions.",
  ],
  async run(ctx) {
    const { runIndex, effectsPort, logDir } = ctx;
    const dir = join(STATE, "faults", `kill-run${runIndex}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const vars = benchVars({ ALLOWED_PRIVATE_HOSTS: `127.0.0.1:${effectsPort}` });
    const varsFile = join(dir, "faults.vars");
    writeFileSync(varsFile, varsFileText(vars), { mode: 0o600 });
    const service = { port: await freePort(), inspectorPort: await freePort(), persistTo: join(dir, "state"), varsFile, logFile: join(logDir, `kill-run${runIndex}.log`) };
    const current = { svc: await startService(service) };
    try {
      return await killRun(ctx, service, vars, current);
    } finally {
      await current.svc.stop();
      rmSync(join(dir, "state"), { recursive: true, force: true });
    }
  },
};

async function killRun({ opts, effects, effectsBase, runIndex }, service, vars, current) {
  const runId = `k${runIndex}-${randomBytes(3).toString("hex")}`;
  const client = countingClient(current.svc.base, vars.ADMIN_API_KEY);
  await client.ok("POST", "/v1/workflows", { body: killWorkflow(effectsBase) });
  const make = (i) => ({ key: `${runId}-${i}`, body: { workflow_id: WORKFLOW_ID, input: { n: i }, labels: { fault_run: runId } } });

  const kills = [];
  const records = [];
  const retries = { sent: 0, replayed: 0, created: 0, failed: 0 };
  const t0 = performance.now();
  for (let k = 1; k <= opts.kills; k++) {
    const load = startLoad({ client, concurrency: opts.killConcurrency, make, offset: records.length });
    const loadMs = opts.killMinMs + Math.random() * (opts.killMaxMs - opts.killMinMs);
    await sleep(loadMs);
    load.stop();
    const kill = await current.svc.kill9();
    const round = await load.done;
    records.push(...round.records);
    const s = summarizeLoad(round.records);
    Object.assign(kill, { after_load_ms: Math.round(loadMs), starts: s.starts, acked: s.acked, in_flight: s.no_answer, refused: s.refused });
    logNote(`kill run ${runIndex} #${k}: SIGKILL after ${(loadMs / 1000).toFixed(1)} s of load: ${kill.processes} processes (${kill.workerd} workerd), ${kill.survivors} survived; ${s.acked} starts acknowledged, ${s.no_answer} in flight`);
    kills.push(kill);
    await sleep(300);
    current.svc = await startService(service);
    kill.restart_ms = Math.round(current.svc.startupMs);
    // A client whose start got no answer sends it again with the same Idempotency-Key.
    for (const rec of round.records.filter((r) => r.status === 0)) {
      const res = await client.call("POST", "/v1/executions", { headers: { "idempotency-key": rec.key }, body: make(rec.i).body });
      retries.sent++;
      rec.retry = { status: res.status };
      if (res.status >= 200 && res.status < 300) {
        rec.id = res.json.id;
        rec.retry.replayed = res.headers.get("idempotent-replayed") === "true";
        if (rec.retry.replayed) retries.replayed++;
        else retries.created++;
      } else retries.failed++;
    }
  }

  // Every start acknowledged, the first time or when sent again, must end.
  const acked = records.filter((r) => r.id);
  const ids = [...new Set(acked.map((r) => r.id))];
  logNote(`kill run ${runIndex}: waiting for ${ids.length} executions to end`);
  const wait = await waitTerminal(client, WORKFLOW_ID, ids, { listingMs: opts.listingWaitMs });
  logNote(`kill run ${runIndex}: ${ids.length - wait.not_terminal.length} ended (${wait.terminal_in_listing_untouched} seen ended in the listing without being read); checking each`);
  const { result: verify, statusById } = await verifyExecutions(client, acked.map((r) => ({ id: r.id, n: r.i })), { httpStepId: "send", effects, expectedOutput, kills });
  const index = await checkIndex(client, WORKFLOW_ID, statusById);
  return {
    run: runIndex,
    duration_s: Math.round((performance.now() - t0) / 100) / 10,
    kills,
    load: summarizeLoad(records),
    in_flight_retries: retries,
    executions: ids.length,
    duplicate_ids: acked.length - ids.length,
    wait,
    verify,
    index,
    statuses: client.statuses,
    server_log_tail: current.svc.kept.slice(-20),
  };
}
