import { describe, expect, it } from "vitest";
import { isRfc3339, isoTime, parseRfc3339 } from "../../src/lib/time";

describe("parseRfc3339", () => {
  it("reads date-times with an offset as epoch milliseconds", () => {
    expect(parseRfc3339("2026-12-01T09:00:00Z")).toBe(Date.UTC(2026, 11, 1, 9, 0, 0));
    expect(parseRfc3339("2026-12-01t09:00:00z")).toBe(Date.UTC(2026, 11, 1, 9, 0, 0));
    expect(parseRfc3339("2026-12-01 09:00:00Z")).toBe(Date.UTC(2026, 11, 1, 9, 0, 0)); // the space RFC 3339 §5.6 allows
    expect(parseRfc3339("2026-12-01T10:30:00+01:30")).toBe(Date.UTC(2026, 11, 1, 9, 0, 0));
    expect(parseRfc3339("2026-12-01T04:00:00-05:00")).toBe(Date.UTC(2026, 11, 1, 9, 0, 0));
    expect(parseRfc3339("2026-12-01T09:00:00-00:00")).toBe(Date.UTC(2026, 11, 1, 9, 0, 0));
    expect(parseRfc3339("2026-12-01T09:00:00.5Z")).toBe(Date.UTC(2026, 11, 1, 9, 0, 0, 500));
    expect(parseRfc3339("2026-12-01T09:00:00.123456789Z")).toBe(Date.UTC(2026, 11, 1, 9, 0, 0, 123)); // below a millisecond: truncated
    expect(parseRfc3339("2026-12-31T23:59:59.999+23:59")).toBe(Date.UTC(2026, 11, 31, 23, 59, 59, 999) - (23 * 60 + 59) * 60_000);
  });

  it("knows the calendar: month lengths and leap years", () => {
    expect(parseRfc3339("2024-02-29T00:00:00Z")).toBe(Date.UTC(2024, 1, 29));
    expect(parseRfc3339("2000-02-29T00:00:00Z")).toBe(Date.UTC(2000, 1, 29)); // divisible by 400
    expect(parseRfc3339("1900-02-29T00:00:00Z")).toBeNull(); // divisible by 100 only
    expect(parseRfc3339("2026-02-29T00:00:00Z")).toBeNull();
    expect(parseRfc3339("2026-02-30T00:00:00Z")).toBeNull();
    expect(parseRfc3339("2026-04-31T00:00:00Z")).toBeNull();
    expect(parseRfc3339("2026-04-30T00:00:00Z")).toBe(Date.UTC(2026, 3, 30));
    expect(parseRfc3339("2026-12-31T00:00:00Z")).toBe(Date.UTC(2026, 11, 31));
  });

  it.each([
    ["2026-02-30T00:00:00Z", "February 30"],
    ["2026-13-01T00:00:00Z", "month 13"],
    ["2026-00-10T00:00:00Z", "month 0"],
    ["2026-01-00T00:00:00Z", "day 0"],
    ["2026-01-01T24:00:00Z", "hour 24"],
    ["2026-01-01T23:60:00Z", "minute 60"],
    ["2026-12-31T23:59:60Z", "a leap second (not representable)"],
    ["2026-01-01T00:00:00+24:00", "offset hour 24"],
    ["2026-01-01T00:00:00+01:60", "offset minute 60"],
    ["2026-01-01T00:00:00", "no offset (a local time is no instant)"],
    ["2026-01-01T00:00Z", "no seconds"],
    ["2026-01-01", "a date alone"],
    ["2026-01-01T00:00:00.Z", "an empty fraction"],
    ["2026-01-01T00:00:00.1234567890Z", "ten fraction digits"],
    ["2026-01-01T00:00:00+0100", "an offset without its colon"],
    [" 2026-01-01T00:00:00Z", "leading space"],
    ["2026-1-01T00:00:00Z", "a one-digit month"],
    ["Thu, 01 Jan 2026 00:00:00 GMT", "an HTTP-date"],
    ["", "empty"],
  ])("refuses %s (%s)", (text) => {
    expect(parseRfc3339(text)).toBeNull();
    expect(isRfc3339(text)).toBe(false);
  });
});

describe("isoTime", () => {
  it("writes UTC with milliseconds, and round-trips through parseRfc3339", () => {
    const ms = Date.UTC(2026, 1, 28, 23, 59, 59, 7);
    expect(isoTime(ms)).toBe("2026-02-28T23:59:59.007Z");
    expect(parseRfc3339(isoTime(ms))).toBe(ms);
    expect(isoTime(null)).toBeNull();
  });
});
