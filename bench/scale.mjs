/* global console, process */
// `npm run scale [-- --quick] [-- --shards 1,2,4,8] [-- --seconds S] [-- --warmup S] [-- --rounds R] [-- --modes object,queue,processes] [-- --migrations worktree,HEAD] [-- --merge]`
//
// The local simulation of docs/SCALE.md ("The road past one D1"): index write throughput with the
// index split over N D1 databases. For each N, one `wrangler dev` (bench/lib/server.mjs; one server
// at a time, its own persist dir and port) serves a small Worker (bench/scale/worker.mjs) bound to
// N local D1 databases, each with the project's migrations applied; the Worker writes outbox
// flushes with the production statements, routed to a shard by a hash of tenant/execution id. Node
// drives it over loopback with concurrent batched requests (bench/scale/load.mjs): the same warm-up
// and duration for every N, rounds alternating over N. Mode processes runs N servers instead, one
// per shard, each with one database (its own workerd process, as each production D1 database is
// its own writer), the load routing each flush to its shard's server. Writes bench/scale.json and
// bench/scale.md (with --merge, keeping the tables of the previous bench/scale.json this run does
// not measure).
// Run it under the machine's one-server lock: `flock /tmp/stepline-e2e.lock npm run scale`.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { QUIET_MS, quiet } from "./lib/http.mjs";
import { machineFacts } from "./lib/machine.mjs";
import { fmt } from "./lib/report.mjs";
import { freePort, ROOT, startServer } from "./lib/server.mjs";
import { coresUsed, cpuSnapshot } from "./scale/cpu.mjs";
import { drive, probe } from "./scale/load.mjs";
import { mergeEarlier, renderScale, sessionFigures, summarize } from "./scale/report.mjs";
import { bundleWorker, freshShards, migrationSet, SCALE_STATE, writeConfig } from "./scale/setup.mjs";

const FULL = { shards: [1, 2, 4, 8], seconds: 12, warmup: 4, rounds: 2, modes: ["object", "queue"], migrations: ["worktree"], concurrency: 16, perRequest: 8, steps: 20 };
const QUICK = { seconds: 4, warmup: 2, rounds: 1 };

const MODES = {
  object: "one D1 batch per execution's flush, as each execution object flushes its own outbox today",
  queue: "the flushes of a request grouped into one D1 batch per shard, as a Queue consumer would write them",
  processes: "one `wrangler dev` per shard, each bound to its one D1 database (its own workerd process, as each production D1 database is its own writer), the load routing each flush to its shard's server; one D1 batch per flush, as in mode object",
};

function parseArgs(argv) {
  const o = { ...FULL };
  const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i]);
    const num = () => {
      const n = Number(value());
      if (!(n > 0)) throw new Error(`${a} takes a positive number`);
      return n;
    };
    if (a === "--quick") Object.assign(o, QUICK, { quick: true });
    else if (a.startsWith("--shards")) o.shards = list(value()).map(Number);
    else if (a.startsWith("--seconds")) o.seconds = num();
    else if (a.startsWith("--warmup")) o.warmup = num();
    else if (a.startsWith("--rounds")) o.rounds = num();
    else if (a.startsWith("--concurrency")) o.concurrency = num();
    else if (a.startsWith("--per-request")) o.perRequest = num();
    else if (a.startsWith("--steps")) o.steps = num();
    else if (a.startsWith("--modes")) o.modes = list(value());
    else if (a.startsWith("--migrations")) o.migrations = list(value());
    else if (a === "--merge") o.merge = true;
    else if (a === "--help" || a === "-h") {
      console.log("usage: npm run scale [-- --quick] [-- --shards 1,2,4,8] [-- --seconds S] [-- --warmup S] [-- --rounds R] [-- --modes object,queue] [-- --migrations worktree,HEAD] [-- --concurrency C] [-- --per-request E] [-- --steps K] [-- --merge]");
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  const bad = o.modes.filter((m) => !MODES[m]);
  if (bad.length) throw new Error(`unknown mode ${bad.join(", ")}; known: ${Object.keys(MODES).join(", ")}`);
  if (o.shards.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("--shards takes positive integers");
  return o;
}

/** A session whose server fails is retried from fresh state; every failed attempt is listed. */
const ATTEMPTS = 3;

const log = (msg) => console.log(`[scale ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/**
 * The servers of a session, started at once: one `wrangler dev` bound to all `shards` databases, or
 * in mode processes one per shard, each bound to one database, with its own config, port and
 * persist dir (its databases migrated). `stop()` stops them all and removes their persist dirs.
 */
async function startServers(o, main, migrations, mode, shards, name) {
  const one = mode !== "processes";
  const ports = new Set();
  const port = async () => {
    let p;
    do p = await freePort();
    while (ports.has(p));
    ports.add(p);
    return p;
  };
  const specs = [];
  for (let i = 0; i < (one ? 1 : shards); i++) {
    const id = one ? name : `${name}-p${i}`;
    specs.push({
      name: `scale ${id}`,
      config: one
        ? writeConfig(join(SCALE_STATE, "build"), main, shards, migrations)
        : writeConfig(join(SCALE_STATE, "build", `p${i}`), main, 1, migrations, `stepline-scale-sim-p${i}`),
      port: await port(),
      inspectorPort: await port(),
      persistTo: freshShards(one ? Math.max(...o.shards) : 1, main, id, migrations),
      logFile: join(SCALE_STATE, "logs", `${id}.log`),
    });
  }
  const started = await Promise.allSettled(specs.map((spec) => startServer(spec)));
  const servers = started.filter((r) => r.status === "fulfilled").map((r) => r.value);
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    for (const spec of specs) rmSync(spec.persistTo, { recursive: true, force: true });
  };
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { servers, stop };
}

/** One session with `shards` databases: probes, warm-up, measurement. */
async function session(o, main, migrations, mode, shards, round, probes) {
  const name = `${migrations.source}-${mode}-n${shards}-r${round}`;
  const { servers, stop } = await startServers(o, main, migrations, mode, shards, name);
  try {
    const bases = servers.map((server) => server.base);
    if (round === 1 && mode === o.modes[0]) {
      for (const steps of [1, o.steps]) probes.push({ migrations: migrations.source, shards, ...(await probe({ bases, shards, steps })) });
    }
    // Each server of mode processes holds one database and writes as mode object does.
    const load = { bases, shards, concurrency: o.concurrency, perRequest: o.perRequest, steps: o.steps, mode: mode === "processes" ? "object" : mode, carry: [] };
    await drive({ ...load, seconds: o.warmup });
    await quiet();
    const pgids = servers.map((server) => server.pid);
    const before = cpuSnapshot(pgids);
    const { tally, wallMs } = await drive({ ...load, seconds: o.seconds });
    const cores = coresUsed(before, cpuSnapshot(pgids), wallMs);
    const gone = servers.find((server) => server.exited());
    if (gone) throw new Error(`${gone.name} exited during the measurement (${JSON.stringify(gone.exited())})`);
    const reloaded = servers.some((server) => server.lines.some((l) => l.includes("Reloading local server")));
    return sessionFigures({ migrations: migrations.source, mode, shards, round, tally, wallMs, cores, reloaded });
  } finally {
    await stop();
  }
}

function method(o) {
  return [
    `For each N in ${o.shards.join(", ")}: one \`wrangler dev\` on 127.0.0.1 (its own port and persist dir, one server at a time), serving [bench/scale/worker.mjs](scale/worker.mjs) with N D1 bindings (a generated wrangler config), each database migrated (\`wrangler d1 migrations apply SHARD_i --local\`) with a set of migrations: *worktree* is the project's migrations/ as on disk, a git revision (e.g. *HEAD*) its committed migrations/ (sets and their files below). In modes *object* and *queue* all N databases run inside that one workerd process.`,
    "Mode *processes*: for each N, N `wrangler dev` started at once, each on its own port and persist dir with a config of one D1 binding (one migrated database), so each database is written by its own workerd process, as each production D1 database is its own single-threaded writer. The load routes each flush to the server of its shard by the same hash: loop i writes to server i mod N the executions the hash places on its shard (the same ${o.concurrency} loops in all, ${o.concurrency} / N per server, each request still carrying ${o.perRequest} executions' flushes; the probes split their requests by shard). Each server writes one D1 batch per flush, as in mode *object*. CPU per process: each server's process group (wrangler and its workerd).",
    "The Worker writes outbox flushes with the production statements (`executionIndexStatements` from src/store/executions.ts, `auditInsertStatement` from src/store/audit.ts: the version-guarded upsert, with whatever telemetry triggers the migrations put on it, and the audit insert), routing each flush to shard `fnv1a(tenant/execution id) mod N` ([bench/scale/shard.mjs](scale/shard.mjs)). It is bundled once per run, so edits to src/ during a run do not reload it.",
    `Load ([bench/scale/load.mjs](scale/load.mjs)): ${o.concurrency} concurrent loops in Node over loopback; each request carries the first flushes (running index row + the start's audit row) of ${o.perRequest} new ${o.steps}-step executions over 64 tenants, and the last flushes (the completed row with its ${o.steps} step outcomes) of the ${o.perRequest} the loop started in its previous request.`,
    `Every session: probes (see below, first round only), a ${o.warmup} s warm-up of the same load (unmeasured), a ${QUIET_MS / 1000} s pause, then ${o.seconds} s measured; rates are divided by the time from the first request to the last answer. ${o.rounds} round(s), each taking every N in turn (even rounds in reverse order); each cell is the median over rounds (min–max).`,
    "D1 rows written are D1's own `meta.rows_written` (table rows, index entries and trigger writes, as D1 bills them); SQL time is D1's `meta.duration`. Outbox rows are the index and audit rows sent. CPU is read from /proc: the servers' process groups, this runner, and the rest of the machine.",
    "A failed batch is a D1 batch that threw (its rows are not counted); each is listed below, with every failed session attempt (a session whose server fails is retried from fresh state, up to 3 attempts).",
  ];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  mkdirSync(SCALE_STATE, { recursive: true });
  rmSync(join(SCALE_STATE, "sessions"), { recursive: true, force: true });
  rmSync(join(SCALE_STATE, "logs"), { recursive: true, force: true });
  const machine = machineFacts();
  log(`${o.quick ? "quick" : "full"} run on ${machine.cpu} × ${machine.cores}: N = ${o.shards.join(", ")}; modes ${o.modes.join(", ")}; ${o.rounds} round(s) of ${o.warmup} s warm-up + ${o.seconds} s`);
  const main = await bundleWorker();
  const sets = o.migrations.map(migrationSet);
  for (const m of sets) log(`migrations ${m.source}: ${m.files.join(", ")} (${m.hash})`);
  const sessions = [];
  const probes = [];
  const errors = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const migrations of sets) {
      for (const mode of o.modes) {
        // Even rounds take N in reverse, so a drift in what else runs on the machine does not favour one end.
        for (const shards of round % 2 ? o.shards : [...o.shards].reverse()) {
          const label = `${migrations.source} ${mode} N=${shards} round ${round}`;
          for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
            try {
              const s = await session(o, main, migrations, mode, shards, round, probes);
              sessions.push(s);
              log(`${label}: ${fmt(s.d1_rows_per_s)} D1 rows/s, ${fmt(s.outbox_rows_per_s)} outbox rows/s, ${fmt(s.executions_per_s)} executions/s; ` +
                `p99 ${fmt(s.request_p99_ms)} ms; cores server ${fmt(s.cores_server)}${s.cores_per_process ? ` (per process ${s.cores_per_process.map(fmt).join(", ")})` : ""} (busiest thread ${fmt(s.cores_server_thread)}) runner ${fmt(s.cores_runner)} others ${fmt(s.cores_others)}; ` +
                `${s.failed_batches.length} failed batches${s.reloaded ? "; SERVER RELOADED" : ""}`);
              break;
            } catch (err) {
              errors.push(`${label} attempt ${attempt}: session failed: ${err.message.split("\n")[0]}`);
              log(`FAILED ${label} attempt ${attempt}: ${err.stack ?? err}`);
            }
          }
        }
      }
    }
  }
  let report = {
    meta: {
      date: new Date().toISOString(),
      command: `npm run scale${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
      duration_min: (Date.now() - t0) / 60_000,
      options: o,
      modes: MODES,
      migrations: sets.map(({ source, files, hash }) => ({ source, files, hash })),
      method: method(o),
      errors,
    },
    machine,
    summary: summarize(sessions),
    probes,
    sessions,
  };
  const measured = report.summary.length;
  const out = join(ROOT, "bench", "scale.json");
  if (o.merge && existsSync(out)) report = mergeEarlier(report, JSON.parse(readFileSync(out, "utf8")));
  writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  writeFileSync(join(ROOT, "bench", "scale.md"), renderScale(report));
  rmSync(join(SCALE_STATE, "sessions"), { recursive: true, force: true });
  log(`wrote bench/scale.json and bench/scale.md in ${((Date.now() - t0) / 1000).toFixed(0)} s${errors.length ? ` — ${errors.length} failed session(s)` : ""}`);
  process.exitCode = measured < o.migrations.length * o.modes.length * o.shards.length ? 1 : 0;
}

await main();
