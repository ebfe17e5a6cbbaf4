#!/usr/bin/env node
// `npm start`: local D1 migrated, .dev.vars created when missing (never overwritten), wrangler dev
// on 127.0.0.1:8787 (arguments pass through: `npm start -- --port 8790`), example workflows
// registered once the server answers, and the local admin key printed.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const devVarsPath = join(root, ".dev.vars");
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const args = process.argv.slice(2);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

function readDevVars() {
  const vars = {};
  for (const line of readFileSync(devVarsPath, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

if (!existsSync(devVarsPath)) {
  const admin = `stp_admin_${randomBytes(24).toString("base64url")}`;
  const stream = randomBytes(32).toString("base64url");
  writeFileSync(
    devVarsPath,
    `# Local secrets for wrangler dev (created by npm start; not committed).\nADMIN_API_KEY=${admin}\nSTREAM_TOKEN_SECRET=${stream}\n`,
    { mode: 0o600 },
  );
  console.log("Created .dev.vars with a new ADMIN_API_KEY and STREAM_TOKEN_SECRET.");
}
const adminKey = readDevVars().ADMIN_API_KEY;

const migrate = spawnSync(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local"], {
  cwd: root,
  env: { ...env, CI: "true" }, // non-interactive: apply without a confirmation prompt
  stdio: "inherit",
});
if (migrate.status !== 0) {
  console.error("Applying local D1 migrations failed.");
  process.exit(migrate.status ?? 1);
}

function flagValue(name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}
const port = Number(flagValue("--port") ?? 8787);
const ip = flagValue("--ip") ?? "127.0.0.1";
const devArgs = ["dev", ...(flagValue("--ip") ? [] : ["--ip", ip]), ...(flagValue("--port") ? [] : ["--port", String(port)]), ...args];
const server = spawn(process.execPath, [wrangler, ...devArgs], { cwd: root, env, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

const base = `http://${ip.includes(":") ? `[${ip}]` : ip}:${port}`;

async function waitForHealth() {
  for (let i = 0; i < 240; i++) {
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

async function registerExamples() {
  const dir = join(root, "examples");
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
  for (const file of files) {
    const res = await fetch(`${base}/v1/workflows`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: readFileSync(join(dir, file), "utf8"),
    });
    const body = await res.json().catch(() => ({}));
    const what = res.status === 201 ? "registered" : res.status === 200 ? "unchanged" : `failed (${res.status} ${body.code ?? ""})`;
    console.log(`  example ${file}: ${what}${body.version ? ` as ${body.id} v${body.version}` : ""}`);
  }
}

if (await waitForHealth()) {
  console.log(`\nStepline is running at ${base}`);
  await registerExamples();
  console.log(`  API reference: ${base}/docs   OpenAPI: ${base}/openapi.json`);
  console.log(`  Local admin key (tenant "default"): ${adminKey}\n`);
} else {
  console.error(`Stepline did not answer ${base}/health; is the port free?`);
}
