#!/usr/bin/env node
// Builds the dashboard (dashboard/src, with the typed client in client/src) into public/app/:
// dashboard.js and dashboard.css, bundled from npm packages (preact, htm, uplot), so the page
// loads nothing from another origin. wrangler runs it before `wrangler dev` and `wrangler deploy`
// (wrangler.toml [build]); It fails on any bundling error.
import { build } from "esbuild";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

await build({
  entryPoints: { dashboard: join(root, "dashboard/src/main.ts") },
  outdir: join(root, "public/app"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  logLevel: "warning",
});
