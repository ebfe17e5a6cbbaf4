/* global URL, clearTimeout, console, fetch, performance, process, setTimeout */
// Server lifecycle: one `wrangler dev` at a time, in its own process group, so that stopping it
// (or a ctrl-C of the runner) leaves no wrangler or workerd behind. Its stdout is kept as lines
// and as parsed JSON log records (Stepline logs one JSON object per line).
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
/** wrangler 4.124 needs Node 22: the repo's node@22 dev dependency, else whatever runs us. */
export const NODE22 = existsSync(join(ROOT, "node_modules", "node", "bin", "node"))
  ? join(ROOT, "node_modules", "node", "bin", "node")
  : process.execPath;

const childEnv = () => ({ ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" });
const running = new Set();

/**
 * Copies a child's stdout and stderr to `out` as they come and calls `onLine` with each complete
 * line (without its newline).
 */
export function eachLine(child, out, onLine) {
  for (const stream of [child.stdout, child.stderr]) {
    let buf = "";
    stream.on("data", (chunk) => {
      out.write(chunk);
      buf += chunk.toString("utf8");
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        onLine(line);
      }
    });
  }
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

// Whatever ends the runner, the servers' process groups go with it.
process.on("exit", () => {
  for (const child of running) {
    killGroup(child, "SIGKILL");
    cleanBundleDir(child.config);
  }
});

/** wrangler bundles into .wrangler/tmp beside a config outside the repo root; don't leave it for eslint. */
function cleanBundleDir(config) {
  if (config && dirname(config) !== ROOT) rmSync(join(dirname(config), ".wrangler"), { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping servers`);
    process.exit(130);
  });
}

/** Runs a wrangler command to completion (e.g. `d1 migrations apply`); throws on failure. */
export function wranglerSync(args, { cwd = ROOT } = {}) {
  const res = spawnSync(NODE22, [WRANGLER, ...args], { cwd, env: childEnv(), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

export async function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A port the OS says is free on 127.0.0.1 now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `wrangler dev` and resolves once `healthPath` answers 200.
 * @returns {Promise<{ base: string, pid: number, logs: object[], lines: string[], stop: () => Promise<void>, startupMs: number }>}
 * (`pid` leads the server's process group: wrangler, and the workerd it runs.)
 */
export async function startServer({ name, config, port, inspectorPort, persistTo, vars = {}, logFile, healthPath = "/health", timeoutMs = 90_000 }) {
  for (let i = 0; !(await portIsFree(port)); i++) {
    if (i >= 100) throw new Error(`${name}: port ${port} is in use; stop whatever listens there first.`);
    await sleep(100);
  }
  mkdirSync(dirname(logFile), { recursive: true });
  const args = [
    WRANGLER, "dev",
    "--config", config,
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo,
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const t0 = performance.now();
  const child = spawn(NODE22, args, { cwd: ROOT, env: childEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.config = config;
  running.add(child);
  const out = createWriteStream(logFile);
  const lines = [];
  const logs = [];
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once("exit", (code, signal) => {
    exited = { code, signal };
    running.delete(child);
    resolve();
  }));
  eachLine(child, out, (line) => {
    lines.push(line);
    const brace = line.indexOf("{\"");
    if (brace >= 0) {
      try {
        logs.push(JSON.parse(line.slice(brace)));
      } catch {
        // not one of our JSON lines
      }
    }
  });

  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    killGroup(child, "SIGTERM");
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
    await exitPromise;
    clearTimeout(timer);
    killGroup(child, "SIGKILL"); // stragglers of the group (workerd)
    out.end();
    cleanBundleDir(config);
    // Give the OS a moment to release the port before the next server binds it.
    for (let i = 0; i < 50 && !(await portIsFree(port)); i++) await sleep(100);
  };

  while (performance.now() - t0 < timeoutMs) {
    if (exited) throw new Error(`${name}: wrangler dev exited (${JSON.stringify(exited)}) before answering; see ${logFile}`);
    try {
      const res = await fetch(`${base}${healthPath}`);
      await res.arrayBuffer();
      if (res.ok) return { name, base, pid: child.pid, logs, lines, stop, exited: () => exited, startupMs: performance.now() - t0 };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`${name}: no answer from ${base}${healthPath} within ${timeoutMs} ms; see ${logFile}`);
}

/** The `d1_rows_read` of the request log lines of `requestIds` (Stepline logs one per request). */
export function d1RowsReadOf(server, requestIds) {
  const wanted = new Set(requestIds);
  return server.logs.filter((l) => l.message === "request" && wanted.has(l.request_id) && typeof l.d1_rows_read === "number").map((l) => l.d1_rows_read);
}
