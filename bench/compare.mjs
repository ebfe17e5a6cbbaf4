/* global process, console, performance */
// `npm run bench:compare -- <before> <after> [--rounds N] [--batches N]`
//
// Is one revision slower than another? Runs both (git worktrees of the two commits, each with its own
// D1 migrations) under the repo's wrangler/workerd, one server at a time, alternating which goes first
// round by round. Each session warms up, then runs batches of the chain shapes (10 × 100 and 50 × 20
// trivial steps, started at once) and 20 single 20-step executions (status polled every millisecond). Per batch it records wall time and
// the CPU time workerd spent (the sum over its threads of /proc/<pid>/task/<tid>/schedstat, in ns):
// CPU is what the code costs and varies far less than wall time on a shared 2-core machine. Reports
// medians and a 95 % bootstrap interval of the difference of medians. Writes bench/COMPARE.md.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quiet, runBatch, sleep } from "./lib/http.mjs";
import { ROOT, startServer, wranglerSync } from "./lib/server.mjs";
import { median } from "./lib/stats.mjs";
import { benchVars, steplineTarget } from "./lib/targets.mjs";

const PORT = 8795;
const INSPECTOR = 9335;
const SHAPES = [
  { key: "10x100", executions: 10, steps: 100 },
  { key: "50x20", executions: 50, steps: 20 },
];

function parseArgs(argv) {
  const revs = [];
  const opts = { rounds: 6, batches: 2 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--rounds") opts.rounds = Number(argv[++i]);
    else if (argv[i] === "--batches") opts.batches = Number(argv[++i]);
    else revs.push(argv[i]);
  }
  if (revs.length !== 2) throw new Error("usage: npm run bench:compare -- <before> <after> [--rounds N] [--batches N]");
  return { revs, ...opts };
}

/** Thread CPU (ns) of every workerd process in the server's process group. */
function workerdCpuNs(pgid) {
  let ns = 0;
  for (const pid of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid || !stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).includes("workerd")) continue;
      for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread or process ended while we read
    }
  }
  return ns;
}

/** 95 % bootstrap interval of median(b) − median(a). */
function bootstrapDiff(a, b, draws = 4000) {
  const pick = (xs) => Array.from(xs, () => xs[Math.floor(Math.random() * xs.length)]);
  const diffs = Array.from({ length: draws }, () => median(pick(b)) - median(pick(a))).sort((x, y) => x - y);
  return [diffs[Math.floor(0.025 * draws)], diffs[Math.floor(0.975 * draws)]];
}

function worktree(base, rev) {
  const dir = join(base, rev.replace(/[^\w.-]/g, "_"));
  execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", "-f", dir, rev], { stdio: "ignore" });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const template = join(dir, ".bench-template");
  wranglerSync(["d1", "migrations", "apply", "DB", "--local", "--persist-to", template], { cwd: dir });
  return { rev, dir, template, sha: execFileSync("git", ["-C", ROOT, "rev-parse", "--short", rev]).toString().trim() };
}

async function session(tree, round, opts, secrets, out) {
  const persistTo = join(tree.dir, ".bench-session");
  rmSync(persistTo, { recursive: true, force: true });
  execFileSync("cp", ["-r", tree.template, persistTo]);
  const server = await startServer({
    name: tree.rev, config: join(tree.dir, "wrangler.toml"), port: PORT, inspectorPort: INSPECTOR, persistTo, vars: secrets,
    logFile: join(ROOT, "bench", ".state", "logs", `compare-${tree.sha}-${round}.log`),
  });
  const pgid = server.pid;
  try {
    const client = await steplineTarget(secrets).client(server);
    await runBatch(client, 2, 20);
    await runBatch(client, 10, 100);
    for (let b = 0; b < opts.batches; b++) {
      for (const shape of SHAPES) {
        await quiet();
        const c0 = workerdCpuNs(pgid);
        const { wallMs } = await runBatch(client, shape.executions, shape.steps, { intervalMs: 20 });
        await sleep(300); // the objects' last flushes
        const cpuMs = (workerdCpuNs(pgid) - c0) / 1e6;
        if (!(cpuMs > 0)) throw new Error(`${tree.sha}: no workerd CPU seen in process group ${pgid}`);
        (out[shape.key] ??= { wall: [], cpu: [] }).wall.push(wallMs);
        out[shape.key].cpu.push(cpuMs);
        console.log(`${tree.sha} round ${round + 1} ${shape.key}: ${wallMs.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms workerd CPU`);
      }
    }
    // One execution at a time: the start request, then its status every millisecond until it ends.
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const { id } = await client.start(20);
      const t1 = performance.now();
      while (!(await client.status(id)).terminal) await sleep(1);
      (out.start ??= { wall: [] }).wall.push(t1 - t0);
      (out.latency ??= { wall: [] }).wall.push(performance.now() - t0);
    }
  } finally {
    await server.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

/**
 * A session whose local runtime fails (it can exit under load on a small machine: "Network
 * connection lost") is run again from fresh state; only a whole session's figures are kept.
 */
async function sessionWithRetries(tree, round, opts, secrets, out, attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    const own = {};
    try {
      await session(tree, round, opts, secrets, own);
      for (const [k, v] of Object.entries(own)) for (const [f, xs] of Object.entries(v)) ((out[k] ??= {})[f] ??= []).push(...xs);
      return;
    } catch (error) {
      if (attempt >= attempts) throw error;
      console.error(`${tree.sha} round ${round + 1} failed (${String(error.message).split("\n")[0]}); running it again`);
    }
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const base = mkdtempSync(join(tmpdir(), "stepline-compare-"));
  const secrets = benchVars();
  const trees = opts.revs.map((rev) => worktree(base, rev));
  const results = trees.map(() => ({}));
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 ? [1, 0] : [0, 1];
      for (const i of order) await sessionWithRetries(trees[i], round, opts, secrets, results[i]);
    }
  } finally {
    for (const t of trees) execFileSync("git", ["-C", ROOT, "worktree", "remove", "--force", t.dir], { stdio: "ignore" });
    if (existsSync(base)) rmSync(base, { recursive: true, force: true });
  }
  const [a, b] = results;
  const fmt = (x) => x.toLocaleString("en-US", { maximumFractionDigits: x < 100 ? 1 : 0 });
  const lines = [
    `# ${trees[0].sha} against ${trees[1].sha}`,
    "",
    `\`npm run bench:compare -- ${opts.revs.join(" ")} --rounds ${opts.rounds} --batches ${opts.batches}\` on ${new Date().toISOString()}: ${opts.rounds} rounds, the two revisions alternating which goes first, each session warmed up, ${opts.batches} batches per shape per session, 20 single executions per session. Medians; the interval is a 95 % bootstrap interval of (after − before). See the header of \`bench/compare.mjs\` for the method.`,
    "",
    `| Figure | ${trees[0].sha} (before) | ${trees[1].sha} (after) | after − before (95 % interval) |`,
    "|---|---|---|---|",
  ];
  for (const shape of SHAPES) {
    for (const [f, label] of [["cpu", "workerd CPU"], ["wall", "wall time"]]) {
      const [lo, hi] = bootstrapDiff(a[shape.key][f], b[shape.key][f]);
      lines.push(`| ${shape.key.replace("x", " × ")} steps: ${label} (ms, n = ${a[shape.key][f].length} each) | ${fmt(median(a[shape.key][f]))} | ${fmt(median(b[shape.key][f]))} | ${fmt(median(b[shape.key][f]) - median(a[shape.key][f]))} (${fmt(lo)} to ${fmt(hi)}) |`);
    }
  }
  for (const [f, label] of [["start", "20-step execution: the start request"], ["latency", "20-step execution: start → terminal"]]) {
    const [lo, hi] = bootstrapDiff(a[f].wall, b[f].wall);
    lines.push(`| ${label} (ms, n = ${a[f].wall.length} each) | ${fmt(median(a[f].wall))} | ${fmt(median(b[f].wall))} | ${fmt(median(b[f].wall) - median(a[f].wall))} (${fmt(lo)} to ${fmt(hi)}) |`);
  }
  writeFileSync(join(ROOT, "bench", "COMPARE.md"), lines.join("\n") + "\n");
  console.log(lines.join("\n"));
}

await main();
