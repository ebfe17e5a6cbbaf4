/**
 * The object's SQLite schema upgrades in place: an execution stored by an older version keeps its
 * rows and timers when a newer version of the code opens it.
 */
import { describe, expect, it } from "vitest";
import { SCHEMA_VERSION, ensureSchema, migrate } from "../../src/durable/storage/sqlite-schema";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { stubOf } from "../helpers/objects";
import { TransitionLog } from "../../src/durable/storage/transition-log";

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
      sql.exec(`INSERT INTO events (seq, time, type, step_id, data) VALUES
        (1, 0, 'execution.created', NULL, '{}'), (2, 10, 'step.started', 'b', '{"attempt":1}')`);

      state.storage.transactionSync(() => ensureSchema(sql));

      expect(sql.exec<{ version: number }>("SELECT version FROM _schema").one().version).toBe(SCHEMA_VERSION);
      // Started steps and the events are in the transition log now, as they were.
      const log = new TransitionLog(sql);
      expect([...log.steps().values()].map((st) => [st.id, st.status, st.attempts])).toEqual([
        ["a", "completed", 1],
        ["b", "running", 2],
      ]);
      expect(log.after(0, 10)).toEqual([
        { seq: 1, time: "1970-01-01T00:00:00.000Z", type: "execution.created", data: {} },
        { seq: 2, time: "1970-01-01T00:00:00.010Z", type: "step.started", step_id: "b", data: { attempt: 1 } },
      ]);
      expect(log.after(1, 10).map((e) => e.seq)).toEqual([2]);
      expect(log.lastSeq()).toBe(2);
      // The next transition's events follow on.
      state.storage.transactionSync(() => log.append(20, [{ type: "step.completed", stepId: "b" }]));
      expect(log.after(0, 10).map((e) => e.seq)).toEqual([1, 2, 3]);
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
    expect(fresh.tables.map((t) => t.name)).toEqual(["_schema", "attempts", "execution", "map_items", "map_runs", "outbox", "signals", "timers", "transition_log", "usage"]);
    const migrated = await runInDurableObject(stubOf("schema-all-migrations"), (_instance, state) => {
      rebuildAt(state.storage.sql, SCHEMA_VERSION); // every migration, one after the other
      return schemaOf(state.storage.sql);
    });
    expect(migrated).toEqual(fresh);
  });
});

const TABLES = ["execution", "steps", "attempts", "timers", "events", "transition_log", "outbox", "usage", "signals", "map_runs", "map_items", "_schema"];

/** Empties the object's store and rebuilds it as `version` left it (0: nothing at all). */
function rebuildAt(sql: SqlStorage, version: number): void {
  for (const table of TABLES) sql.exec(`DROP TABLE IF EXISTS ${table}`);
  if (version === 0) return;
  sql.exec("CREATE TABLE _schema (version INTEGER NOT NULL)");
  for (let v = 0; v < version; v++) migrate(sql, v);
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
