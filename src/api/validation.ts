/** zod issues → the FieldError list of a 400 problem. */
import type { z } from "@hono/zod-openapi";
import type { FieldError } from "../schemas/errors";

type Location = NonNullable<FieldError["in"]>;

const LOCATION_OF_TARGET: Record<string, Location> = { json: "body", query: "query", param: "path", header: "header" };

export function locationOf(target: string): Location | undefined {
  return LOCATION_OF_TARGET[target];
}

/** RFC 6901 JSON Pointer. */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((seg) => `/${String(seg).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

export function fieldErrorsOf(error: z.ZodError, location?: Location): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const at = (path: readonly PropertyKey[], message: string): void => {
      out.push({ path: jsonPointer(path), message, code: issue.code.toUpperCase(), ...(location ? { in: location } : {}) });
    };
    if (issue.code === "unrecognized_keys") {
      // One entry per unknown key, pointing at the key itself: a typo is found at once.
      for (const key of issue.keys) at([...issue.path, key], `unknown field '${key}'`);
    } else {
      at(issue.path, issue.message);
    }
  }
  return out;
}
