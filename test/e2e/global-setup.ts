/**
 * Starts what a user runs: `scripts/start.mjs` (the script behind `npm start`), which migrates a
 * local D1, starts the examples' demo upstream and `wrangler dev`, and registers the examples. It
 * runs on free loopback ports with its own state directory and vars file, so it never touches a
 * developer's `.dev.vars` or `.wrangler/state`. Beside it runs the test upstream
 * (test/upstream/worker.mjs served by Node's http server on loopback), the only private address
 * its http steps may reach besides the demo upstream and the LLM stand-in that start.mjs runs
 * (scripts/llm-standin.mjs on a free port here: its base URL is LLM_BASE_URL, provided as `llmUrl`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { serveFetch } from "../../scripts/serve-fetch.mjs";
import upstreamWorker from "../upstream/worker.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    /** The service under test, e.g. http://127.0.0.1:41234. */
    baseUrl: string;
    adminKey: string;
    /** The test upstream, as http steps address it. */
    upstreamUrl: string;
    /**
     * The LLM stand-in that start.mjs runs beside the service, as LLM_BASE_URL names it, e.g.
     * http://127.0.0.1:41235/v1 (key `standin-local-key`): `${llmUrl}/_calls` lists the calls it
     * received (`?model=M` for one model's), DELETE clears them.
     */
    llmUrl: string;
    /** The value of the Worker secret SECRET_API_TOKEN (`{{ secrets.API_TOKEN }}`). */
    apiToken: string;
    /** wrangler dev's output, for diagnosing a failure. */
    serverLog: string;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function waitForReady(child: ChildProcess, logPath: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`wrangler dev did not start within ${ms} ms; see ${logPath}`)), ms);
    child.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      // start.mjs prints the admin key after the server answered and the examples were registered.
      if (seen.includes("Local admin key")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`wrangler dev exited with ${code} before it was ready; see ${logPath}:\n${readFileSync(logPath, "utf8").slice(-3000)}`));
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), "stepline-e2e-"));
  const upstream = (await serveFetch((request: Request) => upstreamWorker.fetch(request))) as { server: Server; port: number; url: string };
  const adminKey = `stp_e2e_${randomBytes(18).toString("base64url")}`;
  const apiToken = `tok-e2e-${randomBytes(12).toString("hex")}`;
  const varsPath = join(dir, "e2e.vars");
  writeFileSync(
    varsPath,
    [
      `ADMIN_API_KEY=${adminKey}`,
      `STREAM_TOKEN_SECRET=${randomBytes(32).toString("base64url")}`,
      `SECRET_API_TOKEN=${apiToken}`,
      `ALLOWED_PRIVATE_HOSTS=127.0.0.1:${upstream.port}`,
      // The suite drives everything with the bootstrap key, faster than the default 1,200 a
      // minute allows; the rate-limit scenario gives its own key a small rate.
      "RATE_LIMIT_PER_MINUTE=100000",
      "",
    ].join("\n"),
  );
  const port = await freePort();
  const inspectorPort = await freePort();
  const llmPort = await freePort();
  const logPath = join(dir, "server.log");
  const log = createWriteStream(logPath);
  const child = spawn(
    process.execPath,
    [
      "scripts/start.mjs",
      "--port", String(port),
      "--inspector-port", String(inspectorPort),
      "--persist-to", join(dir, "state"),
      "--env-file", varsPath,
      "--demo-port", "0",
      "--llm-port", String(llmPort),
      "--show-interactive-dev-session=false",
    ],
    { cwd: new URL("../..", import.meta.url).pathname, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" }, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-child.pid, "SIGTERM"); // the whole group: start.mjs, wrangler and workerd
      } catch {
        // already gone
      }
      const timeout = new Promise((r) => setTimeout(r, 5_000, "timeout"));
      if ((await Promise.race([exited, timeout])) === "timeout") {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await new Promise((r) => upstream.server.close(r));
    upstream.server.closeAllConnections();
    log.end();
    if (!process.env.STEPLINE_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForReady(child, logPath, 120_000);
  } catch (error) {
    await stop();
    throw error;
  }
  project.provide("baseUrl", `http://127.0.0.1:${port}`);
  project.provide("adminKey", adminKey);
  project.provide("upstreamUrl", upstream.url);
  project.provide("llmUrl", `http://127.0.0.1:${llmPort}/v1`);
  project.provide("apiToken", apiToken);
  project.provide("serverLog", logPath);
  return stop;
}
