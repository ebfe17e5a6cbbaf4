/** Paging: every list is `{ items, next_cursor }`, walked with an opaque keyset cursor. */
import { z } from "@hono/zod-openapi";

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

export const PageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .openapi({ description: `Items per page (1-${MAX_PAGE_SIZE}).`, example: 20 }),
  cursor: z.string().max(512).optional().openapi({ description: "`next_cursor` from the previous page." }),
});

export function page<T extends z.ZodTypeAny>(item: T, name: string) {
  return z
    .object({
      items: z.array(item),
      next_cursor: z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page." }),
    })
    .openapi(name);
}

export const Timestamp = z.string().openapi({ format: "date-time", example: "2026-11-22T10:15:00.000Z" });
