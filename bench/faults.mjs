/* global console, process */
// `npm run faults [-- --only kill,soak,alarm,evict,midstep,d1] [-- --quick] [-- --runs N] [-- --kills K] [-- --soak N] [-- --throws K]`
//
// Fault cases against the real `wrangler dev` process, started the way a user starts it
// (scripts/start.mjs, on loopback ports of its own, with its own --persist-to dir and vars file),
// one server at a time. Each case injects its fault for real (a SIGKILL of the service's process
// group, alarms that throw, evictions, a D1 outage — the last three through wrapper Workers in
// bench/faults/*-worker.mjs, src/ has no fault hook), counts that it happened, and then accounts for every execution a client was
// acknowledged: lost, duplicated, event-log gaps, index mismatches. Writes bench/faults.json and
// bench/FAULTS.md; with --only, the cases run replace their own results and the others are kept.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serveFetch } from "../scripts/serve-fetch.mjs";
import { machineFacts } from "./lib/machine.mjs";
import { ROOT } from "./lib/server.mjs";
import { STATE } from "./lib/targets.mjs";
import { alarmCase } from "./faults/alarm.mjs";
import { d1Case } from "./faults/d1.mjs";
import { effectsUpstream } from "./faults/effects.mjs";
import { evictCase, midstepCase } from "./faults/evict.mjs";
import { killCase } from "./faults/kill.mjs";
import { renderFaults } from "./faults/report.mjs";
import { logNote, otherWorkerds } from "./faults/service.mjs";
import { soakCase } from "./faults/soak.mjs";

const CASES = [killCase, soakCase, alarmCase, evictCase, midstepCase, d1Case];

const FULL = {
  killRuns: 3,
  kills: 3,
  killConcurrency: 20,
  killMinMs: 3_000,
  killMaxMs: 8_000,
  listingWaitMs: 90_000,
  soakRuns: 1,
  soakExecutions: 2_000,
  soakConcurrency: 50,
  soakListingWaitMs: 600_000,
  alarmRuns: 1,
  alarmThrows: 2,
  // Gentle on purpose: wrangler dev 4.124 itself exited after ~130 uncaught alarm errors within
  // a few seconds (200 executions at concurrency 20), taking workerd with it.
  alarmExecutions: 40,
  alarmConcurrency: 4,
  // Evictions end the object's alarm invocations and requests with errors that wrangler dev logs;
  // gentle for the reason above.
  evictRuns: 1,
  evictExecutions: 60,
  evictConcurrency: 4,
  midstepRuns: 1,
  midstepExecutions: 60,
  midstepConcurrency: 4,
  d1Runs: 1,
  d1Concurrency: 6,
  d1BeforeMs: 5_000,
  d1OutageMs: 12_000,
  d1AfterMs: 5_000,
};
const QUICK = { killRuns: 1, kills: 2, soakExecutions: 300, alarmExecutions: 20, evictExecutions: 10, midstepExecutions: 10, d1BeforeMs: 3_000, d1OutageMs: 6_000, d1AfterMs: 3_000 };

function parseArgs(argv) {
  const args = { quick: false, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i]);
    const count = (name) => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${name} takes a positive integer`);
      return n;
    };
    if (a === "--quick") args.quick = true;
    else if (a.startsWith("--only")) args.only = value().split(",").map((s) => s.trim());
    else if (a.startsWith("--runs")) args.runs = count("--runs");
    else if (a.startsWith("--kills")) args.kills = count("--kills");
    else if (a.startsWith("--soak")) args.soak = count("--soak");
    else if (a.startsWith("--throws")) args.throws = count("--throws");
    else if (a === "--render") args.render = true;
    else if (a === "--help" || a === "-h") {
      console.log(`usage: npm run faults [-- --only ${CASES.map((c) => c.id).join(",")}] [-- --quick] [-- --runs N] [-- --kills K] [-- --soak N] [-- --throws K] [-- --render]`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  const unknown = (args.only ?? []).filter((id) => !CASES.some((c) => c.id === id));
  if (unknown.length) throw new Error(`unknown case ${unknown.join(", ")}; known: ${CASES.map((c) => c.id).join(", ")}`);
  return args;
}

const JSON_FILE = join(ROOT, "bench", "faults.json");
const MD_FILE = join(ROOT, "bench", "FAULTS.md");

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) {
    writeFileSync(MD_FILE, renderFaults(JSON.parse(readFileSync(JSON_FILE, "utf8")), CASES));
    return logNote("rewrote bench/FAULTS.md from bench/faults.json");
  }
  const opts = { ...FULL, ...(args.quick ? QUICK : {}) };
  if (args.runs) for (const c of CASES) opts[`${c.id}Runs`] = args.runs;
  if (args.kills) opts.kills = args.kills;
  if (args.soak) opts.soakExecutions = args.soak;
  if (args.throws) opts.alarmThrows = args.throws;
  const selected = CASES.filter((c) => !args.only || args.only.includes(c.id));
  const others = otherWorkerds();
  if (others.length) logNote(`note: ${others.length} workerd process(es) not started by this run are on the machine (pids ${others.join(", ")}); they are left alone`);

  const t0 = Date.now();
  const effects = effectsUpstream();
  const upstream = await serveFetch(effects.handler, { port: 0 });
  // Longer than workerd keeps an idle outbound connection: with Node's default (5 s) the upstream
  // could close a kept-alive connection just as workerd reused it ("Network connection lost"), a
  // race of the harness's server, not a fault of the service.
  upstream.server.keepAliveTimeout = 65_000;
  const logDir = join(STATE, "faults", "logs");
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const machine = machineFacts();
  logNote(`${args.quick ? "quick" : "full"} run on ${machine.cpu} × ${machine.cores}; cases: ${selected.map((c) => c.id).join(", ")}`);

  const cases = [];
  let failed = 0;
  for (const c of selected) {
    const runs = [];
    const errors = [];
    const n = opts[`${c.id}Runs`];
    const tc = Date.now();
    for (let r = 1; r <= n; r++) {
      try {
        runs.push(await c.run({ opts, effects, effectsBase: upstream.url, effectsPort: upstream.port, runIndex: r, logDir }));
      } catch (err) {
        failed++;
        errors.push(`run ${r}: ${err.message.split("\n")[0]}`);
        logNote(`FAILED ${c.id} run ${r}: ${err.stack ?? err}`);
      }
    }
    cases.push({ id: c.id, title: c.title, description: c.describe(opts), duration_s: Math.round((Date.now() - tc) / 1000), runs, errors });
  }
  upstream.server.close();

  const run = {
    date: new Date().toISOString(),
    command: `npm run faults${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    quick: args.quick,
    duration_s: Math.round((Date.now() - t0) / 1000),
    options: opts,
    machine,
    other_workerd_at_start: others.length,
    effects_upstream: effects.stats(),
  };
  let report = { meta: run, cases };
  // --only: the other cases keep the results they have.
  if (args.only && existsSync(JSON_FILE)) {
    const previous = JSON.parse(readFileSync(JSON_FILE, "utf8"));
    const ran = new Set(cases.map((c) => c.id));
    const kept = (previous.cases ?? []).filter((c) => !ran.has(c.id)).map((c) => ({ ...c, meta: c.meta ?? previous.meta }));
    report = { meta: run, cases: CASES.map((c) => cases.find((x) => x.id === c.id) ?? kept.find((x) => x.id === c.id)).filter(Boolean) };
  }
  for (const c of report.cases) c.meta ??= run;
  writeFileSync(JSON_FILE, JSON.stringify(report, null, 2) + "\n");
  writeFileSync(MD_FILE, renderFaults(report, CASES));
  logNote(`wrote bench/faults.json and bench/FAULTS.md in ${run.duration_s} s${failed ? ` — ${failed} run(s) failed` : ""}`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
