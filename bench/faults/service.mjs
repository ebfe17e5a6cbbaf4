/* global clearTimeout, console, fetch, performance, process, setTimeout */
// The service under fault: what a user runs, `scripts/start.mjs` (the script behind `npm start`),
// on loopback ports of its own, with its own --persist-to dir and vars file (as test/e2e does). It
// runs in a process group of its own (start.mjs, wrangler, and the workerd processes wrangler dev
// spawns), so `kill9()` ends all of them at once — the fault — and says how many processes it
// found alive before and gone after, workerd among them, read from /proc.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { NODE22, ROOT, eachLine, freePort, portIsFree } from "../lib/server.mjs";
import { sleep } from "../lib/http.mjs";
import { STATE } from "../lib/targets.mjs";

const running = new Set();
// Whatever ends the runner, the services it started go with it (bench/lib/server.mjs turns
// SIGINT/SIGTERM into an exit).
process.on("exit", () => {
  for (const child of running) signalGroup(child.pid, "SIGKILL");
});

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // already gone
  }
}

/** The processes of process group `pgid`, from /proc: pid, command name and state (Z: a zombie, dead). */
export function groupProcesses(pgid) {
  const out = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const [state, , pgrp] = stat.slice(close + 2).split(" ");
      if (Number(pgrp) === pgid) out.push({ pid: Number(name), comm, state });
    } catch {
      // exited while we read
    }
  }
  return out;
}

const alive = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

/** Lines of wrangler's output worth keeping (the rest only goes to the log file). */
const KEPT = /error|exception|uncaught|reloading|fault_injected|alarm|canceled|cancelled|exited|killed/i;

/**
 * Starts the service and resolves once start.mjs printed the admin key (the server answered
 * /health and the examples are registered).
 * @returns {Promise<{ base: string, pid: number, kept: string[], counts: Map<string, number>, faults: object[], exited: () => object|null, kill9: () => Promise<object>, stop: () => Promise<void>, startupMs: number }>}
 */
export async function startService({ port, inspectorPort, persistTo, varsFile, logFile, extraArgs = [], timeoutMs = 180_000, countPatterns = {} }) {
  for (let i = 0; !(await portIsFree(port)); i++) {
    if (i >= 150) throw new Error(`port ${port} is still in use`);
    await sleep(100);
  }
  mkdirSync(dirname(logFile), { recursive: true });
  const args = [
    join(ROOT, "scripts", "start.mjs"),
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo,
    "--env-file", varsFile,
    "--demo-port", "0",
    "--llm-port", "0",
    "--show-interactive-dev-session=false",
    ...extraArgs,
  ];
  const t0 = performance.now();
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" };
  const child = spawn(NODE22, args, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const out = createWriteStream(logFile, { flags: "a" });
  out.write(`\n===== start.mjs ${args.slice(1).join(" ")} at ${new Date().toISOString()} =====\n`);
  const kept = [];
  const counts = new Map(Object.keys(countPatterns).map((k) => [k, 0]));
  /** Every `fault_injected` line the wrapper Worker logged, parsed. */
  const faults = [];
  let ready = false;
  let exited = null;
  const exitPromise = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    }),
  );
  eachLine(child, out, (line) => {
    if (line.includes("Local admin key")) ready = true;
    for (const [name, re] of Object.entries(countPatterns)) if (re.test(line)) counts.set(name, counts.get(name) + 1);
    if (line.includes('"message":"fault_injected"') && faults.length < 100_000) {
      try {
        faults.push(JSON.parse(line.slice(line.indexOf("{"), line.lastIndexOf("}") + 1)));
      } catch {
        // not one JSON object: counted by its pattern only
      }
    }
    if (KEPT.test(line) && kept.length < 2000) kept.push(line.slice(0, 500));
  });

  const base = `http://127.0.0.1:${port}`;
  const forget = () => {
    running.delete(child);
    if (!out.writableEnded) out.end();
  };

  /**
   * The fault: SIGKILL to the whole process group, no warning. Resolves once every process that
   * was alive is gone, with what was killed.
   */
  const kill9 = async () => {
    const before = groupProcesses(child.pid).filter((p) => p.state !== "Z");
    const tKill = Date.now();
    const sent = signalGroup(child.pid, "SIGKILL");
    for (let i = 0; i < 200 && before.some((p) => alive(p.pid)); i++) await sleep(50);
    await Promise.race([exitPromise, sleep(5_000)]);
    const survivors = before.filter((p) => alive(p.pid));
    out.write(`\n===== SIGKILL to process group ${child.pid} at ${new Date(tKill).toISOString()}: ${before.length} processes (${before.map((p) => `${p.comm}:${p.pid}`).join(" ")}), ${survivors.length} survived =====\n`);
    forget();
    return {
      at: new Date(tKill).toISOString(),
      signal_sent: sent,
      processes: before.length,
      workerd: before.filter((p) => p.comm === "workerd").length,
      workerd_pids: before.filter((p) => p.comm === "workerd").map((p) => p.pid),
      survivors: survivors.length,
    };
  };

  /** A clean stop (SIGTERM, then SIGKILL after 5 s), for the end of a case. */
  const stop = async () => {
    if (!exited) {
      signalGroup(child.pid, "SIGTERM");
      const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), 5_000);
      await exitPromise;
      clearTimeout(timer);
    }
    signalGroup(child.pid, "SIGKILL"); // stragglers of the group (workerd)
    for (let i = 0; i < 100 && groupProcesses(child.pid).some((p) => p.state !== "Z"); i++) await sleep(50);
    forget();
  };

  while (performance.now() - t0 < timeoutMs) {
    if (exited) {
      forget();
      throw new Error(`start.mjs exited (${JSON.stringify(exited)}) before it was ready; see ${logFile}`);
    }
    if (ready) {
      const res = await fetch(`${base}/health`).catch(() => null);
      if (res?.ok) return { base, pid: child.pid, kept, counts, faults, exited: () => exited, kill9, stop, startupMs: performance.now() - t0 };
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`the service did not get ready within ${timeoutMs} ms; see ${logFile}`);
}

/** Workerd processes of this machine that are not in `ownGroups` (another engineer's server): reported, never touched. */
export function otherWorkerds(ownGroups = []) {
  const own = new Set(ownGroups);
  const found = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const [state, , pgrp] = stat.slice(close + 2).split(" ");
      if (stat.slice(stat.indexOf("(") + 1, close) === "workerd" && state !== "Z" && !own.has(Number(pgrp))) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

/**
 * wrangler.toml with `main` pointing at a fault case's wrapper Worker (bench/faults/*-worker.mjs,
 * which re-exports Stepline's entry with its ExecutionObject subclassed) and every other path made
 * absolute (the copy lives under bench/.state); no [build] (the dashboard is not what a fault case
 * exercises).
 */
function faultConfig(dir, worker) {
  const text = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main = .*$/m, `main = "${join(ROOT, "bench", "faults", worker)}"`)
    .replace(/^\[build\]\n(?:(?!\[).*\n)*/m, "")
    .replace(/^directory = "(.*)"$/m, (_, d) => `directory = "${join(ROOT, d)}"`)
    .replace(/^migrations_dir = "(.*)"$/m, (_, d) => `migrations_dir = "${join(ROOT, d)}"`);
  const file = join(dir, "wrangler.toml");
  writeFileSync(file, text);
  return file;
}

/**
 * One run's service on fresh state: a new dir under bench/.state/faults/<name>, its own vars file,
 * and, with `worker`, a generated wrangler config serving that wrapper Worker instead of
 * src/index.ts. `done()` stops the service and removes the dir.
 */
export async function startFaultService({ name, vars, worker, logDir, countPatterns }) {
  const dir = join(STATE, "faults", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const varsFile = join(dir, "faults.vars");
  writeFileSync(varsFile, varsFileText(vars), { mode: 0o600 });
  const svc = await startService({
    port: await freePort(),
    inspectorPort: await freePort(),
    persistTo: join(dir, "state"),
    varsFile,
    logFile: join(logDir, `${name}.log`),
    extraArgs: worker ? ["--config", faultConfig(dir, worker)] : [],
    countPatterns,
  });
  const done = async () => {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { svc, done };
}

/** A vars file for the service (the harness's own: never .dev.vars). */
export function varsFileText(vars) {
  return `${Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n")}\n`;
}

export const logNote = (msg) => console.log(`[faults ${new Date().toISOString().slice(11, 19)}] ${msg}`);
