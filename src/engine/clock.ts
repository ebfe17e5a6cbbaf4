/**
 * Where the execution core reads the time. Every instant the engine records or compares (step
 * starts, deadlines, retry times, gate expiries) is `clock.now()`; the one thing the platform keeps
 * in its own time is the Durable Object's alarm, so a clock says which wall-clock instant one of
 * its instants is (`toWallTime`) and the alarm fires when the clock reaches the timer's due time.
 *
 * Production runs on `systemClock`. Tests run an object on a clock of their own (moved forward
 * instead of sleeping) by replacing its `clock` dependency (see ExecutionObject.deps).
 */
export interface Clock {
  /** Epoch milliseconds, now. */
  now(): number;
  /** The wall-clock epoch milliseconds at which this clock reads `ms` (where to set an alarm). */
  toWallTime(ms: number): number;
}

/** The platform's clock: wall time itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  toWallTime: (ms) => ms,
};
