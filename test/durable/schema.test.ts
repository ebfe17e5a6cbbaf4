/**
 * The object's SQLite schema upgrades in place: an execution stored by an older version keeps its
 * rows and timers when a newer version of the code opens it.
 */
import { describe, expect, it } from "vitest";
import { MIGRATIONS, SCHEMA_VERSION, ensureSchema } from "../../src/durable/storage/sqlite-schema";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { stubOf } from "../helpers/objects";

describe("Durable Object schema migrations", () => {
  it("upgrades a version-2 store to the current one, keeping its timers and execution", async () => {
    await runInDurableObject(stubOf("schema-upgrade-v2"), (_instance, state) => {
      const sql = state.storage.sql;
      rebuildAt(sql, 2);
      sql.exec(
        `INSERT INTO execution (id, tenant, workflow_id, workflow_version, definition_hash, definition, input, labels, status, created_at, state_version)
         VALUES ('ex', 't', 'w', 1, 'h', '{}', '{}', '{}', 'waiting', 1, 3)`,
      );
      sql.exec("INSERT INTO timers (id, kind, step_id, due_at) VALUES ('step_wake:a', 'step_wake', 'a', 1234)");

      state.storage.transactionSync(() => ensureSchema(sql));

      expect(sql.exec<{ version: number }>("SELECT version FROM _schema").one().version).toBe(SCHEMA_VERSION);
      expect(sql.exec("SELECT id, kind, step_id, due_at FROM timers").toArray()).toEqual([{ id: "step_wake:a", kind: "step_wake", step_id: "a", due_at: 1234 }]);
      expect(sql.exec("SELECT status, plan_hash, approvals FROM execution").toArray()).toEqual([{ status: "waiting", plan_hash: null, approvals: "[]" }]);
      // The new timer kind is accepted, unknown ones still are not.
      sql.exec("INSERT INTO timers (id, kind, step_id, due_at) VALUES ('approval_expiry', 'approval_expiry', NULL, 5)");
      expect(() => sql.exec("INSERT INTO timers (id, kind, step_id, due_at) VALUES ('x', 'nonsense', NULL, 5)")).toThrow(/CHECK/);
      // Running it again changes nothing.
      ensureSchema(sql);
      expect(sql.exec("SELECT COUNT(*) AS n FROM timers").one().n).toBe(2);
    });
  });

  it("upgrades a version-3 store: started steps, attempts, timers and outbox rows are kept; pending steps need no row", async () => {
    const upgraded = await runInDurableObject(stubOf("schema-upgrade-v3"), (_instance, state) => {
      const sql = state.storage.sql;
      rebuildAt(sql, 3);
      sql.exec("INSERT INTO steps (id, idx, status, attempts) VALUES ('a', 0, 'completed', 1), ('b', 1, 'running', 2), ('c', 2, 'pending', 0)");
      sql.exec("INSERT INTO attempts (step_id, attempt, status, started_at) VALUES ('b', 1, 'failed', 10), ('b', 2, 'running', 20)");
      sql.exec("INSERT INTO timers (id, kind, step_id, due_at) VALUES ('step_retry:b', 'step_retry', 'b', 99)");
      sql.exec("INSERT INTO outbox (kind, payload, created_at) VALUES ('audit', '{}', 5)");

      state.storage.transactionSync(() => ensureSchema(sql));

      expect(sql.exec<{ version: number }>("SELECT version FROM _schema").one().version).toBe(SCHEMA_VERSION);
      expect(sql.exec("SELECT id, idx, status, attempts FROM steps ORDER BY idx").toArray()).toEqual([
        { id: "a", idx: 0, status: "completed", attempts: 1 },
        { id: "b", idx: 1, status: "running", attempts: 2 },
      ]);
      expect(sql.exec("SELECT step_id, attempt, status FROM attempts ORDER BY attempt").toArray()).toEqual([
        { step_id: "b", attempt: 1, status: "failed" },
        { step_id: "b", attempt: 2, status: "running" },
      ]);
      expect(sql.exec("SELECT id, due_at FROM timers").toArray()).toEqual([{ id: "step_retry:b", due_at: 99 }]);
      expect(sql.exec("SELECT seq, kind, payload FROM outbox").toArray()).toEqual([{ seq: 1, kind: "audit", payload: "{}" }]);
      return schemaOf(sql);
    });
    expect(upgraded).toEqual(await freshSchema());
  });

  it("upgrades an object stored by older code when it next starts, before anything reads it", async () => {
    const id = `schema-upgrade-on-load-${crypto.randomUUID()}`;
    await runInDurableObject(stubOf(id), (_instance, state) => {
      const sql = state.storage.sql;
      rebuildAt(sql, 3);
      sql.exec(
        `INSERT INTO execution (id, tenant, workflow_id, workflow_version, definition_hash, definition, input, labels, status, created_at, state_version)
         VALUES ('ex', 't', 'w', 1, 'h', '{"id":"w","steps":[]}', '{}', '{}', 'completed', 1, 3)`,
      );
    });
    await evictDurableObject(stubOf(id));
    const after = await runInDurableObject(stubOf(id), (_instance, state) => ({
      version: state.storage.sql.exec<{ version: number }>("SELECT version FROM _schema").one().version,
      schema: schemaOf(state.storage.sql),
    }));
    expect(after.version).toBe(SCHEMA_VERSION);
    expect(after.schema).toEqual(await freshSchema());
  });

  it("gives a new object, in one pass, the schema every migration together builds", async () => {
    const fresh = await freshSchema();
    expect(fresh.tables.map((t) => t.name)).toEqual(["_schema", "attempts", "events", "execution", "map_items", "map_runs", "outbox", "signals", "steps", "timers", "usage"]);
    const migrated = await runInDurableObject(stubOf("schema-all-migrations"), (_instance, state) => {
      rebuildAt(state.storage.sql, SCHEMA_VERSION); // every migration, one after the other
      return schemaOf(state.storage.sql);
    });
    expect(migrated).toEqual(fresh);
  });
});

const TABLES = ["execution", "steps", "attempts", "timers", "events", "outbox", "usage", "signals", "map_runs", "map_items", "_schema"];

/** Empties the object's store and rebuilds it as `version` left it (0: nothing at all). */
function rebuildAt(sql: SqlStorage, version: number): void {
  for (const table of TABLES) sql.exec(`DROP TABLE IF EXISTS ${table}`);
  if (version === 0) return;
  sql.exec("CREATE TABLE _schema (version INTEGER NOT NULL)");
  for (let v = 0; v < version; v++) sql.exec(MIGRATIONS[v]!);
  sql.exec("INSERT INTO _schema (version) VALUES (?)", version);
}

/** Columns (with types, defaults, keys and CHECKs), indexes and rowid-ness of every table. */
function schemaOf(sql: SqlStorage) {
  const tables = sql
    .exec<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")
    .toArray()
    .map((t) => ({
      name: t.name,
      columns: sql.exec(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('${t.name}')`).toArray(),
      withoutRowid: /WITHOUT ROWID\s*$/i.test(t.sql),
      // CHECK constraints, whitespace-insensitive (a rebuilt table's text differs only in layout and name).
      checks: [...t.sql.matchAll(/CHECK\s*\(((?:[^()]|\([^()]*\))*)\)/gi)].map((m) => m[1]!.replace(/\s+/g, "")),
      indexes: sql.exec(`SELECT name, "unique", origin FROM pragma_index_list('${t.name}') WHERE origin = 'c' ORDER BY name`).toArray(),
    }));
  return { tables };
}

/** The schema a brand-new object gets when its execution is created (`create` runs `ensureSchema` on empty storage). */
async function freshSchema(): Promise<ReturnType<typeof schemaOf>> {
  return runInDurableObject(stubOf(`schema-fresh-${crypto.randomUUID()}`), (_instance, state) => {
    state.storage.transactionSync(() => ensureSchema(state.storage.sql));
    return schemaOf(state.storage.sql);
  });
}
