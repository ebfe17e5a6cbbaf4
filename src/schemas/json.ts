/** Values that are any JSON: execution input and output, step output, answers. */
import { z } from "@hono/zod-openapi";

/**
 * Any JSON value, null included. Present (not `undefined`), so an object key of this type is
 * required in the document; use `.optional()` where the key may be absent.
 */
export const JsonValue = z
  .unknown()
  .refine((v): boolean => v !== undefined, "required")
  .openapi("JsonValue", { description: "Any JSON value: an object, array, string, number, boolean or null." });
export type JsonValue = z.infer<typeof JsonValue>;
