/**
 * Reaching inside an execution's Durable Object from tests: run code in it, move its clock
 * instead of sleeping, make its D1 flushes fail, run its alarm. Both faults go through the
 * object's documented dependencies (`ExecutionObject.deps`): the production classes carry no
 * test hook.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Clock } from "../../src/engine/clock";
import type { ExecutionObject } from "../../src/durable/execution/execution-object";

/**
 * A clock `offsetMs` ahead of the wall clock (behind when negative). Its instants map back to wall
 * time for the platform's alarm, so an alarm armed for a due time fires when this clock reaches it.
 */
export class OffsetClock implements Clock {
  constructor(public offsetMs = 0) {}
  now(): number {
    return Date.now() + this.offsetMs;
  }
  toWallTime(ms: number): number {
    return ms - this.offsetMs;
  }
}

/** The object's clock as an `OffsetClock`, installed in place of the system clock on first use. */
export function offsetClockOf(o: ExecutionObject): OffsetClock {
  if (o.deps.clock instanceof OffsetClock) return o.deps.clock;
  const clock = new OffsetClock();
  o.deps.clock = clock;
  return clock;
}

/**
 * The real D1 database, except that its next `failures` batches fail as if D1 were unreachable
 * (fault injection around the real binding, not a mock).
 */
export function d1FailingBatches(db: D1Database, failures: number): D1Database {
  let left = failures;
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "batch" && left > 0) {
        return () => {
          left -= 1;
          return Promise.reject(new Error("injected D1 failure"));
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * A D1 whose batches are applied and then reported as failed — D1 committed, but the reply was
 * lost (a timeout, a dropped connection) — until `lost.count` reaches `failures`.
 */
export function d1LosingReplies(db: D1Database, failures: number, lost: { count: number }): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "batch" && lost.count < failures) {
        lost.count += 1;
        return (statements: D1PreparedStatement[]) =>
          target.batch(statements).then(() => {
            throw new Error("injected: D1 applied the batch, the reply was lost");
          });
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export function stubOf(id: string) {
  return env.EXECUTIONS.getByName(id);
}

/** Runs `fn` inside the execution's object (constructing it if needed). */
export function inObject<R>(id: string, fn: (o: ExecutionObject) => R | Promise<R>): Promise<R> {
  return runInDurableObject(stubOf(id), (instance) => fn(instance as unknown as ExecutionObject));
}

/** Moves the object's clock forward (instead of sleeping) and runs its alarm. */
export async function advanceAndRunAlarm(id: string, ms: number): Promise<boolean> {
  await inObject(id, (o) => {
    offsetClockOf(o).offsetMs += ms;
  });
  return runDurableObjectAlarm(stubOf(id));
}

/** The object's clock. */
export function objectNow(id: string): Promise<number> {
  return inObject(id, (o) => o.deps.clock.now());
}
