/* global process */
// Facts about the machine and the toolchain, for the report.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { NODE22, ROOT } from "./server.mjs";

const pkgVersion = (name) => {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
};

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: ROOT });
  return r.status === 0 ? r.stdout.trim() : "unknown";
};

export function machineFacts() {
  const cpus = os.cpus();
  let osName = `${os.type()} ${os.release()}`;
  try {
    const pretty = /^PRETTY_NAME="?(.*?)"?$/m.exec(readFileSync("/etc/os-release", "utf8"));
    if (pretty) osName = `${pretty[1]} (${os.type()} ${os.release()})`;
  } catch {
    // not Linux
  }
  const workerdBin = join(ROOT, "node_modules", "@cloudflare", `workerd-${process.platform}-${process.arch === "x64" ? "64" : process.arch}`, "bin", "workerd");
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName,
    arch: process.arch,
    node_runner: process.version,
    node_wrangler: run(NODE22, ["--version"]),
    wrangler: pkgVersion("wrangler"),
    miniflare: pkgVersion("miniflare"),
    workerd: run(workerdBin, ["--version"]),
    commit: run("git", ["rev-parse", "--short", "HEAD"]),
    // Uncommitted changes to what is measured (the service, its config, the bench): the commit alone does not say what ran.
    uncommitted: run("git", ["status", "--porcelain", "--", "src", "migrations", "wrangler.toml", "package.json", "bench"]) !== "",
  };
}
