/**
 * Opaque keyset cursors: the position after the last row of a page, base64url-encoded JSON.
 * Each listing validates its own cursor shape, so a cursor from another listing is a clean 400.
 */
import type { z } from "@hono/zod-openapi";
import { base64url } from "../lib/digest";
import { parseRfc3339 } from "../lib/time";
import { ValidationError } from "../services/errors";

export function encodeCursor(position: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(position)));
}

export function decodeCursor<T extends z.ZodTypeAny>(cursor: string | undefined, shape: T): z.infer<T> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const b64 = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
    const parsed = shape.safeParse(JSON.parse(json));
    if (parsed.success) return parsed.data as z.infer<T>;
  } catch {
    // fall through: any undecodable cursor is the same client error
  }
  throw new ValidationError([{ path: "/cursor", in: "query", message: "The cursor is not valid for this listing." }]);
}

/**
 * Cuts a `limit + 1` row fetch into a page: when the extra row exists there is a next page,
 * positioned after the last row kept.
 */
export function toPage<R, I>(rows: R[], limit: number, toItem: (row: R) => I, positionOf: (row: R) => unknown) {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  return {
    items: kept.map(toItem),
    next_cursor: rows.length > limit && last !== undefined ? encodeCursor(positionOf(last)) : null,
  };
}

/** Times on the wire are written by the one RFC 3339 writer. */
export { isoTime } from "../lib/time";

/**
 * An RFC 3339 query value as epoch ms, read by the one parser registration and the engine use. The
 * route's schema has checked the format already; a value it let through that is no instant is 400.
 */
export function parseTime(value: string | undefined, param = ""): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseRfc3339(value);
  if (ms === null) throw new ValidationError([{ path: param, in: "query", message: `'${value}' is not an RFC 3339 date-time with an offset.` }]);
  return ms;
}
