/**
 * The D1 execution index under keyset pagination: `GET /v1/executions` walked page by page while
 * newer executions keep arriving visits every row that existed when the walk began exactly once,
 * newest first by (created_at, id) — with and without `status` / `label` filters.
 *
 * Rows are written with the same upsert the execution objects' outbox flush uses
 * (`upsertExecutionIndex`), into a fresh tenant per walk, so no other test's rows are visible.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecutionStatus } from "../../src/schemas/executions";
import { upsertExecutionIndex, type ExecutionIndexRow } from "../../src/store/executions";
import { call, eventually, tenantWithKeys, type ApiResponse } from "../helpers/api";
import { start } from "../helpers/executions";

interface Summary {
  id: string;
  workflow_id: string;
  status: string;
  labels: Record<string, string>;
  created_at: string;
}
interface Page {
  items: Summary[];
  next_cursor: string | null;
}

const ORIGINALS = 250;
const PAGE = 17;
const NEWER_PER_PAGE = 50;
const STATUSES: readonly ExecutionStatus[] = ["completed", "failed", "running", "waiting", "cancelled"];

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `ex_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function row(tenant: string, createdAt: number, i: number): ExecutionIndexRow {
  const status = STATUSES[i % STATUSES.length]!;
  const ended = ["completed", "failed", "cancelled"].includes(status);
  return {
    tenant,
    id: randomId(),
    workflowId: i % 3 === 0 ? "wf-a" : "wf-b",
    workflowVersion: 1,
    status,
    labels: { batch: i % 2 === 0 ? "even" : "odd", shard: `s${i % 4}` },
    errorCode: status === "failed" ? "HTTP_STATUS" : null,
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    createdAt,
    startedAt: createdAt,
    endedAt: ended ? createdAt + 500 : null,
    stateVersion: 3,
  };
}

async function upsertAll(rows: readonly ExecutionIndexRow[]): Promise<void> {
  // Several D1 batches, as several objects flushing their outboxes would.
  for (let i = 0; i < rows.length; i += 40) await upsertExecutionIndex(env.DB, rows.slice(i, i + 40), Date.now());
}

/**
 * 250 rows created over the past days: mostly distinct created_at, but runs of up to 6 rows share
 * one created_at (so pages break inside a run and the id tie-break decides).
 */
function originals(tenant: string): ExecutionIndexRow[] {
  const base = Date.now() - 5 * 86_400_000;
  const rows: ExecutionIndexRow[] = [];
  let createdAt = base;
  for (let i = 0; i < ORIGINALS; i++) {
    // Every 20 rows, the next 6 rows share one instant.
    const sharesPrevious = i % 20 > 0 && i % 20 <= 5;
    if (!sharesPrevious) createdAt += 1_000 + (i % 7);
    rows.push(row(tenant, createdAt, i));
  }
  return rows;
}

/** Rows newer than every original, created "now" while the walk is under way. */
let newerSeq = 0;
function newer(tenant: string, n: number): ExecutionIndexRow[] {
  const now = Date.now() + 60_000;
  return Array.from({ length: n }, (_, k) => {
    newerSeq += 1;
    // Some of them share an instant, as concurrent starts do.
    return row(tenant, now + Math.floor(k / 3), newerSeq);
  });
}

/** (created_at, id) descending: the listing's order. */
function compareDesc(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Walks the listing with `filter`, inserting newer rows between page fetches. Returns the ids seen, in order. */
async function walk(key: string, tenant: string, filter: string): Promise<{ seen: Summary[]; pages: number }> {
  const seen: Summary[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `limit=${PAGE}${filter ? `&${filter}` : ""}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res: ApiResponse<Page> = await call<Page>("GET", `/v1/executions?${query}`, { key });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(PAGE);
    if (res.body.next_cursor !== null) expect(res.body.items).toHaveLength(PAGE);
    seen.push(...res.body.items);
    cursor = res.body.next_cursor;
    pages += 1;
    if (pages > 100) throw new Error("the walk does not end");
    // Concurrent starts: newer executions arrive between two page fetches.
    if (cursor) await upsertAll(newer(tenant, NEWER_PER_PAGE));
  } while (cursor);
  return { seen, pages };
}

function expectStrictlyDescending(seen: readonly Summary[]): void {
  for (let i = 1; i < seen.length; i++) {
    const prev = { createdAt: Date.parse(seen[i - 1]!.created_at), id: seen[i - 1]!.id };
    const cur = { createdAt: Date.parse(seen[i]!.created_at), id: seen[i]!.id };
    expect(compareDesc(prev, cur), `rows ${i - 1} and ${i} out of order: ${prev.id} then ${cur.id}`).toBeLessThan(0);
  }
}

const WALKS: { name: string; filter: string; keep: (r: ExecutionIndexRow) => boolean }[] = [
  { name: "no filter", filter: "", keep: () => true },
  { name: "status=completed", filter: "status=completed", keep: (r) => r.status === "completed" },
  { name: "label=batch:even", filter: "label=batch%3Aeven", keep: (r) => r.labels.batch === "even" },
  { name: "status=completed and label=batch:even", filter: "status=completed&label=batch%3Aeven", keep: (r) => r.status === "completed" && r.labels.batch === "even" },
];

describe("GET /v1/executions: keyset pagination under concurrent inserts", { timeout: 20_000 }, () => {
  it("the seed really has runs of equal created_at that straddle page boundaries", () => {
    const rows = originals("shape-check").sort(compareDesc);
    const createdAts = rows.map((r) => r.createdAt);
    expect(new Set(createdAts).size).toBeLessThan(rows.length);
    // Some page of 17 ends inside a run of equal created_at.
    const straddles = createdAts.some((c, i) => (i + 1) % PAGE === 0 && createdAts[i + 1] === c);
    expect(straddles).toBe(true);
  });

  it.each(WALKS)("$name: every original row exactly once, newest first by (created_at, id)", async ({ filter, keep }) => {
    const t = await tenantWithKeys("idx-walk");
    const rows = originals(t.tenant);
    await upsertAll(rows);
    const expected = rows.filter(keep).sort(compareDesc);
    expect(expected.length).toBeGreaterThan(PAGE); // several pages, whatever the filter

    const { seen, pages } = await walk(t.viewer, t.tenant, filter);
    expect(pages).toBe(Math.ceil(expected.length / PAGE));
    const ids = seen.map((s) => s.id);
    expect(new Set(ids).size, "duplicates in the walk").toBe(ids.length);
    expectStrictlyDescending(seen);
    // Exactly the rows that existed when the walk began (the newer ones sort before the first page's
    // position, so a keyset walk never reaches them), in the listing's order.
    expect(ids).toEqual(expected.map((r) => r.id));
    for (const s of seen) {
      const original = expected.find((r) => r.id === s.id)!;
      expect(s).toMatchObject({ status: original.status, workflow_id: original.workflowId, labels: original.labels });
      expect(Date.parse(s.created_at)).toBe(original.createdAt);
    }

    // The newer rows did land: a fresh walk starts with them.
    const first = await call<Page>("GET", `/v1/executions?limit=${PAGE}${filter ? `&${filter}` : ""}`, { key: t.viewer });
    expect(Date.parse(first.body.items[0]!.created_at)).toBeGreaterThan(expected[0]!.createdAt);
  });
});

describe("the index row of an execution", () => {
  it("an ended execution's row carries its steps' outcomes (telemetry); a running one's does not", async () => {
    const t = await tenantWithKeys("idx-steps");
    const definition = {
      id: "stepped",
      steps: [
        { id: "a", type: "transform", expression: "1" },
        { id: "b", type: "transform", expression: "$error('no')", needs: ["a"], on_error: "continue" },
        { id: "nap", type: "wait", seconds: 60 },
      ],
    };
    const res = await start(t.operator, { definition });
    const id = res.body.id;
    const row = () =>
      env.DB.prepare("SELECT status, steps FROM executions WHERE tenant = ?1 AND id = ?2").bind(t.tenant, id).first<{ status: string; steps: string | null }>();
    const waiting = await eventually(async () => {
      const r = await row();
      expect(r?.status).toBe("waiting");
      return r!;
    });
    expect(waiting.steps).toBeNull();
    await call("POST", `/v1/executions/${id}/cancel`, { key: t.operator });
    const ended = await eventually(async () => {
      const r = await row();
      expect(r?.status).toBe("cancelled");
      return r!;
    });
    const steps = JSON.parse(ended.steps!) as { id: string; status: string; attempts: number; duration_ms: number | null }[];
    expect(steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ["a", "completed", 1],
      ["b", "failed", 1],
      ["nap", "cancelled", 1],
    ]);
    expect(steps[0]!.duration_ms).toEqual(expect.any(Number));
    expect(steps[0]!.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it("carries the ledger's totals: 0 for an execution that recorded no cost (null only on rows from before costs)", async () => {
    const t = await tenantWithKeys("idx-cost");
    const res = await start(t.operator, { definition: { id: "costless", steps: [{ id: "a", type: "transform", expression: "1" }], output: "steps.a.output" } }, { wait: 10 });
    expect(res.status, res.text).toBe(200);
    const id = res.body.id;
    const row = await eventually(async () => {
      const r = await env.DB.prepare("SELECT status, cost_usd, input_tokens, output_tokens FROM executions WHERE tenant = ?1 AND id = ?2")
        .bind(t.tenant, id)
        .first<{ status: string; cost_usd: number | null; input_tokens: number | null; output_tokens: number | null }>();
      expect(r?.status).toBe("completed");
      return r!;
    });
    expect(row).toMatchObject({ cost_usd: 0, input_tokens: 0, output_tokens: 0 });
    // A row indexed before costs were recorded (NULL) reads back as no recorded cost.
    await env.DB.prepare("UPDATE executions SET cost_usd = NULL, input_tokens = NULL, output_tokens = NULL WHERE tenant = ?1 AND id = ?2").bind(t.tenant, id).run();
    const listed = await call<Page>("GET", "/v1/executions", { key: t.viewer });
    expect(listed.body.items).toEqual([expect.objectContaining({ id, status: "completed", cost: { total_usd: 0, input_tokens: 0, output_tokens: 0 } })]);
  });
});
