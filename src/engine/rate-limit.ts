/**
 * Request rate limits per API key (SPEC §8): at most `limit` requests in any window of `windowMs`
 * (a minute), a burst of `limit` allowed. A sliding log of the times of the requests admitted in the
 * last window decides exactly; a token bucket or GCRA with a burst of `limit` would let up to
 * 2 × `limit` − 1 through in some minute. No Workers import: the key's Durable Object keeps one
 * log, mirrors it in storage, and supplies the time.
 *
 * Invariants:
 * - The log holds the times admitted within the window before `now`, ascending, each with a
 *   sequence number one more than the one before (so storage can drop a prefix by range).
 * - A refused request is not logged (it costs the caller nothing toward the next minute).
 * - `resetSeconds` is when `remaining` next goes up: when the oldest logged time leaves the window
 *   (with no room, the one whose leaving makes room); 0 with nothing logged. When a request is
 *   refused, it is also when to try again (`Retry-After`). Whole seconds, rounded up, as HTTP wants.
 * - Each admission is O(1) amortised, whatever the limit (a queue with a moving head).
 * - Leases: an isolate that sends many requests of one key asks for `want` admissions at once and
 *   spends them itself within `LEASE_MS` (then drops what is left), so the key's object is called
 *   once per lease, not once per request. Every admission is logged at `now + LEASE_MS` — the
 *   latest moment a leased one can be spent — so the log never shows a request earlier than it
 *   was made, and "at most `limit` in any minute" holds for the times requests are really made
 *   (at the price of each admission counting a second longer). The same shift for every admission
 *   keeps the log ascending.
 */
import { RATE_WINDOW_MS, type RateDecision } from "../schemas/rate-limits";

export { RATE_WINDOW_MS, type RateDecision };

/** How long an isolate may spend leased admissions, and how much later than `now` they are logged. */
export const LEASE_MS = 1_000;

export interface Admission {
  decision: RateDecision;
  /** Admissions granted (0: refused; up to `want`), each logged at `now + leaseMs`. */
  granted: number;
  /** The sequence number of the first granted admission; null when refused. */
  seq: number | null;
  /** Times before this sequence number have left the window (storage may drop them). */
  firstSeq: number;
}

export class SlidingLog {
  private times: number[];
  private head = 0;
  /** Sequence number of `times[head]`. */
  private headSeq: number;

  /** `times` ascending, the first of them numbered `firstSeq`. */
  constructor(
    times: readonly number[] = [],
    firstSeq = 1,
    private readonly windowMs = RATE_WINDOW_MS,
    private readonly leaseMs = LEASE_MS,
  ) {
    this.times = [...times];
    this.headSeq = firstSeq;
  }

  get size(): number {
    return this.times.length - this.head;
  }

  /**
   * Admits up to `want` requests at `now` while fewer than `limit` are logged in the window before
   * it (at least one, or none). `decision` speaks of the last one admitted (or of the refusal).
   */
  admit(now: number, limit: number, want = 1): Admission {
    this.prune(now);
    const granted = Math.max(0, Math.min(want, limit - this.size));
    const allowed = granted > 0;
    let seq: number | null = null;
    if (allowed) {
      seq = this.headSeq + this.size;
      for (let i = 0; i < granted; i++) this.times.push(now + this.leaseMs);
    }
    const remaining = Math.max(0, limit - this.size);
    // With room, the oldest time frees the next unit; without, the (size − limit + 1)-th oldest must go.
    const next = this.size === 0 ? undefined : this.times[this.head + (remaining > 0 ? 0 : this.size - limit)];
    const resetSeconds = next === undefined ? 0 : Math.max(1, Math.ceil((next + this.windowMs - now) / 1000));
    return { decision: { allowed, limit, remaining, resetSeconds }, granted, seq, firstSeq: this.headSeq };
  }

  /** Drops the times that have left the window (now − windowMs, now]. */
  private prune(now: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= now - this.windowMs) {
      this.head++;
      this.headSeq++;
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }
}
