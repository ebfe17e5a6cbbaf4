/**
 * One run of a bulk action (one alarm): claim the next page of the D1 listing, then apply the
 * action to each claimed execution through the execution object's own `command` — the path the
 * single cancel and retry routes take, with the audit row handed to the execution so it is stored
 * with the change. Every answer is recorded in the bulk's SQLite (`bulk-book.ts`) before the next
 * page is claimed, so an eviction, a crash or a repeated alarm resumes where it stopped and acts on
 * no execution twice.
 *
 * An execution that refuses the action (ended, for a cancel; not failed or timed out, for a retry;
 * gone) is `skipped`. One that cannot be reached keeps its claim and is tried again by a later run,
 * with backoff; after MAX_TRIES it is `failed`.
 */
import { bulkActionLanded, bulkAuditRow } from "../../engine/bulk";
import type { Clock } from "../../engine/clock";
import { log } from "../../lib/log";
import { parseRfc3339 } from "../../lib/time";
import { listExecutions, type ExecutionListQuery } from "../../store/executions";
import type { ExecutionRpc } from "../execution/client";
import type { BulkBook, BulkRecord, Claim, Settled } from "./bulk-book";

/** Executions claimed per run: one page of the listing. */
export const BULK_PAGE = 50;
/** Calls to executions in flight at once. */
const PARALLEL_CALLS = 10;
/** Calls for one execution before it counts as failed. */
export const MAX_TRIES = 5;
const FIRST_RETRY_MS = 1_000;

export interface BulkDeps {
  /** The object's time: audit rows, the finish time and the next run. */
  clock: Clock;
  /** The index the filter is run against. */
  db: D1Database;
  /** An execution's object (a dependency, so tests can cut a call off). */
  execution: (executionId: string) => Pick<ExecutionRpc, "get" | "command">;
}

export class BulkRun {
  constructor(
    private readonly book: BulkBook,
    private readonly deps: () => BulkDeps,
  ) {}

  /** One page; when to run again (the object's clock), or null when the bulk has ended or never was. */
  async next(): Promise<number | null> {
    const bulk = this.book.record();
    if (!bulk || bulk.finished) return null;
    const now = () => this.deps().clock.now();
    let claims = this.book.claims();
    if (claims.length === 0 && !bulk.exhausted) {
      try {
        await this.claimPage(bulk);
      } catch (err) {
        log("warn", "bulk.listing_failed", { bulk_id: bulk.id, error: err instanceof Error ? err.message : String(err) });
        return now() + FIRST_RETRY_MS;
      }
      claims = this.book.claims();
    }
    for (let i = 0; i < claims.length; i += PARALLEL_CALLS) {
      await Promise.all(claims.slice(i, i + PARALLEL_CALLS).map((c) => this.act(bulk, c)));
    }
    const open = this.book.claims();
    if (open.length > 0) {
      // Calls that failed: tried again with backoff, by how often the most tried one failed.
      const tries = Math.max(...open.map((c) => c.tries));
      return now() + FIRST_RETRY_MS * 2 ** Math.max(0, tries - 1);
    }
    if (this.book.record()!.exhausted) {
      this.book.finish(now());
      log("info", "bulk.completed", { bulk_id: bulk.id });
      return null;
    }
    return now(); // the next page, in a new alarm: one run stays one page
  }

  private async claimPage(bulk: BulkRecord): Promise<void> {
    const { rows } = await listExecutions(this.deps().db, { ...listQueryOf(bulk), limit: BULK_PAGE, ...(bulk.cursor ? { before: bulk.cursor } : {}) });
    const page = rows.slice(0, BULK_PAGE);
    const last = page[page.length - 1];
    const more = rows.length > BULK_PAGE && last !== undefined;
    this.book.claimPage(
      page.map((r) => ({ id: r.id, endedAt: r.endedAt })),
      more ? { createdAt: last.createdAt, id: last.id } : null,
    );
  }

  private async act(bulk: BulkRecord, claim: Claim): Promise<void> {
    const id = claim.executionId;
    const tries = this.book.calling(id);
    try {
      this.book.settle(id, await this.apply(bulk, claim));
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log("warn", "bulk.call_failed", { bulk_id: bulk.id, execution_id: id, tries, error });
      if (tries >= MAX_TRIES) this.book.settle(id, "failed");
    }
  }

  private async apply(bulk: BulkRecord, claim: Claim): Promise<Settled> {
    const deps = this.deps();
    const execution = deps.execution(claim.executionId);
    if (claim.tries > 0) {
      // A call was made before and its answer never recorded: look before acting again.
      const current = await execution.get(bulk.tenant);
      if (!current) return "skipped";
      if (bulkActionLanded(bulk.action, current, claim.endedAt)) return "done";
    }
    const audit = bulkAuditRow(bulk, claim.executionId, `aud_${crypto.randomUUID().replaceAll("-", "")}`, deps.clock.now());
    const outcome = await execution.command(bulk.tenant, bulk.action, audit);
    return outcome.ok ? "done" : "skipped";
  }
}

/** The listing query of the bulk's (frozen) filter. */
function listQueryOf(bulk: BulkRecord): Omit<ExecutionListQuery, "limit"> {
  const f = bulk.filter;
  const colon = f.label?.indexOf(":") ?? -1;
  return {
    tenant: bulk.tenant,
    ...(f.workflow_id !== undefined ? { workflowId: f.workflow_id } : {}),
    ...(f.status !== undefined ? { status: f.status } : {}),
    ...(f.label !== undefined ? { label: { key: f.label.slice(0, colon), value: f.label.slice(colon + 1) } } : {}),
    ...(f.created_after !== undefined ? { createdAfter: parseRfc3339(f.created_after)! } : {}),
    ...(f.created_before !== undefined ? { createdBefore: parseRfc3339(f.created_before)! } : {}),
  };
}
