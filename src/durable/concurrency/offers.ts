/**
 * Asking holders' executions about their slots: a grant not yet told (the execution learns it was
 * admitted and starts), and the sweep (every SWEEP_MS a holder is asked whether its execution
 * still holds the slot). One RPC, `slotGranted(key)`, serves both: true keeps the slot held; false
 * (the execution ended, or never asked) gives it to the next in line, who is asked in turn. An
 * execution that cannot be reached keeps its slot and is asked again with backoff: a doubt never
 * frees a slot that may be in use.
 */
import { log } from "../../lib/log";
import type { ExecutionRpc } from "../execution/client";
import type { Ask, SlotBook } from "./slot-book";

/** Asks sent at once. */
const PARALLEL_ASKS = 25;

/** Where an ask goes: the execution object's `slotGranted` (a dependency, so tests can make it fail). */
export type SlotOffer = (executionId: string) => Pick<ExecutionRpc, "slotGranted">;

export class Offers {
  /** Holders being asked by this instance now (a release and the alarm may both look). */
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly book: SlotBook,
    private readonly execution: () => SlotOffer,
    private readonly now: () => number,
  ) {}

  /** Asks every holder due, and then those its refusals admitted, until nobody is due. */
  async sendDue(key: string): Promise<void> {
    for (;;) {
      const due = this.book.due(this.now()).filter((a) => !this.inFlight.has(a.executionId));
      if (due.length === 0) return;
      for (let i = 0; i < due.length; i += PARALLEL_ASKS) {
        await Promise.all(due.slice(i, i + PARALLEL_ASKS).map((a) => this.ask(key, a)));
      }
    }
  }

  private async ask(key: string, a: Ask): Promise<void> {
    this.inFlight.add(a.executionId);
    try {
      const held = await this.execution()(a.executionId).slotGranted(key);
      if (held) this.book.confirmed(a.executionId, this.now());
      else {
        this.book.refused(a.executionId, this.now());
        if (a.told) log("warn", "concurrency.slot_reclaimed", { key, execution_id: a.executionId });
      }
    } catch (err) {
      this.book.unreachable(a, this.now());
      log("warn", "concurrency.ask_failed", { key, execution_id: a.executionId, attempts: a.attempts + 1, error: err instanceof Error ? err.message : String(err) });
    } finally {
      this.inFlight.delete(a.executionId);
    }
  }
}
