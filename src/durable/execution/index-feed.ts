/**
 * What a transition owes D1, enqueued in the outbox in its transaction: the execution's index row,
 * its usage ledger records, and the inbox items its events open or close. Sent by the outbox
 * flush (storage/outbox.ts); the index row is derived from the records (index-row.ts).
 */
import { addUsage, type UsageEntry } from "../../engine/usage";
import { inboxChanges } from "../../engine/inbox";
import type { Decision } from "../../engine/decision";
import type { Outbox } from "../storage/outbox";
import type { Timers } from "../storage/timer-store";
import type { ExecutionRecord, StateStore, StepRecord } from "../storage/state-store";
import type { LoadedState } from "./loaded-state";
import { indexRow } from "./index-row";

export class IndexFeed {
  constructor(
    private readonly outbox: Outbox,
    private readonly timers: Timers,
    private readonly store: StateStore,
  ) {}

  /** The execution's row in the D1 index is (re)written through the outbox. Inside a tx. */
  indexed(e: ExecutionRecord, now: number, steps?: ReadonlyMap<string, StepRecord>): void {
    this.outbox.enqueueIndex(indexRow(e, steps), now);
    this.timers.setIfUnset("outbox_flush", now + 1_000); // safety net; cleared by a successful flush
  }

  /**
   * Ledger records: stored, added to the execution's cost, and sent to D1 (each under its unique
   * key) with the execution's index row, whose cost they change (same version: see
   * `executionIndexStatements`). Inside a tx.
   */
  usage(s: LoadedState, entries: readonly UsageEntry[], now: number): void {
    const e = s.execution;
    this.store.insertUsage(entries);
    e.cost = addUsage(e.cost, entries);
    for (const u of entries) {
      this.outbox.enqueueUsage(
        {
          tenant: e.tenant,
          executionId: e.id,
          workflowId: e.workflowId,
          stepId: u.stepId,
          item: u.item ?? -1,
          attempt: u.attempt,
          call: u.call,
          model: u.model,
          inputTokens: u.input_tokens,
          outputTokens: u.output_tokens,
          costUsd: u.cost_usd,
          price: u.price,
          time: u.time,
        },
        now,
      );
    }
    this.indexed(e, now, s.steps);
  }

  /** The inbox items the decision's events open or close (engine/inbox.ts). Inside a tx. */
  inbox(s: LoadedState, d: Decision, now: number): void {
    if (d.events.length === 0) return;
    const owner = { tenant: s.execution.tenant, executionId: s.execution.id, workflowId: s.execution.workflowId };
    for (const change of inboxChanges(owner, d.events, d.at ?? now)) this.outbox.enqueueInbox({ ...owner, ...change }, now);
  }
}
