/* global URL */
// The two systems under test, each behind the same small client interface:
//   start(steps) -> { id, ms }      start one execution of a chain of `steps` trivial steps
//   status(id)   -> { terminal, ok, status }
// plus how to serve it (wrangler config, port, state).
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { request, requestOk } from "./http.mjs";
import { ROOT, wranglerSync } from "./server.mjs";

export const STATE = join(ROOT, "bench", ".state");

const STEPLINE_TERMINAL = new Set(["completed", "partial", "failed", "cancelled", "timed_out", "rejected"]);
const PEER_TERMINAL = new Set(["complete", "errored", "terminated"]);

/** A Stepline definition: s1 = 1, s(i) = s(i-1) + 1, each step needing the one before. */
export function chainDefinition(steps, id = `chain-${steps}`) {
  return {
    id,
    steps: Array.from({ length: steps }, (_, i) =>
      i === 0
        ? { id: "s1", type: "transform", expression: "1" }
        : { id: `s${i + 1}`, type: "transform", expression: `steps.s${i}.output + 1`, needs: [`s${i}`] },
    ),
    output: `steps.s${steps}.output`,
  };
}

/** A short hash of the D1 migrations (and of `extraFiles`): state templates made with other ones are not reused. */
export function migrationsHash(...extraFiles) {
  const dir = join(ROOT, "migrations");
  const h = createHash("sha256");
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  for (const f of extraFiles) h.update(readFileSync(f));
  return h.digest("hex").slice(0, 12);
}

/** Fresh state for one server session: a copy of the migrated template (migrating takes seconds). */
function freshState(template, dir, prepareTemplate) {
  if (!existsSync(template)) prepareTemplate(template);
  rmSync(dir, { recursive: true, force: true });
  cpSync(template, dir, { recursive: true });
  return dir;
}

/**
 * The vars a bench server of Stepline runs with: a random bootstrap key and stream secret, and a
 * rate far above what one key drives here (each request still goes through its rate-limit object).
 */
export function benchVars(extra = {}) {
  return {
    ADMIN_API_KEY: `stp_bench_${randomBytes(18).toString("base64url")}`,
    STREAM_TOKEN_SECRET: randomBytes(32).toString("base64url"),
    RATE_LIMIT_PER_MINUTE: "100000000",
    ...extra,
  };
}

export function steplineTarget(secrets) {
  const auth = { authorization: `Bearer ${secrets.ADMIN_API_KEY}` };
  return {
    key: "stepline",
    label: "Stepline",
    config: join(ROOT, "wrangler.toml"),
    // Not 8787–8790: `npm start` serves Stepline, the demo upstream and the LLM stand-in there.
    port: 8793,
    inspectorPort: 9330,
    vars: secrets,
    auth,
    /** A new persist dir with the D1 migrations applied. */
    prepareState(session) {
      return freshState(join(STATE, "template", `stepline-${migrationsHash()}`), join(STATE, "sessions", session), (dir) =>
        wranglerSync(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir]),
      );
    },
    /** The D1 SQLite file of a persist dir (the single database of wrangler.toml). */
    d1File(persistTo) {
      return d1SqliteFile(persistTo);
    },
    async client(server) {
      const registered = new Set();
      const register = async (steps) => {
        if (registered.has(steps)) return;
        await requestOk(server.base, "POST", "/v1/workflows", { headers: auth, body: chainDefinition(steps) });
        registered.add(steps);
      };
      return {
        label: "Stepline",
        base: server.base,
        auth,
        register,
        async start(steps) {
          await register(steps);
          const res = await requestOk(server.base, "POST", "/v1/executions", { headers: auth, body: { workflow_id: `chain-${steps}`, input: {} } });
          return { id: res.json.id, ms: res.ms };
        },
        async status(id) {
          const res = await requestOk(server.base, "GET", `/v1/executions/${id}`, { headers: auth });
          return { terminal: STEPLINE_TERMINAL.has(res.json.status), ok: res.json.status === "completed", status: res.json.status, body: res.json };
        },
      };
    },
  };
}

export function peerTarget() {
  return {
    key: "peer",
    label: "Workflows peer",
    config: join(ROOT, "bench", "peer", "wrangler.toml"),
    // Not 8789 or 8790: `npm start` serves the demo upstream and the LLM stand-in there.
    port: 8792,
    inspectorPort: 9331,
    vars: {},
    prepareState(session) {
      const dir = join(STATE, "sessions", session);
      rmSync(dir, { recursive: true, force: true });
      return dir;
    },
    async client(server) {
      return {
        label: "Workflows peer",
        base: server.base,
        async start(steps) {
          const res = await requestOk(server.base, "POST", "/start", { body: { steps } });
          return { id: res.json.id, ms: res.ms };
        },
        async status(id) {
          const res = await request(server.base, "GET", `/status/${encodeURIComponent(id)}`);
          if (res.status !== 200) throw new Error(`peer status ${id} -> ${res.status}`);
          return { terminal: PEER_TERMINAL.has(res.json.status), ok: res.json.status === "complete", status: res.json.status };
        },
      };
    },
  };
}

/** Finds the local D1 database file under a persist dir (v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite). */
export function d1SqliteFile(persistTo) {
  const dir = join(persistTo, "v3", "d1", "miniflare-D1DatabaseObject");
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite") : [];
  if (files.length !== 1) throw new Error(`expected one D1 database under ${dir}, found ${files.length}`);
  return join(dir, files[0]);
}

export const wsUrl = (base, path) => new URL(path, base.replace(/^http/, "ws")).toString();
