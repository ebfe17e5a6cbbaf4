/* global console, Headers, Request, setTimeout */
// The Worker of the eviction fault cases: Stepline's own entry (src/index.ts) with its
// ExecutionObject subclassed so that the object is evicted — `ctx.abort()`: the instance and all
// it holds in memory (its caches, attempts in flight, timers) are gone, storage stays, and the
// next request or alarm builds a new instance from storage — at the points FAULT_EVICT names:
//
//   boundary  right after each step's completion became durable: the runtime's post-commit
//             listener sees the `step.completed` event, then `ctx.storage.sync()` resolves (workerd
//             commits an object's writes at the end of the event-loop turn; evicting before that
//             would undo the completion, a crash before the boundary rather than at it). Each step of
//             each execution is evicted after once, so every execution still finishes.
//   midstep   while an http step's request to the effects upstream is in flight: the request is
//             sent, and FAULT_EVICT_AFTER_MS later (the upstream holds it longer) the object is
//             evicted. Once per step of each execution.
//
// What was evicted where is remembered per object id in module state, which lives as long as the
// isolate (an abort resets the object, not the isolate). Each eviction logs one `fault_injected`
// line, which the harness counts. Only the fault cases serve this (bench/faults/evict.mjs); the
// production classes carry no fault hook (src/durable/ARCHITECTURE.md, "Dependencies").
import worker from "../../src/index";
import { ExecutionObject as ProductionExecutionObject } from "../../src/durable/execution/execution-object";

export { BudgetObject, BulkObject, ConcurrencyObject, RateLimitObject } from "../../src/index";

/** object id -> what it was already evicted for (step ids, or idempotency keys). */
const done = new Map();

/** True the first time `what` is asked for `object`. */
function firstTime(object, what) {
  let seen = done.get(object);
  if (!seen) done.set(object, (seen = new Set()));
  if (seen.has(what)) return false;
  seen.add(what);
  return true;
}

export class ExecutionObject extends ProductionExecutionObject {
  /** Steps whose completion this instance will be evicted for (one eviction can cover several: a burst of pure steps). */
  pending = null;

  constructor(ctx, env) {
    super(ctx, env);
    this.objectId = ctx.id.toString();
    if (env.FAULT_EVICT === "boundary") this.runtime.listeners.add((events) => this.afterCommit(events));
    if (env.FAULT_EVICT === "midstep") {
      const send = this.deps.fetch;
      const afterMs = Number(env.FAULT_EVICT_AFTER_MS ?? 100);
      this.deps.fetch = (input, init) => {
        const key = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).get("idempotency-key");
        const url = String(input instanceof Request ? input.url : input);
        if (key && url.includes("/effect") && firstTime(this.objectId, key)) {
          const stepId = key.slice(key.lastIndexOf(":") + 1);
          setTimeout(() => this.evict("evict_midstep", { step: stepId, request_in_flight: this.runtime.inflight.has(stepId) }), afterMs);
        }
        return send(input, init);
      };
    }
  }

  afterCommit(events) {
    const ended = events.filter((e) => e.type === "step.completed" && firstTime(this.objectId, e.step_id)).map((e) => e.step_id);
    if (ended.length === 0) return;
    const seq = events.at(-1).seq;
    if (this.pending) return void this.pending.steps.push(...ended);
    this.pending = { steps: ended, seq };
    void this.ctx.storage.sync().then(() => {
      const s = this.runtime.load();
      this.evict("evict_boundary", {
        after: this.pending.steps,
        committed_seq: seq,
        // What the drive did between the commit and the eviction (the same turn: the next step may have started).
        steps_in_flight: [...this.runtime.inflight.keys()],
        status: s?.execution.status ?? null,
      });
    });
  }

  evict(fault, detail) {
    console.log(JSON.stringify({ message: "fault_injected", fault, execution: this.runtime.load()?.execution.id ?? null, object: this.objectId, ...detail }));
    this.ctx.abort(`fault injected: ${fault}`);
  }
}

export default worker;
