/* global process */
// Where the machine's CPU went during a measurement, from /proc: the servers' process groups (each
// wrangler and its workerd, which runs the Worker and the server's local D1 databases; one group,
// or one per shard in mode processes), this runner (the load), and everything else (other people's
// work on a shared machine).
import { readFileSync, readdirSync } from "node:fs";
import { groupProcesses } from "../faults/service.mjs";

const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime + stime of a /proc stat file. */
function ticksOf(file) {
  const stat = readFileSync(file, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** CPU ticks of every thread of the group's processes, by "pid/tid" (a thread's share shows a one-thread bound). */
function groupThreads(pgid) {
  const threads = new Map();
  for (const { pid } of groupProcesses(pgid)) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) threads.set(`${pid}/${tid}`, ticksOf(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // exited while we read
    }
  }
  return threads;
}

/** Busy, iowait and total ticks of all cores (/proc/stat's first line; idle and iowait are not busy). */
function machineTicks() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], iowait: f[4], total };
}

/** `pgids`: the process group of each server. */
export function cpuSnapshot(pgids) {
  const self = process.cpuUsage();
  return { servers: pgids.map(groupThreads), runner: (self.user + self.system) / 1e6, machine: machineTicks() };
}

/**
 * Cores used (CPU seconds per wall second) between two snapshots: by the servers (each server, and
 * the busiest thread of any), the runner and the rest; and the cores idle waiting on disk (iowait:
 * SQLite commits).
 */
export function coresUsed(a, b, wallMs) {
  const s = wallMs / 1000;
  const used = b.servers.map((threads, i) => [...threads].map(([id, t]) => (t - (a.servers[i].get(id) ?? 0)) / TICKS_PER_S / s));
  const per_server = used.map((u) => u.reduce((x, y) => x + y, 0));
  const server = per_server.reduce((x, y) => x + y, 0);
  const runner = (b.runner - a.runner) / s;
  const busy = (b.machine.busy - a.machine.busy) / TICKS_PER_S / s;
  const iowait = (b.machine.iowait - a.machine.iowait) / TICKS_PER_S / s;
  return { server, per_server, server_busiest_thread: Math.max(0, ...used.flat()), runner, others: Math.max(0, busy - server - runner), machine: busy, iowait };
}
