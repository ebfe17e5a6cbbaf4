/**
 * The object's SQLite schema upgrades in place: an execution stored by an older version keeps its
 * rows and timers when a newer version of the code opens it.
 */
import { describe, expect, it } from "vitest";
import { MIGRATIONS, SCHEMA_VERSION, ensureSchema } from "../../src/durable/sqlite-schema";
import { runInDurableObject } from "cloudflare:test";
import { stubOf } from "../helpers/objects";

describe("Durable Object schema migrations", () => {
  it("upgrades a version-2 store to the current one, keeping its timers and execution", async () => {
    await runInDurableObject(stubOf("schema-upgrade-v2"), (_instance, state) => {
      const sql = state.storage.sql;
      // Rebuild the store as version 2 left it.
      for (const table of ["execution", "steps", "attempts", "timers", "events", "outbox", "_schema"]) sql.exec(`DROP TABLE IF EXISTS ${table}`);
      sql.exec("CREATE TABLE _schema (version INTEGER NOT NULL)");
      sql.exec(MIGRATIONS[0]!);
      sql.exec(MIGRATIONS[1]!);
      sql.exec("INSERT INTO _schema (version) VALUES (2)");
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
});
