/** The items of a `map` step, as `GET /v1/executions/{id}/steps/{step_id}/items` pages them (SPEC §9). */
import { z } from "@hono/zod-openapi";
import { JsonValue } from "./json";
import { ErrorObject } from "./executions";
import { Timestamp } from "./pages";
import { MAX_MAP_ITEMS } from "./limits";

export const MAP_ITEM_STATUSES = ["pending", "running", "waiting", "completed", "failed", "cancelled"] as const;
export const MapItemStatus = z.enum(MAP_ITEM_STATUSES).openapi({
  description:
    "`pending`: not started yet. `running`: an attempt runs, or a retry is scheduled (`next_attempt_at`). `waiting`: its `workflow` " +
    "sub-step waits for its child. `failed`: failed for good (after its retries). `cancelled`: the map ended first.",
});
export type MapItemStatus = z.infer<typeof MapItemStatus>;

export const MapItemAttempt = z
  .object({
    attempt: z.number().int(),
    status: z.enum(["running", "completed", "failed", "cancelled"]),
    started_at: Timestamp.optional(),
    ended_at: Timestamp.optional(),
    error: ErrorObject.optional(),
  })
  .openapi("MapItemAttempt");

export const MapItem = z
  .object({
    index: z.number().int().min(0).openapi({ description: "The item's place in the list, from 0." }),
    status: MapItemStatus,
    attempts: z.array(MapItemAttempt).openapi({ description: "Its attempts, oldest first (empty while pending)." }),
    output: JsonValue.optional().openapi({ description: "The sub-step's output, once the item completed." }),
    error: ErrorObject.optional().openapi({ description: "The last attempt's error (the item's, once it failed for good)." }),
    next_attempt_at: Timestamp.optional().openapi({ description: "When its retry is scheduled." }),
    child_execution_id: z.string().optional().openapi({ description: "The child execution its `workflow` sub-step waits for." }),
  })
  .openapi("MapItem", { example: { index: 3, status: "completed", attempts: [{ attempt: 1, status: "completed", started_at: "2026-11-22T10:15:00.000Z", ended_at: "2026-11-22T10:15:00.120Z" }], output: { text: "Hello" } } });
export type MapItem = z.infer<typeof MapItem>;

export const MapItemPage = z
  .object({
    items: z.array(MapItem),
    next_cursor: z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page." }),
  })
  .openapi("MapItemPage");

export const MapItemsQuery = z.object({
  status: MapItemStatus.optional().openapi({ description: "Only items in this status." }),
  limit: z.coerce.number().int().min(1).max(MAX_MAP_ITEMS).default(100).openapi({ description: `Items per page (1-${MAX_MAP_ITEMS}).`, example: 100 }),
  cursor: z.string().max(512).optional().openapi({ description: "`next_cursor` from the previous page." }),
});

/** A page asked of the execution's object: items after index `after`, in index order. */
export interface MapItemWindow {
  stepId: string;
  status?: MapItemStatus;
  after: number;
  limit: number;
}

/** What the object answers: the page (one more than `limit` when another follows), or why not. */
export type MapItemsResult = { ok: true; items: MapItem[] } | { ok: false; reason: "not_found" | "step_not_found" | "not_a_map" };
