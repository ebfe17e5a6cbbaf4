/* global process, console */
// `npm run bench [-- --quick] [-- --only chain,latency] [-- --rounds N] [-- --throughput-20]`
//
// Benchmarks Stepline against a Cloudflare Workflow doing the same work, both under the repo's own
// wrangler/workerd on 127.0.0.1, one server at a time (two `wrangler dev` at once disturb each
// other on small machines). Rounds alternate Stepline, peer, Stepline, peer…; each server session
// starts from fresh state and is warmed up first. Scenarios the peer cannot do (cost, concurrency,
// fan-out, listing, telemetry) run in one more Stepline session. Writes bench/results.json and bench/RESULTS.md; with
// --only, the scenarios run replace their own results in bench/results.json and RESULTS.md is
// rendered from the merged results (each scenario says which run measured it).
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { QUIET_MS, quiet, runBatch } from "./lib/http.mjs";
import { machineFacts } from "./lib/machine.mjs";
import { renderMarkdown, fmt } from "./lib/report.mjs";
import { seedExecutions } from "./lib/seed.mjs";
import { holdUpstream } from "./lib/upstream.mjs";
import { ROOT, startServer, wranglerSync } from "./lib/server.mjs";
import { benchVars, d1SqliteFile, migrationsHash, peerTarget, STATE, steplineTarget } from "./lib/targets.mjs";
import { llmStandin } from "../scripts/llm-standin.mjs";
import { serveFetch } from "../scripts/serve-fetch.mjs";
import { chain } from "./scenarios/chain.mjs";
import { composition } from "./scenarios/composition.mjs";
import { concurrency } from "./scenarios/concurrency.mjs";
import { cost } from "./scenarios/cost.mjs";
import { costed } from "./scenarios/costed.mjs";
import { fanout } from "./scenarios/fanout.mjs";
import { latency } from "./scenarios/latency.mjs";
import { listing, listingTenant } from "./scenarios/listing.mjs";
import { telemetry } from "./scenarios/telemetry.mjs";
import { throughput } from "./scenarios/throughput.mjs";

// Throughput leaves executions running, so it goes last in a session (the server is then stopped).
const SCENARIOS = [chain, latency, composition, throughput, cost, costed, concurrency, fanout, listing, telemetry];

const FULL = {
  rounds: 5,
  chainVariants: ["10x100", "50x20"],
  latencyRuns: 50,
  throughputConcurrency: 50,
  throughputSeconds: 10,
  // "20step" (starts while 20-step chains run) is available with --throughput-20; under sustained
  // load it made the local runtime exit on this 2-core machine, so it is not in the default run.
  throughputVariants: ["1step"],
  fanoutClients: 1000,
  fanoutRounds: 5,
  fanoutTriggers: 10,
  listingSizes: [100_000, 1_000_000],
  listingWalks: 5,
  listingPages: 20,
  costExecutions: 10,
  telemetryRequests: 20,
  concurrencyExecutions: 100,
  concurrencyLimit: 10,
  concurrencyHoldMs: 100,
  concurrencyJitterMs: 50,
};
const QUICK = {
  rounds: 2,
  chainVariants: ["10x100"],
  latencyRuns: 10,
  throughputSeconds: 3,
  throughputVariants: ["1step"],
  fanoutRounds: 1,
  fanoutTriggers: 3,
  listingSizes: [100_000],
  listingWalks: 3,
  listingPages: 10,
  costExecutions: 5,
  telemetryRequests: 5,
};

function parseArgs(argv) {
  const args = { quick: false, only: null, rounds: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i]);
    if (a === "--quick") args.quick = true;
    else if (a.startsWith("--only")) args.only = value().split(",").map((s) => s.trim());
    else if (a.startsWith("--rounds")) args.rounds = Number(value());
    else if (a === "--throughput-20") args.throughput20 = true;
    else if (a === "--render") args.render = true;
    else if (a === "--no-local-trace") args.noLocalTrace = true;
    else if (a === "--help" || a === "-h") {
      console.log(`usage: npm run bench [-- --quick] [-- --only ${SCENARIOS.map((s) => s.id).join(",")}] [-- --rounds N] [-- --throughput-20] [-- --no-local-trace]`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  const unknown = (args.only ?? []).filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.id).join(", ")}`);
  return args;
}

const quickChanges = (opts) => [
  `${opts.rounds} rounds instead of ${FULL.rounds}`,
  `latency: ${opts.latencyRuns} runs per round instead of ${FULL.latencyRuns}`,
  `throughput: ${opts.throughputSeconds} s per round instead of ${FULL.throughputSeconds} s (concurrency unchanged: ${opts.throughputConcurrency})`,
  `fan-out: ${opts.fanoutRounds} round of ${opts.fanoutTriggers} triggers instead of ${FULL.fanoutRounds} × ${FULL.fanoutTriggers} (still ${opts.fanoutClients} sockets)`,
  `listing: ${opts.listingSizes.map((n) => n.toLocaleString("en-US")).join(", ")} rows only, ${opts.listingWalks}×${opts.listingPages} pages per round instead of ${FULL.listingWalks}×${FULL.listingPages}`,
  `cost: ${opts.costExecutions} executions per round instead of ${FULL.costExecutions}`,
  `chains: ${opts.chainVariants.join(" only, ")} only (the goal's shape) instead of ${FULL.chainVariants.join(" and ")}`,
];

const log = (msg) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** A hash of the migrations, so a cached template state is rebuilt when they change. */

/**
 * Stepline state with the listing tenants seeded (cached under .state/template: seeding a million
 * rows takes a while), copied to a fresh session dir.
 */
function seededSteplineState(sizes, session) {
  const key = `stepline-${migrationsHash(join(ROOT, "bench", "lib", "seed.mjs"))}-${sizes.join("-")}`;
  const template = join(STATE, "template", key);
  if (!existsSync(join(template, "seeded.json"))) {
    rmSync(template, { recursive: true, force: true });
    wranglerSync(["d1", "migrations", "apply", "DB", "--local", "--persist-to", template]);
    const file = d1SqliteFile(template);
    for (const rows of sizes) {
      log(`seeding ${rows.toLocaleString("en-US")} index rows for tenant ${listingTenant(rows)}…`);
      const ms = seedExecutions(file, { tenant: listingTenant(rows), rows });
      log(`  seeded in ${(ms / 1000).toFixed(1)} s`);
    }
    writeFileSync(join(template, "seeded.json"), JSON.stringify({ sizes, at: new Date().toISOString() }));
  } else log(`reusing seeded index ${key}`);
  const dir = join(STATE, "sessions", session);
  rmSync(dir, { recursive: true, force: true });
  cpSync(template, dir, { recursive: true });
  return dir;
}

/**
 * One server session: start, warm up, run `scenarios` for `rounds` rounds, stop. Results reach
 * `results` only when the whole session succeeds; a session whose server fails is retried from
 * fresh state (the local runtime can exit under load when another workerd shares the machine).
 */
async function session(target, name, prepare, scenarios, opts, results, errors, rounds = 1) {
  for (let attempt = 1; ; attempt++) {
    const own = {};
    try {
      await sessionOnce(target, attempt === 1 ? name : `${name}-attempt${attempt}`, prepare(), scenarios, opts, own, rounds);
      for (const [id, list] of Object.entries(own)) ((results[target.key] ??= {})[id] ??= []).push(...list);
      return true;
    } catch (err) {
      errors.push(`${name} attempt ${attempt}: ${err.message.split("\n")[0]}`);
      log(`FAILED ${name} attempt ${attempt}: ${err.stack ?? err}`);
      if (attempt >= SESSION_ATTEMPTS) {
        // Keep round positions: a failed round is null, so rounds still pair Stepline with peer.
        if (rounds === 1) for (const sc of scenarios) ((results[target.key] ??= {})[sc.id] ??= []).push(null);
        return false;
      }
      log(`retrying ${name} from fresh state`);
    }
  }
}
const SESSION_ATTEMPTS = 5;

/** What scenarios get beside the server: the runner's loopback upstream for http steps (lib/upstream.mjs); set in main. */
const services = { upstream: null };

async function sessionOnce(target, name, persistTo, scenarios, opts, results, rounds) {
  const server = await startServer({
    name: target.label,
    config: target.config,
    port: target.port,
    inspectorPort: target.inspectorPort,
    persistTo,
    vars: target.vars,
    logFile: join(STATE, "logs", `${name}.log`),
  });
  try {
    const client = await target.client(server);
    // Warm-up, unmeasured: a few 20-step executions, then one whole batch of the chain goal's
    // shape, so that rounds measure each runtime warmed up (JIT, caches), not its first minutes.
    await runBatch(client, 2, 20);
    await runBatch(client, 10, 100);
    const state = {};
    for (const sc of scenarios) if (sc.setup) state[sc.id] = await sc.setup({ client, opts, ...services });
    for (let r = 0; r < rounds; r++) {
      for (const sc of scenarios) {
        if (sc.rounds && r >= sc.rounds(opts)) continue;
        await quiet();
        const res = await sc.measure({ client, server, opts, state: state[sc.id], persistTo, ...services });
        if (server.exited()) throw new Error(`${target.label} server exited during ${sc.id} (${JSON.stringify(server.exited())})`);
        // wrangler dev reloads when a source file changes (someone editing the tree): the objects
        // restart mid-measurement and the figures mix two builds, so the session is retried.
        if (server.lines.some((l) => l.includes("Reloading local server"))) throw new Error(`${target.label} server reloaded (a source file changed) during ${sc.id}`);
        (results[sc.id] ??= []).push(res);
        log(`${target.label} ${name}${rounds > 1 ? ` round ${r + 1}` : ""} ${sc.id}: ${summarize(res)}`);
      }
    }
  } finally {
    await server.stop();
  }
}

/** A one-line progress summary of a scenario's round result. */
function summarize(res) {
  return Object.entries(res)
    .filter(([k, v]) => k !== "samples" && (typeof v === "number" || (v && typeof v === "object")))
    .map(([k, v]) => (typeof v === "number" ? `${k}=${fmt(v)}` : `${k}{${Object.entries(v).filter(([, x]) => typeof x === "number").map(([kk, x]) => `${kk}=${fmt(x)}`).join(" ")}}`))
    .join(" ");
}

/** How the figures were made, for RESULTS.md (each run's date, commit and rounds are in its table of runs). */
function methodNotes(report) {
  const present = (sc) => report.scenarios.some((x) => x.id === sc.id);
  const solo = SCENARIOS.filter((sc) => !sc.peer && present(sc)).map((sc) => sc.id);
  const runs = runsOf(report);
  return [
    "Both systems run under the repo's `wrangler dev` (same wrangler, same workerd) on 127.0.0.1, one server at a time, each session from fresh local state; no account, no network beyond loopback.",
    "Stepline: the repo's wrangler.toml (D1 migrations applied, bench-only random ADMIN_API_KEY/STREAM_TOKEN_SECRET via `--var`). Peer: bench/peer/wrangler.toml, a `WorkflowEntrypoint` whose steps are `step.do(\"s<i>\", async () => prev + 1)`.",
    "One Node client drives both over HTTP the same way: start (Stepline `POST /v1/executions` of a registered workflow; peer `POST /start` → `env.CHAIN.create`), then poll (`GET /v1/executions/{id}`; peer `GET /status/{id}`).",
    "Peer completion: the workflow writes a KV completion record after its last step (not a step) and `GET /status/{id}` reads it. Polling `instance.status()` of running instances made the local runtime (wrangler 4.124) exit under load, so the peer is polled that way; the record adds one local KV write per peer execution.",
    `Rounds alternate Stepline, peer, Stepline, peer… (${runs.length === 1 ? `${runs[0].rounds} of each` : "as many of each as its run's rounds, in the table of runs at the top"}); each session first runs an unmeasured warm-up (2 × 20-step executions, then one batch of 10 × 100-step executions, the chain goal's shape), so that every system is measured warmed up. Every measured batch starts on a quiet server, ${QUIET_MS / 1000} s after the previous one ended: the local Workflows runtime exits when new instances start while finished ones are still being wound down. Start throughput runs in a session of its own each round (its sustained load is what makes the local runtime exit). Each figure is the median of the rounds, with min and max.`,
    ...(solo.length ? [`Scenarios with no peer counterpart (${solo.join(", ")}) run in one more Stepline session, their rounds back to back.`] : []),
    "llm steps call the LLM stand-in (scripts/llm-standin.mjs) and http steps that must take a while call a hold upstream (bench/lib/upstream.mjs), both served by the runner on loopback.",
    "A server session whose runtime fails is retried from fresh state (up to 5 attempts); failures are listed under Errors.",
    "`npm run bench -- --only …` replaces the results of the scenarios it runs only, and this file is rendered again from the merged results; with results of several runs, the table at the top says which run measured each scenario, when, at which commit.",
    "The machine is small (see above) and shared; absolute figures are local-dev figures, not production ones. Ratios between the two systems, measured the same way on the same machine, are the point.",
  ];
}

/** Where a run's results go: the reference run's files, or the --no-local-trace run's own. */
function outputFiles(noLocalTrace) {
  return noLocalTrace ? { json: "results.no-local-trace.json", md: "RESULTS.no-local-trace.md" } : { json: "results.json", md: "RESULTS.md" };
}

/**
 * The runs a results file holds, each with the scenarios whose results are its own. A file written
 * before runs were kept holds one run, which measured every scenario in it.
 */
function runsOf(report) {
  if (report.meta.runs) return report.meta.runs;
  const m = report.meta;
  return [{
    date: m.date, command: m.command, quick: m.quick, local_trace: m.local_trace, rounds: m.rounds, duration_s: m.duration_s,
    options: m.options, quick_changes: m.quick_changes ?? [], errors: m.errors ?? [], failed_sessions: m.failed_sessions ?? 0,
    machine: report.machine, scenarios: report.scenarios.map((s) => s.id),
  }];
}

/**
 * `fresh` (a run of some scenarios) over `previous` (the results file as it was): the scenarios
 * `fresh` ran take its results; every other scenario keeps its own, and the run that measured it.
 */
function mergeReports(previous, fresh) {
  const ids = new Set(fresh.scenarios.map((s) => s.id));
  const runs = runsOf(previous)
    .map((r) => ({ ...r, scenarios: r.scenarios.filter((id) => !ids.has(id)) }))
    .filter((r) => r.scenarios.length > 0);
  const raw = {};
  for (const [target, byId] of Object.entries(previous.raw ?? {})) {
    raw[target] = Object.fromEntries(Object.entries(byId).filter(([id]) => !ids.has(id)));
  }
  for (const [target, byId] of Object.entries(fresh.raw)) Object.assign((raw[target] ??= {}), byId);
  const described = new Map([...previous.scenarios, ...fresh.scenarios].map((s) => [s.id, s]));
  const kept = new Set(runs.flatMap((r) => r.scenarios));
  const scenarios = SCENARIOS.filter((sc) => ids.has(sc.id) || kept.has(sc.id)).map((sc) => described.get(sc.id));
  return { ...fresh, meta: { ...fresh.meta, runs: [...runs, ...fresh.meta.runs] }, scenarios, raw };
}

/** Method notes and rows from this code; each scenario's rows from the options of the run that measured it. */
function finish(report) {
  report.meta.runs = runsOf(report);
  report.meta.method = methodNotes(report);
  const selected = SCENARIOS.filter((s) => report.scenarios.some((x) => x.id === s.id));
  report.rows = selected.flatMap((sc) => {
    const run = report.meta.runs.find((r) => r.scenarios.includes(sc.id));
    return sc.rows({ stepline: report.raw.stepline?.[sc.id], peer: report.raw.peer?.[sc.id] }, run.options);
  });
  return report;
}

/** The results file's fields in a stable order: meta, machine (the latest run's), scenarios, rows, raw. */
const ordered = (r) => ({ meta: r.meta, machine: r.machine, scenarios: r.scenarios, rows: r.rows, raw: r.raw });

/** `--render`: rewrites RESULTS.md from results.json (method notes and rows refreshed from this code). */
function render(out) {
  const file = join(ROOT, "bench", out.json);
  const report = finish(JSON.parse(readFileSync(file, "utf8")));
  for (const legacy of ["quick", "rounds", "duration_s", "options", "quick_changes", "errors", "failed_sessions"]) delete report.meta[legacy];
  writeFileSync(file, JSON.stringify(ordered(report), null, 2) + "\n");
  writeFileSync(join(ROOT, "bench", out.md), renderMarkdown(report, out.json));
  log(`rewrote bench/${out.md} from bench/${out.json}`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const out = outputFiles(args.noLocalTrace);
  if (args.render) return render(out);
  // wrangler dev records every invocation in a local trace store (its local observability UI) by
  // default. --no-local-trace turns that off for both servers, to show how much of each system's
  // time is that recording; its results go to files of their own.
  if (args.noLocalTrace) process.env.X_LOCAL_OBSERVABILITY = "false";
  const opts = { ...FULL, ...(args.quick ? QUICK : {}) };
  if (args.rounds) opts.rounds = args.rounds;
  if (args.throughput20) opts.throughputVariants = ["1step", "20step"];
  const selected = SCENARIOS.filter((s) => !args.only || args.only.includes(s.id));
  const t0 = Date.now();
  // llm steps call the LLM stand-in on loopback, as under `npm start`.
  const llmKey = `standin-${randomBytes(12).toString("base64url")}`;
  const llm = await serveFetch(llmStandin({ apiKey: llmKey }), { port: 0 });
  // http steps that take a while call the hold upstream (the concurrency scenario).
  const hold = holdUpstream();
  const holdServer = await serveFetch(hold.handler, { port: 0 });
  services.upstream = { base: `http://127.0.0.1:${holdServer.port}`, open: hold.open };
  const secrets = benchVars({
    LLM_BASE_URL: `http://127.0.0.1:${llm.port}/v1`,
    LLM_API_KEY: llmKey,
    ALLOWED_PRIVATE_HOSTS: `127.0.0.1:${llm.port},127.0.0.1:${holdServer.port}`,
  });
  const stepline = steplineTarget(secrets);
  const peer = peerTarget();
  rmSync(join(STATE, "sessions"), { recursive: true, force: true });
  rmSync(join(STATE, "logs"), { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  const machine = machineFacts();
  log(`${args.quick ? "quick" : "full"} run on ${machine.cpu} × ${machine.cores}; scenarios: ${selected.map((s) => s.id).join(", ")}`);

  const results = {};
  const errors = [];
  let failedSessions = 0;

  const compared = selected.filter((s) => s.peer);
  // Scenarios marked `ownSession` get a server session of their own (see throughput.mjs).
  const groups = [compared.filter((s) => !s.ownSession), ...compared.filter((s) => s.ownSession).map((s) => [s])].filter((g) => g.length > 0);
  for (let r = 1; r <= opts.rounds; r++) {
    for (const group of groups) {
      for (const target of [stepline, peer]) {
        const name = `${target.key}-round${r}${group.length === 1 && group[0].ownSession ? `-${group[0].id}` : ""}`;
        if (!(await session(target, name, () => target.prepareState(name), group, opts, results, errors))) failedSessions++;
      }
    }
  }
  const solo = selected.filter((s) => !s.peer);
  if (solo.length) {
    const name = "stepline-solo";
    const prepare = () => (solo.includes(listing) || solo.includes(telemetry) ? seededSteplineState(opts.listingSizes, name) : stepline.prepareState(name));
    if (!(await session(stepline, name, prepare, solo, opts, results, errors, opts.rounds))) failedSessions++;
  }

  const run = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    quick: args.quick,
    local_trace: !args.noLocalTrace,
    rounds: opts.rounds,
    duration_s: (Date.now() - t0) / 1000,
    options: opts,
    quick_changes: args.quick ? quickChanges(opts) : [],
    errors,
    failed_sessions: failedSessions,
    machine,
    scenarios: selected.map((s) => s.id),
  };
  let report = {
    meta: { date: run.date, command: run.command, local_trace: run.local_trace, runs: [run] },
    machine,
    scenarios: selected.map((s) => ({ id: s.id, title: s.title, description: s.describe ? s.describe(opts) : s.description, peer: s.peer })),
    raw: results,
  };
  const file = join(ROOT, "bench", out.json);
  // --only: the other scenarios keep the results they have (see mergeReports).
  if (args.only && existsSync(file)) report = mergeReports(JSON.parse(readFileSync(file, "utf8")), report);
  report = finish(report);
  const rows = report.rows.filter((r) => selected.some((s) => s.id === r.scenario));
  writeFileSync(file, JSON.stringify(ordered(report), null, 2) + "\n");
  writeFileSync(join(ROOT, "bench", out.md), renderMarkdown(report, out.json));
  // Session state is large (copies of the seeded index); the seeded template and logs stay.
  rmSync(join(STATE, "sessions"), { recursive: true, force: true });
  log(`wrote bench/${out.json} and bench/${out.md} in ${((Date.now() - t0) / 1000).toFixed(0)} s${errors.length ? ` — ${errors.length} error(s)` : ""}`);
  for (const r of rows.filter((x) => x.goal)) log(`goal ${r.goal.met ? "met   " : "MISSED"} ${r.goal.text}: ${r.metric} = ${fmt(r.stepline?.median)} ${r.unit}${r.ratio ? ` (ratio ${fmt(r.ratio.median)}×)` : ""}`);
  llm.server.close();
  holdServer.server.close();
  process.exitCode = failedSessions > 0 ? 1 : 0;
}

await main();
