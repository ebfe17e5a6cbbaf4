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
 */
import { RATE_WINDOW_MS, type RateDecision } from "../schemas/rate-limits";

export { RATE_WINDOW_MS, type RateDecision };

export interface Admission {
  decision: RateDecision;
  /** The sequence number given to this request's time; null when refused. */
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
  ) {
    this.times = [...times];
    this.headSeq = firstSeq;
  }

  get size(): number {
    return this.times.length - this.head;
  }

  /** Admits one request at `now` if fewer than `limit` are logged in the window before it. */
  admit(now: number, limit: number): Admission {
    this.prune(now);
    const allowed = this.size < limit;
    let seq: number | null = null;
    if (allowed) {
      seq = this.headSeq + this.size;
      this.times.push(now);
    }
    const remaining = Math.max(0, limit - this.size);
    // With room, the oldest time frees the next unit; without, the (size − limit + 1)-th oldest must go.
    const next = this.size === 0 ? undefined : this.times[this.head + (remaining > 0 ? 0 : this.size - limit)];
    const resetSeconds = next === undefined ? 0 : Math.max(1, Math.ceil((next + this.windowMs - now) / 1000));
    return { decision: { allowed, limit, remaining, resetSeconds }, seq, firstSeq: this.headSeq };
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
