/**
 * The layer rules of src/ (STYLE.md, "The house, next"), checked by `npm run lint:layers` (part of
 * `npm run check`). Arrows point down only:
 *
 *   index → app → api → services → durable/<object>/client.ts, store, engine → schemas
 *   durable (the object) → engine, store → schemas;  lib from anywhere
 *
 * Type-only imports count (`tsPreCompilationDeps`): a type that points up is still a layer broken.
 * Each rule says why; `npx depcruise src --output-type text` lists every dependency.
 */
/* global module */
const OUR_LAYERS = "^src/(api|services|durable|store|engine|schemas|lib)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "No circular imports: a circle has no bottom, so neither side can be read or tested alone.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "schemas-import-only-zod",
      severity: "error",
      comment:
        "schemas/ is the bottom layer: zod schemas, vocabularies and limits. It imports other schemas, lib/ and zod, " +
        "nothing of the engine, the object, the stores or the API (move a shared list or limit down instead).",
      from: { path: "^src/schemas/" },
      to: { pathNot: ["^src/(schemas|lib)/", "^node_modules/(zod|@hono/zod-openapi)/"] },
    },
    {
      name: "engine-is-pure",
      severity: "error",
      comment:
        "engine/ is pure logic: it never imports the Durable Object, the D1 stores, the services, the API or the " +
        "platform (`cloudflare:*`). It may import schemas/ and lib/.",
      from: { path: "^src/engine/" },
      to: { path: ["^src/(durable|store|services|api)/", "^src/(app|index)\\.ts$", "^cloudflare:"] },
    },
    {
      name: "store-imports-schemas-only",
      severity: "error",
      comment: "store/ holds D1 repositories: plain functions over schemas/ (and lib/). It decides no transition and calls no object.",
      from: { path: "^src/store/" },
      to: { path: ["^src/(durable|engine|services|api)/", "^src/(app|index)\\.ts$"] },
    },
    {
      name: "durable-not-up",
      severity: "error",
      comment: "durable/ (the object and its client) sits below the services and the API: it never imports them.",
      from: { path: "^src/durable/" },
      to: { path: ["^src/(services|api)/", "^src/(app|index)\\.ts$"] },
    },
    {
      name: "client-is-thin",
      severity: "error",
      comment:
        "durable/<object>/client.ts is the Worker's side of an object: RPC types and request builders over schemas/. " +
        "Importing the object's internals would hand them to every caller of the client.",
      from: { path: "^src/durable/([^/]+)/client\\.ts$" },
      to: { path: ["^src/(durable|store|engine)/"], pathNot: "^src/durable/$1/client\\.ts$" },
    },
    {
      name: "no-reaching-into-the-object",
      severity: "error",
      comment:
        "The API and the services reach an object through its client only (durable/execution/client.ts, durable/budget/client.ts), " +
        "never the object's internals (its class, runtime, stores, outbox). RPC arguments and results are in schemas/ " +
        "(execution-rpc.ts, budgets.ts).",
      from: { path: ["^src/(api|services)/", "^src/app\\.ts$"] },
      to: { path: "^src/durable/", pathNot: "^src/durable/[^/]+/client\\.ts$" },
    },
    {
      name: "services-not-api",
      severity: "error",
      comment: "services/ holds the use cases routes share; it sits below the API and never imports it (its errors are services/errors.ts).",
      from: { path: "^src/services/" },
      to: { path: ["^src/api/", "^src/(app|index)\\.ts$"] },
    },
    {
      name: "no-route-to-route",
      severity: "error",
      comment: "A route never imports another route's files: what two routes share is a service (src/services/).",
      from: { path: "^src/api/routes/([^/]+)/" },
      to: { path: "^src/api/routes/", pathNot: "^src/api/routes/$1/" },
    },
    {
      name: "api-not-up",
      severity: "error",
      comment: "api/ is mounted by app.ts, which index.ts exports: neither is imported from below.",
      from: { path: "^src/api/" },
      to: { path: "^src/(app|index)\\.ts$" },
    },
    {
      name: "entry-imported-by-nobody",
      severity: "error",
      comment: "index.ts is the Worker entry and app.ts is imported by index.ts only.",
      from: { path: "^src/", pathNot: "^src/index\\.ts$" },
      to: { path: "^src/(app|index)\\.ts$" },
    },
    {
      name: "lib-is-a-leaf",
      severity: "error",
      comment: "lib/ (digest, log, time) is imported from anywhere, so it imports nothing of ours but lib/.",
      from: { path: "^src/lib/" },
      to: { path: OUR_LAYERS, pathNot: "^src/lib/" },
    },
    {
      name: "src-not-test",
      severity: "error",
      comment: "Production code never imports tests or their helpers (test hooks live in tests).",
      from: { path: "^src/" },
      to: { path: "^(test|bench|scripts)/" },
    },
    {
      name: "src-not-dev-dependencies",
      severity: "error",
      comment: "What the Worker imports must be a runtime dependency (package.json `dependencies`), not a dev tool.",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
  },
};
