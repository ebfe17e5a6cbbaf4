import { describe, expect, it } from "vitest";
import { LEASE_MS, RATE_WINDOW_MS, SlidingLog } from "../../src/engine/rate-limit";

/** Feeds `times` (ascending) through one log (no lease shift); returns the admitted times and each decision. */
function replay(times: readonly number[], limit: (i: number) => number) {
  const log = new SlidingLog([], 1, RATE_WINDOW_MS, 0);
  const decisions = times.map((t, i) => ({ t, ...log.admit(t, limit(i)).decision }));
  return { admitted: decisions.filter((d) => d.allowed).map((d) => d.t), decisions };
}

describe("SlidingLog", () => {
  it("allows a burst of `limit`, refuses the next until the oldest leaves the window, and says when", () => {
    const { decisions } = replay([0, 10, 20, 30, 59_999, 60_000, 60_001], () => 3);
    expect(decisions.map((d) => [d.allowed, d.remaining, d.resetSeconds])).toEqual([
      [true, 2, 60], // room left: the oldest (0) comes back at 60 s
      [true, 1, 60],
      [true, 0, 60],
      [false, 0, 60], // refused at 30 ms: try again when 0 leaves, 59.97 s on → 60
      [false, 0, 1], // at 59.999 s: 1 ms to go, rounded up to a whole second
      [true, 0, 1], // at 60 s, 0 has left (the window is (now − 60 s, now]); 10 leaves 10 ms on
      [false, 0, 1],
    ]);
  });

  it("never admits more than `limit` in any window of a minute, whatever the arrivals", () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const limit of [1, 2, 7, 50]) {
      let t = 0;
      const times = Array.from({ length: 2_000 }, () => (t += Math.floor(rand() * rand() * 4_000)));
      const { admitted } = replay(times, () => limit);
      expect(admitted.length).toBeGreaterThan(limit);
      // Every window (s − 60 s, s] ending at an admitted time s holds at most `limit`.
      for (let i = 0; i < admitted.length; i++) {
        const inWindow = admitted.filter((s) => s > admitted[i]! - RATE_WINDOW_MS && s <= admitted[i]!).length;
        expect(inWindow, `limit ${limit} at ${admitted[i]}`).toBeLessThanOrEqual(limit);
      }
      // And it is not stingier than that: a refused request came when `limit` were admitted in its window.
      const { decisions } = replay(times, () => limit);
      for (const d of decisions.filter((x) => !x.allowed)) {
        expect(admitted.filter((s) => s > d.t - RATE_WINDOW_MS && s <= d.t).length).toBe(limit);
      }
    }
  });

  it("a refused request is not counted, and a lowered limit refuses until enough requests have left", () => {
    const limits = [5, 5, 5, 5, 2, 2, 2];
    const { decisions } = replay([0, 1, 2, 3, 4, 60_001, 60_003], (i) => limits[i]!);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, false, false, true]);
    // At 4 ms, limit 2 and four logged (0–3): room comes when 0, 1 and 2 have left, i.e. when 2 leaves.
    expect(decisions[4]!.resetSeconds).toBe(60);
    // At 60,001 ms, 0 and 1 have left; 2 and 3 remain, so still no room under 2.
    expect(decisions[5]).toMatchObject({ allowed: false, remaining: 0 });
  });

  it("numbers admitted times in sequence and says from which sequence number on the window still holds them", () => {
    const log = new SlidingLog([], 10, RATE_WINDOW_MS, 0);
    expect(log.admit(0, 2)).toMatchObject({ seq: 10, firstSeq: 10 });
    expect(log.admit(1, 2)).toMatchObject({ seq: 11, firstSeq: 10 });
    expect(log.admit(2, 2)).toMatchObject({ seq: null, firstSeq: 10 });
    // At 60 s the time 0 has left: the window starts at 11.
    expect(log.admit(60_000, 2)).toMatchObject({ seq: 12, firstSeq: 11 });
    // A log reloaded from storage goes on where it was (at 60,001 ms the time 1 has left too).
    const reloaded = new SlidingLog([1, 60_000], 11, RATE_WINDOW_MS, 0);
    expect(reloaded.admit(60_001, 3)).toMatchObject({ seq: 13, firstSeq: 12 });
    expect(reloaded.size).toBe(2);
  });

  it("stays O(1) per admission at a high limit (100,000 admissions within a minute)", () => {
    const log = new SlidingLog();
    for (let i = 0; i < 100_000; i++) expect(log.admit(i * 0.5, 1_000_000).seq).toBe(i + 1);
    expect(log.size).toBe(100_000);
  });

  it("leases: up to `want` at once, within the room; logged a lease later, so requests spent within the lease never exceed the limit in any minute", () => {
    const log = new SlidingLog();
    expect(log.admit(0, 10, 4)).toMatchObject({ granted: 4, seq: 1, decision: { allowed: true, remaining: 6 } });
    expect(log.admit(5, 10, 100)).toMatchObject({ granted: 6, seq: 5, decision: { allowed: true, remaining: 0 } });
    expect(log.admit(6, 10, 3)).toMatchObject({ granted: 0, seq: null, decision: { allowed: false } });
    // The first lease leaves the window a lease after the minute: at LEASE_MS + 60 s, not at 60 s.
    expect(log.admit(RATE_WINDOW_MS, 10, 1).granted).toBe(0);
    expect(log.admit(LEASE_MS + RATE_WINDOW_MS, 10, 9)).toMatchObject({ granted: 4 });

    // Simulated isolates: each lease's admissions are spent at random moments within the lease.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const limit = 40;
    const sim = new SlidingLog();
    const spent: number[] = [];
    for (let t = 0; t < 10 * RATE_WINDOW_MS; t += Math.floor(rand() * 700)) {
      const { granted } = sim.admit(t, limit, 1 + Math.floor(rand() * 8));
      for (let i = 0; i < granted; i++) if (rand() < 0.8) spent.push(t + Math.floor(rand() * LEASE_MS));
    }
    spent.sort((a, b) => a - b);
    expect(spent.length).toBeGreaterThan(5 * limit);
    for (const s of spent) expect(spent.filter((x) => x > s - RATE_WINDOW_MS && x <= s).length, `at ${s}`).toBeLessThanOrEqual(limit);
  });
});
