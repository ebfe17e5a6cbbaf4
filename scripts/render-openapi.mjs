// The published OpenAPI document, rendered in-process without a server: src/app.ts is bundled
// with esbuild (`cloudflare:workers` stubbed: rendering the document never touches a Durable
// Object) and createApp() answers GET /openapi.json. Used by `npm run lint:openapi` and
// `npm run client:generate`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

const workersStub = {
  name: "cloudflare-workers-stub",
  setup(b) {
    b.onResolve({ filter: /^cloudflare:workers$/ }, () => ({ path: "cloudflare:workers", namespace: "stub" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      contents: "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }\nexport const env = {};\n",
      loader: "js",
    }));
  },
};

/** The document as `origin` would serve it (its `servers` entry), as text. */
export async function renderOpenApi(origin) {
  const dir = mkdtempSync(join(tmpdir(), "stepline-openapi-"));
  try {
    const file = join(dir, "app.mjs");
    await build({
      stdin: { contents: 'export { createApp } from "./src/app.ts";', resolveDir: root, loader: "ts" },
      bundle: true,
      format: "esm",
      platform: "neutral",
      mainFields: ["module", "main"],
      conditions: ["workerd", "worker", "import"],
      outfile: file,
      logLevel: "error",
      plugins: [workersStub],
    });
    const { createApp } = await import(pathToFileURL(file).href);
    const log = console.log;
    console.log = () => {}; // the request log line of the one request below
    const res = await createApp()
      .request(`${origin}/openapi.json`, {}, {})
      .finally(() => (console.log = log));
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
    return res.text();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

