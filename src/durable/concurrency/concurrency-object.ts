/**
 * ConcurrencyObject: one Durable Object per (tenant, concurrency key) (SPEC §8), addressed by both
 * (`client.ts`). The single writer of the key's slots and queue (`slot-book.ts`), so no slot is
 * given twice and the queue keeps one order whatever the isolates and locations its executions
 * live in. A thin shell: it parses the RPC arguments again (`schemas/concurrency.ts`), changes the
 * book, arms the one alarm for the next holder to ask, then asks (`offers.ts`) — a grant is told
 * right away, not at the alarm; the alarm retries what failed and runs the sweep.
 * Callers use `client.ts`, never this module.
 */
import { DurableObject } from "cloudflare:workers";
import { ArmedAlarm } from "../storage/armed-alarm";
import { systemClock, type Clock } from "../../engine/clock";
import { AcquireArgs, ConcurrencyKey, ReleaseArgs, SlotExecutionId, SlotTenant, type AcquireResult, type ConcurrencyState } from "../../schemas/concurrency";
import { executionRpc } from "../execution/client";
import type { ConcurrencyRpc } from "./client";
import { Offers, type SlotOffer } from "./offers";
import { SlotBook } from "./slot-book";

export interface ConcurrencyDeps {
  /** The object's time: queue and admission times, the sweep. */
  clock: Clock;
  /** A holder's execution, asked through its `slotGranted` RPC. */
  execution: SlotOffer;
}

export class ConcurrencyObject extends DurableObject<Env> implements Record<keyof ConcurrencyRpc, unknown> {
  /**
   * The platform's by default. Read at each use, so one replaced on a live instance (through
   * runInDurableObject) takes effect at once: how tests move the clock or make asks fail.
   */
  readonly deps: ConcurrencyDeps;
  readonly book: SlotBook;
  readonly offers: Offers;
  /** The key's text, once known (an object is addressed by tenant and key, and serves one key). */
  private key: string | null = null;
  private readonly armed: ArmedAlarm;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.deps = { clock: systemClock, execution: (id) => executionRpc(env, id) };
    this.book = new SlotBook(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    this.offers = new Offers(
      this.book,
      () => this.deps.execution,
      () => this.deps.clock.now(),
    );
    this.armed = new ArmedAlarm(ctx.storage);
    void ctx.blockConcurrencyWhile(() => this.armed.load());
  }

  async acquire(args: unknown): Promise<AcquireResult> {
    const a = AcquireArgs.parse(args);
    this.key = a.key;
    const result = this.book.acquire(a, this.deps.clock.now());
    await this.askHolders();
    return result;
  }

  async release(args: unknown): Promise<void> {
    const r = ReleaseArgs.parse(args);
    this.key = r.key;
    this.book.release(r.executionId, this.deps.clock.now());
    await this.askHolders();
  }

  async state(tenant: unknown, key: unknown): Promise<ConcurrencyState> {
    return this.book.state(SlotTenant.parse(tenant), ConcurrencyKey.parse(key));
  }

  async position(executionId: unknown): Promise<number | null> {
    return this.book.queuedAt(SlotExecutionId.parse(executionId));
  }

  override async alarm(): Promise<void> {
    this.armed.fired();
    await this.askHolders();
  }

  /**
   * The change is committed; the alarm is armed first (so a crash from here on is retried by it),
   * then the holders due are asked now, and the alarm is moved to the next one due.
   */
  private async askHolders(): Promise<void> {
    await this.rearm();
    const key = this.key ?? this.book.keyText();
    if (key !== null) await this.offers.sendDue(key);
    await this.rearm();
  }

  private async rearm(): Promise<void> {
    const due = this.book.nextAskAt();
    await this.armed.set(due === null ? null : this.deps.clock.toWallTime(due));
  }
}
