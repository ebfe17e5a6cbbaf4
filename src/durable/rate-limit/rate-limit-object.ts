/**
 * RateLimitObject: one Durable Object per API key (SPEC §8), addressed by the key's id. It alone
 * admits that key's requests, from every isolate and location, so the limit holds across them
 * (the Workers rate-limiting binding counts per location and cannot take a limit per key).
 * A thin shell over `engine/rate-limit.ts`: the sliding log lives in memory and, one row per
 * admission, in storage, so an object evicted and recreated within the minute still remembers the
 * minute. A call admits up to `want` requests (a lease the calling isolate spends within a second,
 * so busy keys cost one call per lease), writes their rows and drops the rows that left the window
 * (by sequence range); a refused call writes nothing.
 * Callers use `client.ts`, never this module.
 */
import { DurableObject } from "cloudflare:workers";
import { systemClock, type Clock } from "../../engine/clock";
import { LEASE_MS, RATE_WINDOW_MS, SlidingLog } from "../../engine/rate-limit";
import type { RateLimitRpc, RateLease } from "./client";

export class RateLimitObject extends DurableObject<Env> implements Record<keyof RateLimitRpc, unknown> {
  /** The object's time; tests replace it (through runInDurableObject) to move the window. */
  clock: Clock = systemClock;
  private readonly log: SlidingLog;
  /** The lowest sequence number storage may still hold: rows below the window's first are dropped from here. */
  private storedFrom: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS admitted (seq INTEGER PRIMARY KEY, t INTEGER NOT NULL)");
    const rows = sql.exec<{ seq: number; t: number }>("SELECT seq, t FROM admitted WHERE t > ? ORDER BY seq", this.clock.now() - RATE_WINDOW_MS).toArray();
    const stored = sql.exec<{ first: number | null; last: number | null }>("SELECT MIN(seq) AS first, MAX(seq) AS last FROM admitted").one();
    // Rows that left the window while the object was away are dropped by the next admission.
    this.storedFrom = stored.first ?? 1;
    this.log = new SlidingLog(rows.map((r) => r.t), rows[0]?.seq ?? (stored.last ?? 0) + 1);
  }

  hit(limit: number, want = 1): RateLease {
    for (const [name, n] of [["limit", limit], ["want", want]] as const) {
      if (!Number.isInteger(n) || n < 1) throw new TypeError(`${name} must be a positive integer, not ${String(n)}`);
    }
    const now = this.clock.now();
    const { decision, granted, seq, firstSeq } = this.log.admit(now, limit, want);
    if (seq !== null) {
      const at = now + LEASE_MS;
      for (let i = 0; i < granted; i++) this.ctx.storage.sql.exec("INSERT INTO admitted (seq, t) VALUES (?, ?)", seq + i, at);
      if (firstSeq > this.storedFrom) {
        this.ctx.storage.sql.exec("DELETE FROM admitted WHERE seq < ?", firstSeq);
        this.storedFrom = firstSeq;
      }
    }
    return { ...decision, granted };
  }
}
