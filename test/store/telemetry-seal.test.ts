/**
 * Sealed days (migration 0012, src/store/telemetry-seal.ts): a day's rollups are built in bulk by the
 * first read that takes the whole day from them, and only then kept by triggers. The figures must stay
 * exactly those of a scan of the rows whichever days are sealed, for rows that arrive or end after
 * their day was sealed (counted once), for rows re-sent or offered at a stale version, and when
 * several reads seal the same day at once.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { executionIndexStatements, type ExecutionIndexRow } from "../../src/store/executions";
import { DAY_MS, telemetrySummary, workflowStats } from "../../src/store/telemetry";
import { SEAL_GRACE_MS, firstUnsealableDay } from "../../src/store/telemetry-seal";
import { ENDED, HOUR, expectExactFigures, random, seed, type Seeded } from "./telemetry-fixtures";

const BASE = Date.UTC(2026, 10, 20, 13, 17, 5);
/** Ranges over the 6 days before BASE: everything, whole days only, cut mid-day, no whole day, one day less its ends. */
const RANGES = [
  [BASE - 7 * DAY_MS, BASE + DAY_MS],
  [Date.UTC(2026, 10, 15), Date.UTC(2026, 10, 19)],
  [BASE - 3 * DAY_MS - 5 * HOUR, BASE - DAY_MS + 2 * HOUR],
  [BASE - 30 * HOUR, BASE - 8 * HOUR],
  [Date.UTC(2026, 10, 17, 0, 0, 0, 1), Date.UTC(2026, 10, 17, 23, 59, 59, 999)],
] as const;

const dayOf = (ms: number) => Math.floor(ms / DAY_MS);

async function sealedDays(tenant: string): Promise<number[]> {
  const { results } = await env.DB.prepare("SELECT day FROM rollup_days WHERE tenant = ?1 ORDER BY day").bind(tenant).all<{ day: number }>();
  return results.map((r) => r.day);
}

/**
 * Ends every execution of `s` that had not ended, as its object would (a newer version carrying its
 * steps' outcomes), then replays the end and offers the older row again; `s` then holds the new rows.
 */
async function endTheLiveOnes(s: Seeded, rand: () => number): Promise<ExecutionIndexRow[]> {
  const ended: ExecutionIndexRow[] = [];
  s.rows = s.rows.map((r) => {
    if (ENDED.includes(r.status)) return r;
    const startedAt = r.startedAt ?? r.createdAt;
    const steps = ["s1", "s2"].map((id) => ({ id, status: rand() < 0.3 ? "failed" : "completed", attempts: 1, duration_ms: Math.floor(rand() * 9) * 5 }));
    const end: ExecutionIndexRow = { ...r, status: rand() < 0.5 ? "completed" : "failed", startedAt, endedAt: startedAt + 3 * HOUR, stateVersion: 4, costUsd: 0.125, steps };
    ended.push(end);
    return end;
  });
  const stale = (r: ExecutionIndexRow): ExecutionIndexRow => ({ ...r, status: "running", endedAt: null, steps: undefined, stateVersion: 3 });
  await env.DB.batch(ended.flatMap((r) => [r, r, stale(r)]).flatMap((r) => executionIndexStatements(env.DB, [r], r.createdAt)));
  return ended;
}

describe("sealed days", () => {
  it("a day may be sealed once it is over and the grace has passed; a read with no whole day seals nothing", async () => {
    const day = 20_000;
    expect(firstUnsealableDay(day * DAY_MS + SEAL_GRACE_MS - 1)).toBe(day - 1);
    expect(firstUnsealableDay(day * DAY_MS + SEAL_GRACE_MS)).toBe(day);
    const tenant = `tel-seal-none-${crypto.randomUUID()}`;
    await telemetrySummary(env.DB, { tenant, from: BASE - 20 * HOUR, to: BASE, endedStatuses: ENDED });
    expect(await sealedDays(tenant)).toEqual([]);
  });

  it("figures are exact across sealed and unsealed days, and rows that arrive or end after their day was sealed count once", async () => {
    const rand = random(16);
    const tenant = `tel-seal-${crypto.randomUUID()}`;
    const s = await seed(tenant, BASE, 120, rand, "a");
    // Reads on 17 November: the days before it are sealed on the first read, the later ones read raw.
    const early = Date.UTC(2026, 10, 17, 12);
    await expectExactFigures(s, tenant, RANGES, "sealed up to 16 November", early);
    const sealed = [14, 15, 16].map((d) => dayOf(Date.UTC(2026, 10, d)));
    expect(await sealedDays(tenant)).toEqual(sealed);

    // Late rows: executions of those days end (with a replay and a stale version each), new ones and
    // their usage records arrive (the records flushed twice), on sealed and unsealed days alike.
    const late = await endTheLiveOnes(s, rand);
    expect(late.filter((r) => sealed.includes(dayOf(r.createdAt))).length, "late enders on sealed days").toBeGreaterThan(3);
    const more = await seed(tenant, BASE, 80, rand, "b");
    expect(more.rows.filter((r) => sealed.includes(dayOf(r.createdAt))).length, "late arrivals on sealed days").toBeGreaterThan(3);
    s.rows.push(...more.rows);
    s.usage.push(...more.usage);

    await expectExactFigures(s, tenant, RANGES, "late rows, same days sealed", early);
    // Now every day is over: the rest are sealed from their rows (late ones included) and read from the rollups…
    await expectExactFigures(s, tenant, RANGES, "every day sealed");
    expect(await sealedDays(tenant)).toEqual([...sealed, ...[17, 18, 19, 20].map((d) => dayOf(Date.UTC(2026, 10, d)))]);
    // …which agree with reading every row raw (no day can be sealed at time 0).
    await expectExactFigures(s, tenant, RANGES, "all raw", 0);
  });

  it("reads that seal the same days at once build each day once", async () => {
    const rand = random(99);
    const tenant = `tel-seal-race-${crypto.randomUUID()}`;
    const s = await seed(tenant, BASE, 90, rand);
    const q = { tenant, from: Date.UTC(2026, 10, 10), to: Date.UTC(2026, 10, 21), endedStatuses: ENDED };
    const reads = await Promise.all([
      telemetrySummary(env.DB, q),
      workflowStats(env.DB, { ...q, workflowId: "w1" }),
      telemetrySummary(env.DB, q),
      workflowStats(env.DB, { ...q, workflowId: "w2" }),
    ]);
    expect(reads.map((r) => ("by_workflow" in r.figures ? r.figures.executions : null))).toEqual([90, null, 90, null]);
    const rolled = await env.DB.prepare("SELECT SUM(executions) AS n FROM execution_rollups WHERE tenant = ?1").bind(tenant).first<{ n: number }>();
    expect(rolled!.n).toBe(90);
    await expectExactFigures(s, tenant, RANGES, "sealed by concurrent reads");
  });

  it("an ended 20-step execution writes 5 D1 rows on an unsealed day, and its steps' rollups once its day is sealed", async () => {
    const tenant = `tel-seal-rows-${crypto.randomUUID()}`;
    const t0 = Date.UTC(2026, 10, 18, 10);
    const steps = Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, status: "completed", attempts: 1, duration_ms: 10 + i }));
    const row = (id: string): ExecutionIndexRow => ({
      tenant, id, workflowId: "w", workflowVersion: 1, status: "completed", labels: {}, errorCode: null, costUsd: 0.01, inputTokens: 0,
      outputTokens: 0, createdAt: t0, startedAt: t0, endedAt: t0 + 900, stateVersion: 9, steps,
    });
    const written = async (r: ExecutionIndexRow) => (await env.DB.batch(executionIndexStatements(env.DB, [r], t0))).reduce((n, x) => n + x.meta.rows_written, 0);
    // The row, its primary key's entry and its three listing index entries: no rollup row.
    expect(await written(row("ex_1"))).toBe(5);
    expect(await written(row("ex_1"))).toBe(0);
    const q = { tenant, from: Date.UTC(2026, 10, 18), to: Date.UTC(2026, 10, 19), endedStatuses: ENDED, workflowId: "w" };
    const sealing = await workflowStats(env.DB, q);
    // After the seal, one more such execution is a late row: the day's execution rollup, its own duration and 20 steps' buckets.
    expect(await written(row("ex_2"))).toBe(5 + 1 + 1 + 20);
    const { figures } = await workflowStats(env.DB, q);
    expect(sealing.figures.executions).toBe(1);
    expect(figures.executions).toBe(2);
    expect(figures.steps.map((x) => [x.step_id, x.runs, x.duration_ms.p50])).toEqual(steps.map((x) => [x.id, 2, x.duration_ms]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  });
});
