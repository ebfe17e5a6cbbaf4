/** The local upstream worker (test/upstream/worker.mjs) that every outbound fetch is routed to. */
export const UPSTREAM = "http://127.0.0.1:9999";

/** A unique marker for a test's URLs (test files run in parallel and share the upstream). */
export function marker(prefix = "m"): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** Requests the upstream received whose URL contains `text`. */
export async function hits(text: string): Promise<number> {
  const res = await fetch(`${UPSTREAM}/__hits?${new URLSearchParams({ contains: text })}`);
  return ((await res.json()) as { hits: number }).hits;
}

export interface UpstreamRequest {
  method: string;
  url: string;
  /** The Idempotency-Key header it carried, if any. */
  idempotency_key: string | null;
}

/** Requests the upstream received whose URL contains `text`, oldest first. */
export async function requestsWith(text: string): Promise<UpstreamRequest[]> {
  const res = await fetch(`${UPSTREAM}/__hits?${new URLSearchParams({ contains: text })}`);
  return ((await res.json()) as { requests: UpstreamRequest[] }).requests;
}
