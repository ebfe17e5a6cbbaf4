/**
 * The one RFC 3339 pair: `parseRfc3339` reads a timestamp, `isoTime` writes one. Registration (a
 * wait step's literal `until`), run time (a rendered `until`), query parameters and our own stored
 * times all go through them, so a timestamp accepted at registration is one the engine can run.
 *
 * Accepted: RFC 3339 §5.6 `date-time` — `YYYY-MM-DD`, `T` (or `t`, or the space §5.6 allows),
 * `hh:mm:ss`, an optional fraction of 1 to 9 digits, and an explicit offset (`Z`, `z` or `±hh:mm`).
 * Refused: impossible dates (Feb 30, Feb 29 outside leap years, month 13), hour 24, minute or
 * second 60 (a leap second cannot be represented as epoch milliseconds), offsets beyond ±23:59,
 * and anything without an offset (a local time is not an instant). Fractions below a millisecond
 * are truncated. Written: always UTC with milliseconds, `2026-12-01T09:00:00.000Z`.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Epoch milliseconds of an RFC 3339 date-time with an offset, or null when it is not one (see above). */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, year, month, day, hour, minute, second, fraction = "", zulu, sign, offH, offM] = m;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  if (zulu === undefined && (Number(offH) > 23 || Number(offM) > 59)) return null;
  // The ECMAScript date-time string format (exactly three fraction digits), which Date.parse reads exactly.
  const millis = fraction.padEnd(3, "0").slice(0, 3);
  const offset = zulu !== undefined ? "Z" : `${sign}${offH}:${offM}`;
  const ms = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}.${millis}${offset}`);
  return Number.isNaN(ms) ? null : ms;
}

/** True when `parseRfc3339` reads `text`. */
export function isRfc3339(text: string): boolean {
  return parseRfc3339(text) !== null;
}

/** Epoch milliseconds as an RFC 3339 UTC timestamp with milliseconds; null stays null. */
export function isoTime(ms: number): string;
export function isoTime(ms: number | null): string | null;
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
