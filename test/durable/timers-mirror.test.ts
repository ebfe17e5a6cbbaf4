/** The timers' in-memory mirror always answers what storage holds, also after a rollback. */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ensureSchema } from "../../src/durable/storage/sqlite-schema";
import { Timers } from "../../src/durable/storage/timer-store";
import { stubOf } from "../helpers/objects";

describe("Timers mirror", () => {
  it("matches storage after sets, clears, no-op writes and a rolled-back transaction", async () => {
    await runInDurableObject(stubOf("timers-mirror"), (_o, state) => {
      const sql = state.storage.sql;
      state.storage.transactionSync(() => ensureSchema(sql)); // as creating an execution does
      sql.exec("DELETE FROM timers");
      const timers = new Timers(sql);
      const fromStorage = () => new Timers(sql).due(Number.MAX_SAFE_INTEGER);
      timers.set("execution_timeout", 500);
      timers.set("step_wake", 100, "a");
      timers.set("step_wake", 300, "b");
      timers.set("step_wake", 300, "b"); // unchanged: no write needed
      timers.clear("step_retry", "a"); // absent: nothing to delete
      expect(timers.earliest()).toBe(100);
      expect(timers.due(300).map((t) => t.id)).toEqual(["step_wake:a", "step_wake:b"]);
      expect(timers.due(Number.MAX_SAFE_INTEGER)).toEqual(fromStorage());

      expect(() =>
        state.storage.transactionSync(() => {
          timers.set("approval_expiry", 50);
          timers.clear("step_wake", "a");
          throw new Error("roll back");
        }),
      ).toThrow("roll back");
      timers.forget();
      expect(timers.due(Number.MAX_SAFE_INTEGER)).toEqual(fromStorage());
      expect(timers.earliest()).toBe(100);

      timers.clearAllExcept("execution_timeout");
      expect(timers.due(Number.MAX_SAFE_INTEGER).map((t) => t.id)).toEqual(["execution_timeout"]);
      expect(fromStorage().map((t) => t.id)).toEqual(["execution_timeout"]);
    });
  });
});
