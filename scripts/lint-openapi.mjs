#!/usr/bin/env node
// `npm run lint:openapi`: lints the published contract with Redocly's recommended rules
// (redocly.yaml; accepted exceptions, each with its reason, in .redocly.lint-ignore.yaml).
//
// With no argument the document is rendered in-process, without a server: src/app.ts is bundled
// with esbuild (`cloudflare:workers` stubbed: rendering the document never touches the Durable
// Object) and createApp() answers GET /openapi.json. With an argument, that URL or file is linted
// instead, e.g. `npm run lint:openapi -- http://127.0.0.1:8787/openapi.json` against `npm start`.
// Either way the document is written to DOCUMENT_PATH first (the ignore file names that path), and
// `--out FILE` keeps a copy. Exits non-zero when Redocly reports an error.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { renderOpenApi } from "./render-openapi.mjs";

const root = new URL("..", import.meta.url).pathname;
/** Where the linted document is written; .redocly.lint-ignore.yaml refers to it by this path. */
const DOCUMENT_PATH = join(root, "node_modules", ".cache", "stepline", "openapi.json");
/** The origin `npm start` serves on; it becomes the document's `servers` entry. */
const ORIGIN = "http://127.0.0.1:8787";

const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const out = outIndex >= 0 ? args.splice(outIndex, 2)[1] : undefined;
const source = args[0];

async function load() {
  if (!source) return renderOpenApi(ORIGIN);
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source);
    if (!res.ok) throw new Error(`GET ${source} answered ${res.status}`);
    return res.text();
  }
  return readFileSync(source, "utf8");
}

let status = 1;
try {
  // Pretty-printed, so the linter's locations are lines a person can read.
  const text = `${JSON.stringify(JSON.parse(await load()), null, 2)}\n`;
  mkdirSync(dirname(DOCUMENT_PATH), { recursive: true });
  writeFileSync(DOCUMENT_PATH, text);
  if (out) writeFileSync(out, text);
  const redocly = spawnSync(
    join(root, "node_modules", ".bin", "redocly"),
    ["lint", DOCUMENT_PATH, "--config", join(root, "redocly.yaml"), "--format", "stylish"],
    { cwd: root, stdio: "inherit", env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" } },
  );
  status = redocly.status ?? 1;
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
}
process.exit(status);
