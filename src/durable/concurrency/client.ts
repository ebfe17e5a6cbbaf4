/**
 * The side of a concurrency key's Durable Object that callers see: an execution object asks it for
 * a slot and gives the slot back; the Worker reads the key's state. One object per (tenant, key), so
 * two tenants' keys never meet, whatever their text. Imports nothing but schemas.
 */
import type { AcquireArgs, AcquireResult, ConcurrencyState, ReleaseArgs } from "../../schemas/concurrency";

export type { AcquireArgs, AcquireResult, ConcurrencyState, ReleaseArgs };

export interface ConcurrencyRpc {
  /**
   * A slot for the execution now, or its place in the queue (by priority, then first in, first out).
   * Idempotent: asked again, a holder is told `granted` and a queued execution its current position.
   */
  acquire(args: AcquireArgs): Promise<AcquireResult>;
  /** The execution ended (or left the queue): its slot, or its place, goes to the next in line. Idempotent. */
  release(args: ReleaseArgs): Promise<void>;
  /** The key as `tenant` sees it; `limit: null` when nobody holds or waits for it. */
  state(tenant: string, key: string): Promise<ConcurrencyState>;
  /** Where the execution stands in the queue now (1 is next in line); null when it is not queued. */
  position(executionId: string): Promise<number | null>;
}

/** The object's name: tenant and key, unambiguously (a tenant id has no newline). */
export function concurrencyObjectName(tenant: string, key: string): string {
  return `${tenant}\n${key}`;
}

export function concurrencyRpc(env: Env, tenant: string, key: string): ConcurrencyRpc {
  return env.CONCURRENCY.getByName(concurrencyObjectName(tenant, key)) as unknown as ConcurrencyRpc;
}
