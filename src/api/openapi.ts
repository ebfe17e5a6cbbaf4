/** Shared pieces of route declarations. */
import { Problem } from "../schemas/errors";

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: "Validation failed; `errors` lists every failing field",
  401: "Missing, invalid or revoked API key",
  403: "The key's role lacks the permission",
  404: "Not found (or owned by another tenant)",
  409: "Conflicts with the current state",
  413: "Body too large",
  415: "Body is not JSON",
  422: "Unprocessable (e.g. an Idempotency-Key reused with another body)",
  426: "Upgrade required (send Upgrade: websocket)",
  504: "Timed out",
};

/** Problem responses for a route, documented with the problem+json schema. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: PROBLEM_DESCRIPTIONS[s] ?? "Error", content: { "application/problem+json": { schema: Problem } } },
    ]),
  );
}

export function jsonContent<T>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export function jsonRequest<T>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}
