#!/usr/bin/env node
// `npm start`: local D1 migrated, .dev.vars created when missing (never overwritten), the examples'
// demo upstream on 127.0.0.1:8789, the LLM stand-in (scripts/llm-standin.mjs) on 127.0.0.1:8790,
// wrangler dev on 127.0.0.1:8787, example workflows registered once the server answers, and the local
// admin key printed.
//
// Arguments pass through to wrangler dev (`npm start -- --port 8788`). Four are read here too:
//   --env-file F    the vars file to use instead of .dev.vars (wrangler then ignores .dev.vars)
//   --persist-to D  where local state lives (D1 is migrated there too)
//   --demo-port N   the demo upstream's port (8789); 0 picks a free one
//   --llm-port N    the LLM stand-in's port (8790; a free one when wrangler dev is given --port 8790);
//                   0 picks a free one
// llm steps reach the stand-in (LLM_BASE_URL http://127.0.0.1:<port>/v1, LLM_API_KEY standin-local-key)
// unless the vars file sets LLM_BASE_URL or LLM_API_KEY: then that provider is used and no stand-in runs.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { demoUpstream } from "./demo-upstream.mjs";
import { llmStandin } from "./llm-standin.mjs";
import { serveFetch } from "./serve-fetch.mjs";

const root = new URL("..", import.meta.url).pathname;
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

/** `--name value` or `--name=value`; removed from `args` when `consume` is set. */
function flagValue(args, name, consume = false) {
  for (let i = 0; i < args.length; i++) {
    const eq = args[i].startsWith(`${name}=`);
    if (args[i] !== name && !eq) continue;
    const value = eq ? args[i].slice(name.length + 1) : args[i + 1];
    if (consume) args.splice(i, eq ? 1 : 2);
    return value;
  }
  return undefined;
}

const args = process.argv.slice(2);
const demoPort = Number(flagValue(args, "--demo-port", true) ?? 8789);
const llmPortFlag = flagValue(args, "--llm-port", true);
const envFile = flagValue(args, "--env-file");
const persistTo = flagValue(args, "--persist-to");
const devVarsPath = envFile ? resolve(envFile) : join(root, ".dev.vars");
/** The address the examples name for the demo upstream; substituted when it runs elsewhere. */
const EXAMPLES_DEMO_BASE = "http://127.0.0.1:8789";
/** The LLM stand-in's bearer token: a fixed local value, nothing secret. */
const STANDIN_API_KEY = "standin-local-key";

function readDevVars() {
  const vars = {};
  for (const line of readFileSync(devVarsPath, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

if (!existsSync(devVarsPath) && !envFile) {
  const admin = `stp_admin_${randomBytes(24).toString("base64url")}`;
  const stream = randomBytes(32).toString("base64url");
  writeFileSync(
    devVarsPath,
    `# Local secrets for wrangler dev (created by npm start; not committed).\nADMIN_API_KEY=${admin}\nSTREAM_TOKEN_SECRET=${stream}\n`,
    { mode: 0o600 },
  );
  console.log("Created .dev.vars with a new ADMIN_API_KEY and STREAM_TOKEN_SECRET.");
}
const devVars = readDevVars();
const adminKey = devVars.ADMIN_API_KEY;

const migrate = spawnSync(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", ...(persistTo ? ["--persist-to", persistTo] : [])], {
  cwd: root,
  env: { ...env, CI: "true" }, // non-interactive: apply without a confirmation prompt
  stdio: "inherit",
});
if (migrate.status !== 0) {
  console.error("Applying local D1 migrations failed.");
  process.exit(migrate.status ?? 1);
}

// The examples' stand-in for the services they call: http steps may reach it (and only it, of the
// private addresses, besides what the vars file allows), and its demo token is a secret of the Worker.
const demo = await serveFetch(demoUpstream, { port: demoPort });

const port = Number(flagValue(args, "--port") ?? 8787);

// The LLM stand-in answers llm steps, unless the vars file names a provider of its own (then that wins).
const userLlm = devVars.LLM_BASE_URL !== undefined || devVars.LLM_API_KEY !== undefined;
let llm;
if (!userLlm) {
  const llmPort = Number(llmPortFlag ?? (port === 8790 ? 0 : 8790));
  try {
    llm = await serveFetch(llmStandin({ apiKey: STANDIN_API_KEY }), { port: llmPort });
  } catch (error) {
    console.error(`The LLM stand-in could not listen on 127.0.0.1:${llmPort} (${error.code ?? error}); --llm-port N moves it, 0 picks a free one.`);
    demo.server.close();
    process.exit(1);
  }
}
const llmBaseUrl = llm ? `${llm.url}/v1` : undefined;

const allowed = [devVars.ALLOWED_PRIVATE_HOSTS, `127.0.0.1:${demo.port}`, ...(llm ? [`127.0.0.1:${llm.port}`] : [])].filter(Boolean).join(",");
/** The examples' secrets (`{{ secrets.NAME }}` reads SECRET_NAME): the demo upstream's stand-in tokens, unless the vars file sets one. */
const DEMO_SECRETS = {
  SECRET_BILLING_TOKEN: "demo-billing-token",
  SECRET_REGISTRY_TOKEN: "demo-registry-token",
  SECRET_DEPLOY_TOKEN: "demo-deploy-token",
  SECRET_CHAT_TOKEN: "demo-chat-token",
};
const demoVars = [
  `ALLOWED_PRIVATE_HOSTS:${allowed}`,
  ...Object.entries(DEMO_SECRETS)
    .filter(([name]) => !devVars[name])
    .map(([name, value]) => `${name}:${value}`),
  ...(llm ? [`LLM_BASE_URL:${llmBaseUrl}`, `LLM_API_KEY:${STANDIN_API_KEY}`] : []),
];

const ip = flagValue(args, "--ip") ?? "127.0.0.1";
const devArgs = [
  "dev",
  ...(flagValue(args, "--ip") ? [] : ["--ip", ip]),
  ...(flagValue(args, "--port") ? [] : ["--port", String(port)]),
  ...demoVars.flatMap((v) => ["--var", v]),
  ...args,
];
const server = spawn(process.execPath, [wrangler, ...devArgs], { cwd: root, env, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code, signal) => {
  demo.server.close();
  llm?.server.close();
  process.exit(code ?? (signal ? 1 : 0));
});

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
      body: readFileSync(join(dir, file), "utf8").replaceAll(EXAMPLES_DEMO_BASE, demo.url),
    });
    const body = await res.json().catch(() => ({}));
    const what = res.status === 201 ? "registered" : res.status === 200 ? "unchanged" : `failed (${res.status} ${body.code ?? ""})`;
    console.log(`  example ${file}: ${what}${body.version ? ` as ${body.id} v${body.version}` : ""}`);
  }
}

if (await waitForHealth()) {
  console.log(`\nStepline is running at ${base} (the examples' demo upstream at ${demo.url})`);
  console.log(
    llm
      ? `  LLM stand-in: ${llmBaseUrl} (key ${STANDIN_API_KEY}; models standin-429, standin-500, standin-slow, … misbehave)`
      : `  LLM provider: LLM_BASE_URL ${devVars.LLM_BASE_URL ? devVars.LLM_BASE_URL : "(not set: only @cf/ models, with an AI binding)"} from ${devVarsPath}`,
  );
  await registerExamples();
  console.log(`  API reference: ${base}/docs   OpenAPI: ${base}/openapi.json`);
  console.log(`  Local admin key (tenant "default"): ${adminKey}\n`);
} else {
  console.error(`Stepline did not answer ${base}/health; is the port free?`);
}
