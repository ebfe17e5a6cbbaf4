/* global Buffer, WebSocket, console, performance, process, setTimeout */
// CPU profile of `POST /v1/executions` under the throughput scenario's load (bench/START-PATH.md).
//
// Starts Stepline under `wrangler dev` the way the bench does (fresh migrated state, bench vars,
// the 1-step chain workflow `chain-1`), warms it up, then, while `--concurrency` clients start
// 1-step executions back to back for `--seconds` (and until the started executions have finished),
// samples every isolate of the workerd that runs Stepline through that workerd's own inspector
// (it lists every isolate: the Worker and its Durable Objects, the local D1 shim, miniflare's
// entry worker, wrangler's local trace store; `--inspector-port` of wrangler dev proxies the
// Worker only). Writes one .cpuprofile per isolate and a summary.json to .test-output/, and
// prints: CPU per start of each process (/proc), each isolate's sampled time, the top functions by
// self time, self time by module/package, time by entry frame (what a tick of the isolate was
// running: a request, an RPC method, an alarm, a resumed async function), invocations and D1 calls
// per start (from the local trace store), and log lines per start.
//
// Run under the one-server lock (Node 22):  flock /tmp/stepline-e2e.lock node_modules/.bin/node bench/profile-start.mjs [options]
// Options: --seconds 10 --concurrency 50 --interval-us 100 --warmup-seconds 4 --no-profile
//          --no-local-trace (X_LOCAL_OBSERVABILITY=false: wrangler's trace store off)
//          --targets core:user:stepline,d1:db (isolates to sample; default: the ones listed below)
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { freePort, ROOT, startServer } from "./lib/server.mjs";
import { benchVars, steplineTarget } from "./lib/targets.mjs";

const DEFAULT_TARGETS = ["core:user:stepline", "d1:db", "d1:db:entry", "core:entry", "assets:router:stepline", "core:user:miniflare-observability-collector"];

function parseArgs(argv) {
  const a = { seconds: 10, concurrency: 50, intervalUs: 100, warmupSeconds: 4, profile: true, localTrace: true, targets: DEFAULT_TARGETS, drainTimeoutMs: 60_000 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === "--seconds") a.seconds = Number(v());
    else if (k === "--concurrency") a.concurrency = Number(v());
    else if (k === "--interval-us") a.intervalUs = Number(v());
    else if (k === "--warmup-seconds") a.warmupSeconds = Number(v());
    else if (k === "--no-profile") a.profile = false;
    else if (k === "--no-local-trace") a.localTrace = false;
    else if (k === "--targets") a.targets = v().split(",");
    else {
      console.log("usage: node bench/profile-start.mjs [--seconds N] [--concurrency N] [--interval-us N] [--warmup-seconds N] [--no-profile] [--no-local-trace] [--targets a,b]");
      process.exit(k === "--help" ? 0 : 2);
    }
  }
  return a;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------- processes and their CPU (/proc)

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** utime+stime of a /proc stat line, in ms. */
function statCpuMs(path) {
  try {
    const s = readFileSync(path, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" "); // fields from #3 (state) on
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The processes of a process group: [{ pid, cmd }]. */
function groupProcesses(pgid) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) !== pgid) continue;
      out.push({ pid: Number(d), cmd: readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ").trim() });
    } catch {
      // gone
    }
  }
  return out;
}

/** Names the processes of the server: the workerd running Stepline, wrangler's proxy workerd, wrangler (node). */
function serverProcesses(pgid) {
  return groupProcesses(pgid).map((p) => ({
    ...p,
    role: p.cmd.includes("workerd") ? (p.cmd.includes("--inspector-addr") ? "workerd (Stepline, objects, D1)" : "workerd (wrangler's entry proxy)") : "wrangler (node)",
  }));
}

function cpuSnapshot(procs) {
  const byRole = {};
  const threads = {};
  for (const p of procs) {
    byRole[p.role] = (byRole[p.role] ?? 0) + statCpuMs(`/proc/${p.pid}/stat`);
    if (p.role.startsWith("workerd (Stepline")) {
      try {
        for (const t of readdirSync(`/proc/${p.pid}/task`)) {
          let comm = "?";
          try {
            comm = readFileSync(`/proc/${p.pid}/task/${t}/comm`, "utf8").trim();
          } catch {
            // gone
          }
          threads[`${t} ${comm}`] = statCpuMs(`/proc/${p.pid}/task/${t}/stat`);
        }
      } catch {
        // gone
      }
    }
  }
  const self = process.cpuUsage();
  byRole["bench client (this node)"] = (self.user + self.system) / 1000;
  return { byRole, threads };
}

function cpuDelta(a, b) {
  const d = (x, y) => Object.fromEntries(Object.keys(y).map((k) => [k, (y[k] ?? 0) - (x[k] ?? 0)]));
  return { byRole: d(a.byRole, b.byRole), threads: d(a.threads, b.threads) };
}

/**
 * TCP ports a process listens on, in the order of its file descriptors (from /proc/net/tcp and its
 * fds). workerd opens its inspector socket first; the others include the Cap'n Proto debug port,
 * which an HTTP request breaks ("incoming RPC message exceeds size limit"), so probe in this order
 * and stop at the inspector.
 */
function listeningPorts(pid) {
  const inodeFd = new Map();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodeFd.set(m[1], Number(fd));
    } catch {
      // closed meanwhile
    }
  }
  const ports = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== "0A") continue; // LISTEN
    if (inodeFd.has(f[9])) ports.push({ port: parseInt(f[1].split(":")[1], 16), fd: inodeFd.get(f[9]) });
  }
  return ports.sort((a, b) => a.fd - b.fd).map((p) => p.port);
}

/**
 * GET without keep-alive: a pooled fetch connection to workerd's inspector leaves the WebSocket
 * handshake that follows (same origin, same pool) waiting forever.
 */
function httpGet(url) {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 2_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** The inspector of the workerd that runs Stepline (`--inspector-addr`): its /json target list. */
async function runtimeInspector(procs) {
  const runtime = procs.find((p) => p.role.startsWith("workerd (Stepline"));
  if (!runtime) throw new Error("no workerd with --inspector-addr in the server's process group");
  for (const port of listeningPorts(runtime.pid)) {
    try {
      const list = JSON.parse(await httpGet(`http://127.0.0.1:${port}/json`));
      if (Array.isArray(list) && list.length && list.every((t) => t.webSocketDebuggerUrl)) return { port, targets: list };
    } catch {
      // not the inspector
    }
  }
  throw new Error(`no inspector among the ports of workerd ${runtime.pid}`);
}

// ---------------------------------------------------------------- Chrome DevTools Protocol

function cdp(url) {
  return new Promise((resolve, reject) => {
    // wrangler's inspector proxy wants an allowed Origin when a User-Agent is sent (Node sends one).
    const ws = new WebSocket(url, { headers: { origin: "http://127.0.0.1" } });
    let next = 1;
    const pending = new Map();
    const fail = (why) => {
      const err = new Error(`inspector ${url}: ${why}`);
      reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    ws.addEventListener("error", (e) => fail(e.message ?? "connection error"));
    ws.addEventListener("close", (e) => fail(`closed (${e.code})`));
    setTimeout(() => ws.readyState === WebSocket.CONNECTING && fail("no handshake in 5 s"), 5_000);
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(typeof ev.data === "string" ? ev.data : Buffer.from(ev.data).toString("utf8"));
      const p = msg.id !== undefined && pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${JSON.stringify(msg.error)}`));
      else p.resolve(msg.result);
    });
    ws.addEventListener("open", () =>
      resolve({
        send(method, params = {}) {
          const id = next++;
          ws.send(JSON.stringify({ id, method, params }));
          return new Promise((res, rej) => pending.set(id, { resolve: res, reject: rej, method }));
        },
        close: () => ws.close(),
      }),
    );
  });
}

// ---------------------------------------------------------------- load

async function load(client, concurrency, seconds) {
  let started = 0;
  let errors = 0;
  let firstError = null;
  const latencies = [];
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      try {
        const { ms } = await client.start(1);
        latencies.push(ms);
        started++;
      } catch (err) {
        errors++;
        firstError ??= err.message.slice(0, 200);
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  latencies.sort((x, y) => x - y);
  const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null);
  return { started, errors, firstError, seconds: (performance.now() - t0) / 1000, p50: q(0.5), p99: q(0.99) };
}

/** Waits until `count` more executions have logged `execution.billed_rows` (they are terminal and flushed), then for quiet. */
async function drain(server, fromLine, count, timeoutMs) {
  const t0 = performance.now();
  const billed = () => server.lines.slice(fromLine).filter((l) => l.includes("\"execution.billed_rows\"")).length;
  while (billed() < count && performance.now() - t0 < timeoutMs) await sleep(100);
  // then until no line for a second (the last outbox flushes, timers)
  for (let n = server.lines.length; ; ) {
    await sleep(1_000);
    if (server.lines.length === n || performance.now() - t0 > timeoutMs) break;
    n = server.lines.length;
  }
  return { billed: billed(), ms: performance.now() - t0 };
}

// ---------------------------------------------------------------- analysis

/** Module of each line of the bundle, from esbuild's `// path` comments. */
function bundleLineModules(bundleText) {
  const lines = bundleText.split("\n");
  const mods = new Array(lines.length);
  let cur = "(bundle prelude)";
  const re = /^\/\/ ((?:\.\.\/)*(?:src|node_modules|\.wrangler|[\w@.-]+\/)[^\s]*\.(?:ts|tsx|js|mjs|cjs|json))$/;
  for (let i = 0; i < lines.length; i++) {
    const m = re.exec(lines[i]);
    if (m) cur = m[1];
    mods[i] = cur;
  }
  return mods;
}

/** Groups a bundle module path: src/<dir>/…, or the npm package. */
function packageOf(path) {
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = path.slice(nm + "node_modules/".length).split("/");
    const pkg = rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    if (pkg === "wrangler" || pkg === "miniflare") return `${pkg} (dev middleware)`;
    return pkg;
  }
  if (path.startsWith("src/")) {
    const parts = path.split("/");
    if (parts.length <= 2) return path;
    if (parts[1] === "durable" || parts[1] === "api") return parts.length > 3 ? `src/${parts[1]}/${parts[2]}` : `src/${parts[1]}`;
    return `src/${parts[1]}`;
  }
  if (path.includes(".wrangler/")) return "wrangler (dev middleware)";
  return path;
}

const SPECIAL = new Set(["(garbage collector)", "(program)", "(idle)", "(root)"]);
const JSON_FNS = new Set(["stringify", "parse", "JSONStringify", "JSONParse"]);

/**
 * Self and entry time of one profile. A sample's time is the gap to the next sample, capped at 3×
 * the median gap: V8 takes no sample while the isolate is not entered (workerd is then idle or in
 * another isolate), and that gap is not this isolate's time.
 */
function analyse(profile, { bundleUrl, lineModules }) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const { samples, timeDeltas } = profile;
  const gaps = timeDeltas.slice(1).filter((d) => d > 0).sort((a, b) => a - b);
  const median = gaps.length ? gaps[Math.floor(gaps.length / 2)] : 0;
  const cap = 3 * median;
  const isBundle = (cf) => bundleUrl && cf.url === bundleUrl;
  const moduleOf = (cf) => {
    if (SPECIAL.has(cf.functionName) && !cf.url) return cf.functionName === "(garbage collector)" ? "GC" : cf.functionName;
    if (isBundle(cf)) return packageOf(lineModules[cf.lineNumber] ?? "?");
    if (!cf.url) return JSON_FNS.has(cf.functionName) ? "JSON (native)" : "native (V8 builtins, workerd API)";
    return cf.url.replace(/^.*\//, "");
  };
  const fileOf = (cf) => (isBundle(cf) ? lineModules[cf.lineNumber] ?? "?" : cf.url || "(native)");
  const label = (cf) => `${cf.functionName || "(anonymous)"} ${fileOf(cf)}${cf.url ? `:${cf.lineNumber + 1}` : ""}`;

  const self = new Map();
  const byModule = new Map();
  const byEntry = new Map();
  const inclusive = new Map();
  let total = 0;
  const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
  for (let i = 0; i < samples.length; i++) {
    const gap = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : median;
    const us = Math.min(Math.max(gap, 0), cap);
    total += us;
    const leaf = nodes.get(samples[i]);
    add(self, label(leaf.callFrame), us);
    add(byModule, moduleOf(leaf.callFrame), us);
    // the stack, root first
    const stack = [];
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) stack.push(nodes.get(id).callFrame);
    stack.reverse();
    const frames = stack.filter((cf) => cf.functionName !== "(root)");
    const entry = frames.find((cf) => cf.url) ?? frames[0];
    add(byEntry, entry ? label(entry) : "(none)", us);
    const seen = new Set();
    for (const cf of frames) {
      const k = label(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      add(inclusive, k, us);
    }
  }
  const top = (m, n) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => ({ name: k, ms: us / 1000 }));
  return {
    samples: samples.length,
    median_gap_us: median,
    sampled_ms: total / 1000,
    span_ms: (profile.endTime - profile.startTime) / 1000,
    self: top(self, 60),
    modules: top(byModule, 60),
    entries: top(byEntry, 60),
    inclusive: top(inclusive, 120),
  };
}

/** Invocations and spans per kind in wrangler's local trace store (a DO SQLite file under the persist dir). */
async function traceStoreCounts(persistTo, fromMs, toMs) {
  const dir = join(persistTo, "v3", "observability");
  if (!existsSync(dir)) return null;
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith(".sqlite") && f !== "metadata.sqlite") files.push(p);
    }
  };
  walk(dir);
  let DatabaseSync;
  try {
    ({ DatabaseSync } = await import("node:sqlite"));
  } catch {
    return { error: "node:sqlite unavailable (run with Node 22: node_modules/.bin/node)" };
  }
  const out = [];
  for (const f of files) {
    const db = new DatabaseSync(f, { readOnly: true });
    try {
      const rows = db
        .prepare(
          `SELECT CASE WHEN parent_id IS NULL THEN 'root' ELSE 'child' END AS level, service, kind, name, COUNT(*) AS n
           FROM spans WHERE start_ms >= ? AND start_ms <= ? GROUP BY 1, 2, 3, 4 ORDER BY n DESC`,
        )
        .all(fromMs, toMs);
      const logs = db.prepare("SELECT COUNT(*) AS n FROM logs WHERE ts_ms >= ? AND ts_ms <= ?").get(fromMs, toMs);
      out.push({ file: f.slice(persistTo.length + 1), spans: rows, logs: logs.n });
    } catch (err) {
      out.push({ file: f, error: err.message });
    } finally {
      db.close();
    }
  }
  return out;
}

/** Log lines of wrangler dev's output in a window, by kind (our JSON `message`, wrangler's request lines, other). */
function logLineCounts(lines) {
  const counts = new Map();
  for (const line of lines) {
    let k;
    const brace = line.indexOf("{\"");
    if (brace >= 0) {
      try {
        k = `json: ${JSON.parse(line.slice(brace)).message}`;
      } catch {
        k = "other";
      }
    } else if (/^\[wrangler:info\] (GET|POST|PUT|PATCH|DELETE|HEAD)/.test(line)) k = "wrangler request line";
    else if (!line.trim()) k = "(blank)";
    else k = `other: ${line.slice(0, 60)}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

// ---------------------------------------------------------------- main

function newestBundleDir(sinceMs) {
  const tmp = join(ROOT, ".wrangler", "tmp");
  if (!existsSync(tmp)) return null;
  const dirs = readdirSync(tmp)
    .filter((d) => d.startsWith("dev-") && existsSync(join(tmp, d, "index.js")))
    .map((d) => ({ d: join(tmp, d), t: statSync(join(tmp, d, "index.js")).mtimeMs }))
    .filter((x) => x.t >= sinceMs - 1_000)
    .sort((a, b) => b.t - a.t);
  return dirs[0]?.d ?? null;
}

function table(rows, cols) {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const fmt = (r) => cols.map((c, i) => String(r[c]).padEnd(w[i])).join("  ");
  return [fmt(Object.fromEntries(cols.map((c) => [c, c]))), ...rows.map(fmt)].join("\n");
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (typeof WebSocket === "undefined") throw new Error("needs Node 22 (global WebSocket): run it with node_modules/.bin/node");
  if (!opts.localTrace) process.env.X_LOCAL_OBSERVABILITY = "false";
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const outDir = join(ROOT, ".test-output", `profile-start-${stamp}`);
  mkdirSync(outDir, { recursive: true });

  const secrets = benchVars();
  const target = steplineTarget(secrets);
  const session = `profile-start-${process.pid}`;
  const persistTo = target.prepareState(session);
  const t0 = Date.now();
  const port = await freePort();
  const inspectorPort = await freePort();
  console.log(`starting wrangler dev on 127.0.0.1:${port} (state ${persistTo}, local trace ${opts.localTrace ? "on" : "off"})`);
  const server = await startServer({ name: "stepline", config: target.config, port, inspectorPort, persistTo, vars: target.vars, logFile: join(outDir, "wrangler.log") });
  try {
    const client = await target.client(server);
    await client.register(1);
    console.log(`warm-up: ${opts.warmupSeconds} s at concurrency ${opts.concurrency}`);
    const warmFrom = server.lines.length;
    const warm = await load(client, opts.concurrency, opts.warmupSeconds);
    await drain(server, warmFrom, warm.started, opts.drainTimeoutMs);

    const procs = serverProcesses(server.pid);
    const inspector = await runtimeInspector(procs);
    const ids = inspector.targets.map((t) => t.id);
    console.log(`workerd inspector 127.0.0.1:${inspector.port}; isolates: ${ids.join(", ")}`);
    const bundleDir = newestBundleDir(t0);
    let bundleUrl = null;
    let lineModules = [];
    if (bundleDir) {
      copyFileSync(join(bundleDir, "index.js"), join(outDir, "bundle.js"));
      if (existsSync(join(bundleDir, "index.js.map"))) copyFileSync(join(bundleDir, "index.js.map"), join(outDir, "bundle.js.map"));
      lineModules = bundleLineModules(readFileSync(join(bundleDir, "index.js"), "utf8"));
    }

    const sessions = [];
    if (opts.profile) {
      for (const id of opts.targets) {
        const t = inspector.targets.find((x) => x.id === id);
        if (!t) {
          console.log(`(no isolate ${id})`);
          continue;
        }
        // workerd keeps one inspector session per isolate, and a new one ends the old. Stepline's
        // isolate is held by wrangler's inspector proxy (it reconnects, ending ours): go through it.
        const s = await cdp(id === "core:user:stepline" ? `ws://127.0.0.1:${inspectorPort}/ws` : t.webSocketDebuggerUrl);
        await s.send("Profiler.enable");
        await s.send("Profiler.setSamplingInterval", { interval: opts.intervalUs });
        sessions.push({ id, s });
      }
      for (const { s } of sessions) await s.send("Profiler.start");
    }

    const cpu0 = cpuSnapshot(procs);
    const from = server.lines.length;
    const fromMs = Date.now();
    console.log(`load: ${opts.seconds} s at concurrency ${opts.concurrency}${opts.profile ? `, sampling every ${opts.intervalUs} µs` : ", not profiled"}`);
    const run = await load(client, opts.concurrency, opts.seconds);
    const loadCpu = cpuDelta(cpu0, cpuSnapshot(procs));
    const drained = await drain(server, from, run.started, opts.drainTimeoutMs);
    const cpu = cpuDelta(cpu0, cpuSnapshot(procs));
    const toMs = Date.now();
    const windowLines = server.lines.slice(from);

    const profiles = {};
    for (const { id, s } of sessions) {
      const { profile } = await s.send("Profiler.stop");
      s.close();
      const file = join(outDir, `${id.replace(/[^\w.-]+/g, "_")}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      if (id === "core:user:stepline" && !bundleUrl) {
        // the bundle is the script with the most frames of this isolate
        const n = new Map();
        for (const node of profile.nodes) if (node.callFrame.url) n.set(node.callFrame.url, (n.get(node.callFrame.url) ?? 0) + 1);
        bundleUrl = [...n.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
      }
      profiles[id] = { profile, file };
    }
    await server.stop();
    const trace = opts.localTrace ? await traceStoreCounts(persistTo, fromMs, toMs) : null;

    const starts = run.started;
    const perStart = (x) => round(x / starts, 2);
    const summary = {
      when: new Date().toISOString(),
      opts,
      load: { ...run, starts_per_s: round(run.started / run.seconds, 1) },
      drain: drained,
      cpu_ms_per_start: Object.fromEntries(Object.entries(cpu.byRole).map(([k, v]) => [k, perStart(v)])),
      cpu_ms_per_start_load_only: Object.fromEntries(Object.entries(loadCpu.byRole).map(([k, v]) => [k, perStart(v)])),
      workerd_threads_ms: Object.fromEntries(Object.entries(cpu.threads).filter(([, v]) => v > 0).map(([k, v]) => [k, round(v, 0)])),
      log_lines_per_start: Object.fromEntries(logLineCounts(windowLines).map(([k, v]) => [k, perStart(v)])),
      log_lines_total: windowLines.length,
      trace_store: trace,
      bundle_url: bundleUrl,
      isolates: {},
    };
    for (const [id, { profile, file }] of Object.entries(profiles)) {
      const a = analyse(profile, { bundleUrl: id === "core:user:stepline" ? bundleUrl : null, lineModules });
      summary.isolates[id] = { file, ...a, sampled_ms_per_start: perStart(a.sampled_ms) };
    }
    writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 2));

    // ---- report
    console.log(`\nstarts: ${starts} in ${round(run.seconds, 1)} s = ${summary.load.starts_per_s}/s (errors ${run.errors}${run.firstError ? `: ${run.firstError}` : ""}), p50 ${round(run.p50, 0)} ms, p99 ${round(run.p99, 0)} ms; drain ${round(drained.ms / 1000, 1)} s (${drained.billed} billed_rows lines)`);
    console.log("\nCPU per start (ms, /proc, load + drain):");
    console.log(table(Object.entries(summary.cpu_ms_per_start).map(([k, v]) => ({ process: k, ms: v, "load only": summary.cpu_ms_per_start_load_only[k] })), ["process", "ms", "load only"]));
    console.log("\nthreads of the Stepline workerd (ms CPU in the window):", JSON.stringify(summary.workerd_threads_ms));
    console.log("\nlog lines per start:");
    console.log(table(Object.entries(summary.log_lines_per_start).map(([k, v]) => ({ line: k, "per start": v })), ["line", "per start"]));
    if (trace) {
      for (const t of trace) {
        if (t.error) {
          console.log(`trace store ${t.file}: ${t.error}`);
          continue;
        }
        console.log(`\ntrace store (${t.file}): spans per start (log rows ${perStart(t.logs)} per start)`);
        console.log(table(t.spans.slice(0, 40).map((r) => ({ level: r.level, service: r.service, kind: r.kind, name: r.name, "per start": perStart(r.n) })), ["level", "service", "kind", "name", "per start"]));
      }
    }
    for (const [id, a] of Object.entries(summary.isolates)) {
      console.log(`\n== ${id}: ${a.samples} samples, median gap ${a.median_gap_us} µs, sampled ${round(a.sampled_ms, 0)} ms of ${round(a.span_ms, 0)} ms = ${a.sampled_ms_per_start} ms per start`);
      const rows = (list, n) => list.slice(0, n).map((x) => ({ ms: round(x.ms, 0), "per start": perStart(x.ms), "%": round((100 * x.ms) / a.sampled_ms, 1), name: x.name }));
      console.log("-- self time by module\n" + table(rows(a.modules, 25), ["ms", "per start", "%", "name"]));
      console.log("-- self time by function\n" + table(rows(a.self, 25), ["ms", "per start", "%", "name"]));
      if (id === "core:user:stepline") {
        console.log("-- by entry frame (first JS frame of the tick)\n" + table(rows(a.entries, 25), ["ms", "per start", "%", "name"]));
        console.log("-- inclusive\n" + table(rows(a.inclusive, 50), ["ms", "per start", "%", "name"]));
      }
    }
    console.log(`\nwritten: ${outDir}`);
  } finally {
    await server.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

// Whatever hangs, the server does not outlive this (exiting stops its process group).
setTimeout(() => {
  console.error("profile-start: gave up after 10 minutes");
  process.exit(1);
}, 10 * 60_000).unref();

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
