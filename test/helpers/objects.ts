/**
 * Reaching inside an execution's Durable Object from tests: run code in it, move its clock
 * instead of sleeping, run its alarm.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ExecutionObject } from "../../src/durable/execution-object";

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
    o.clockSkewMs += ms;
  });
  return runDurableObjectAlarm(stubOf(id));
}

/** The object's clock (wall clock plus skew). */
export function objectNow(id: string): Promise<number> {
  return inObject(id, (o) => Date.now() + o.clockSkewMs);
}
