/**
 * Flow control by concurrency key (SPEC §8): the key object's RPC contract (the object parses every
 * argument again; the caller is not trusted) and the API's view of a key. One Durable Object per
 * (tenant, key) holds the slots and the queue: `durable/concurrency/`.
 */
import { z } from "@hono/zod-openapi";
import { MAX_CONCURRENCY_KEY_LENGTH, MAX_CONCURRENCY_LIMIT, MAX_PRIORITY, MIN_PRIORITY } from "./limits";
import { Timestamp } from "./pages";

export const ConcurrencyKey = z.string().min(1).max(MAX_CONCURRENCY_KEY_LENGTH);
export const Priority = z.int().min(MIN_PRIORITY).max(MAX_PRIORITY);

/**
 * An execution's concurrency, fixed at start: its workflow's `concurrency` with the key rendered
 * over the start's input, and the start's priority.
 */
export const ExecutionConcurrency = z.object({
  key: ConcurrencyKey,
  limit: z.int().min(1).max(MAX_CONCURRENCY_LIMIT),
  priority: Priority,
  queueTtlSeconds: z.int().min(1).nullable(),
});
export type ExecutionConcurrency = z.infer<typeof ExecutionConcurrency>;

export const SlotTenant = z.string().min(1);
export const SlotExecutionId = z.string().min(1).max(64);

/** What an execution asks of its key's object: a slot, at its priority, under the key's latest limit. */
export const AcquireArgs = z.object({
  tenant: SlotTenant,
  key: ConcurrencyKey,
  executionId: SlotExecutionId,
  limit: z.int().min(1).max(MAX_CONCURRENCY_LIMIT),
  priority: Priority,
});
export type AcquireArgs = z.infer<typeof AcquireArgs>;

export const ReleaseArgs = z.object({
  tenant: SlotTenant,
  key: ConcurrencyKey,
  executionId: SlotExecutionId,
});
export type ReleaseArgs = z.infer<typeof ReleaseArgs>;

/** `granted`: the execution holds a slot now; else it is queued at `position` (1 is next in line). */
export type AcquireResult = { granted: true } | { granted: false; position: number };

// ---------------------------------------------------------------------------------------------
// The API's view of a key (GET /v1/concurrency/{key})

export const ConcurrencyKeyParam = z.object({
  key: ConcurrencyKey.openapi({
    param: { name: "key", in: "path" },
    description: "The rendered key, URL-encoded (`deploy%3Aapi%3Aproduction`).",
    example: "deploy:api:production",
  }),
});

export const ConcurrencyHolder = z
  .object({
    execution_id: z.string(),
    since: Timestamp.openapi({ description: "When it was admitted." }),
  })
  .openapi("ConcurrencyHolder");

export const ConcurrencyWaiter = z
  .object({
    execution_id: z.string(),
    priority: Priority,
    since: Timestamp.openapi({ description: "When it joined the queue." }),
    position: z.int().min(1).openapi({ description: "1 is next in line." }),
  })
  .openapi("ConcurrencyWaiter");

export const ConcurrencyState = z
  .object({
    key: ConcurrencyKey,
    limit: z.int().min(1).nullable().openapi({ description: "The limit the latest execution asked under; null for a key nobody holds or waits for." }),
    running: z.array(ConcurrencyHolder).openapi({ description: "Executions holding a slot, oldest first." }),
    queued: z.array(ConcurrencyWaiter).openapi({ description: "Executions waiting for a slot, next in line first." }),
  })
  .openapi("ConcurrencyState");
export type ConcurrencyState = z.infer<typeof ConcurrencyState>;
