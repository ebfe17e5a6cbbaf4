/**
 * BulkObject: one Durable Object per bulk action (SPEC §10), addressed by the bulk id. It alone runs
 * its bulk, in the background: each alarm claims one page of the D1 listing and applies the action
 * to it (`bulk-run.ts`), recording every answer in its SQLite (`bulk-book.ts`), then re-arms for the
 * next page. A thin shell: it parses the RPC arguments again (`schemas/bulk.ts`) and delegates.
 * Callers use `client.ts`, never this module.
 */
import { DurableObject } from "cloudflare:workers";
import { ArmedAlarm } from "../storage/armed-alarm";
import { systemClock } from "../../engine/clock";
import { BulkTenant, CreateBulkArgs, type Bulk, type CreateBulkResult } from "../../schemas/bulk";
import { executionRpc } from "../execution/client";
import type { BulkRpc } from "./client";
import { BulkBook } from "./bulk-book";
import { BulkRun, type BulkDeps } from "./bulk-run";

export class BulkObject extends DurableObject<Env> implements Record<keyof BulkRpc, unknown> {
  /**
   * The platform's by default. Read at each use, so one replaced on a live instance (through
   * runInDurableObject) takes effect at once: how tests cut calls to executions off.
   */
  readonly deps: BulkDeps;
  readonly book: BulkBook;
  private readonly run: BulkRun;
  private readonly armed: ArmedAlarm;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.deps = { clock: systemClock, db: env.DB, execution: (id) => executionRpc(env, id) };
    this.book = new BulkBook(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    this.run = new BulkRun(this.book, () => this.deps);
    this.armed = new ArmedAlarm(ctx.storage);
    void ctx.blockConcurrencyWhile(async () => {
      await this.armed.load();
      // Catch up at start-up: a bulk still running runs its next page now, whatever happened to its
      // alarm (the object died between recording the bulk and arming it). An unknown id writes nothing.
      if (this.book.record()?.finished === false) await this.armSoon();
    });
  }

  async create(args: unknown): Promise<CreateBulkResult> {
    const result = this.book.create(CreateBulkArgs.parse(args));
    // The first page runs in the alarm, not in the request that created the bulk.
    if (result.kind === "created") await this.armSoon();
    return result;
  }

  async get(tenant: unknown): Promise<Bulk | null> {
    return this.book.view(BulkTenant.parse(tenant));
  }

  override async alarm(): Promise<void> {
    this.armed.fired();
    const next = await this.run.next();
    await this.armed.set(next === null ? null : this.deps.clock.toWallTime(next));
  }

  private async armSoon(): Promise<void> {
    await this.armed.set(this.deps.clock.toWallTime(this.deps.clock.now()));
  }
}
