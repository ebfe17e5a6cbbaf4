/** Reading a concurrency key through the API (GET /v1/concurrency/{key}), for the concurrency tests. */
import { expect } from "vitest";
import type { ConcurrencyState } from "../../src/schemas/concurrency";
import { call, eventually } from "./api";

export async function keyState(apiKey: string, key: string): Promise<ConcurrencyState> {
  const res = await call<ConcurrencyState>("GET", `/v1/concurrency/${encodeURIComponent(key)}`, { key: apiKey });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/**
 * Waits until nobody holds or waits for the key: the releases of the test's last moves have landed.
 * Each test ends so, leaving no call between objects in flight behind it.
 */
export async function idle(apiKey: string, key: string): Promise<void> {
  await eventually(async () => expect(await keyState(apiKey, key)).toEqual({ key, limit: null, running: [], queued: [] }));
}
