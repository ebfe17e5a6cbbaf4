/* global console, fetch */
// The Worker of the "d1" fault case: Stepline's own entry (src/index.ts) and ExecutionObject, each
// given an env whose D1 binding `DB` refuses every call — as a D1 outage does: the promise rejects
// with a D1 error — while the outage is on. Whether it is on is the harness's to say: before each
// D1 call the wrapper asks FAULT_D1_SWITCH (a loopback URL served by bench/faults/d1.mjs, answering
// `{ "outage": true|false }`). A switch in the harness rather than module state, so the window holds
// whichever isolates the Worker and the objects run in. Production code has no such hook.
// Each refused call logs one `fault_injected` line (who refused it: the Worker or an object, and
// which D1 call), which the harness counts.
import worker from "../../src/index";
import { ExecutionObject as ProductionExecutionObject } from "../../src/durable/execution/execution-object";

export { BudgetObject, BulkObject, ConcurrencyObject, RateLimitObject } from "../../src/index";

const REAL = Symbol("real statement");

async function refuse(env, where, call) {
  let on;
  try {
    on = (await (await fetch(env.FAULT_D1_SWITCH)).json()).outage === true;
  } catch (err) {
    console.log(JSON.stringify({ message: "fault_switch_unreachable", where, call, error: String(err) })); // the harness counts these
    return;
  }
  if (!on) return;
  console.log(JSON.stringify({ message: "fault_injected", fault: "d1_refused", where, call }));
  throw new Error("D1_ERROR: Network connection lost. (fault injected: D1 outage)");
}

/** A prepared statement whose calls are refused during the outage; `bind` keeps it wrapped. */
function statement(real, env, where) {
  const call = (name) => async (...args) => {
    await refuse(env, where, name);
    return real[name](...args);
  };
  return { [REAL]: real, bind: (...args) => statement(real.bind(...args), env, where), first: call("first"), all: call("all"), run: call("run"), raw: call("raw") };
}

/** `db` whose every call is refused during the outage (`where`: who holds it, for the count). */
function outageD1(db, env, where) {
  const own = {
    prepare: (sql) => statement(db.prepare(sql), env, where),
    batch: async (statements) => {
      await refuse(env, where, "batch");
      return db.batch(statements.map((s) => s[REAL] ?? s));
    },
    exec: async (sql) => {
      await refuse(env, where, "exec");
      return db.exec(sql);
    },
    withSession: (...args) => outageD1(db.withSession(...args), env, where),
  };
  return new Proxy(db, {
    get(target, prop) {
      if (Object.hasOwn(own, prop)) return own[prop];
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Per holder: the Worker and the objects may be handed the very same env object. */
const wrapped = { worker: new WeakMap(), object: new WeakMap() };
function withOutage(env, where) {
  if (!wrapped[where].has(env)) {
    const db = outageD1(env.DB, env, where);
    wrapped[where].set(env, new Proxy(env, { get: (target, prop) => (prop === "DB" ? db : Reflect.get(target, prop, target)) }));
  }
  return wrapped[where].get(env);
}

export class ExecutionObject extends ProductionExecutionObject {
  constructor(ctx, env) {
    super(ctx, withOutage(env, "object"));
  }
}

export default {
  fetch: (request, env, ctx) => worker.fetch(request, withOutage(env, "worker"), ctx),
};
