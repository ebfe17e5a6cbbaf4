/**
 * Messages an execution owes other objects, enqueued in the outbox by the move that owes them, in
 * its transaction (so no decision can forget one): a slot asked for or given back (its concurrency
 * key's object), a child started or cancelled (the child's), its own end (its parent's). Sent by
 * execution/slots.ts and execution/children.ts, each removed only once acknowledged.
 */
import { awaitedChild } from "../../engine/children";
import type { CreateExecutionArgs } from "../../schemas/execution-rpc";
import type { CancelPayload, ChildMessageKind, EndedPayload, Outbox, SlotMessageKind, SlotPayload } from "../storage/outbox";
import type { ExecutionRecord, StepRecord } from "../storage/state-store";
import type { Timers } from "../storage/timer-store";
import type { LoadedState } from "./loaded-state";

export class OwedMessages {
  /** A child message was enqueued since the drive last sent them (a child waits for its start meanwhile). */
  childMessagesOwed = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly timers: Timers,
  ) {}

  /** A slot request or release for the execution's key (none without a key). */
  slot(e: ExecutionRecord, kind: SlotMessageKind, now: number): void {
    const c = e.concurrency;
    if (!c) return;
    const payload: SlotPayload = { tenant: e.tenant, key: c.key, executionId: e.id, limit: c.limit, priority: c.priority };
    this.outbox.enqueueSlot(kind, payload, now);
    this.timers.setIfUnset("outbox_flush", now + 1_000); // safety net; cleared once everything is delivered
  }

  /** A child to start (a `workflow` step's outcome). */
  childStart(start: CreateExecutionArgs, now: number): void {
    this.child("child_start", start, now);
  }

  /**
   * A step that waits for its child is cancelled (its execution ended or was cancelled): the child
   * is cancelled too, unless the step says `parent_close: abandon`. Called before the step's move.
   */
  closeChild(s: LoadedState, st: StepRecord, now: number): void {
    const def = s.defs.get(st.id);
    if (st.status !== "waiting" || def?.type !== "workflow" || def.parent_close === "abandon") return;
    const childId = awaitedChild(st.output);
    if (childId !== null) this.childCancel(s.execution.tenant, childId, now);
  }

  /** A child to cancel. */
  childCancel(tenant: string, childId: string, now: number): void {
    this.child("child_cancel", { tenant, childId } satisfies CancelPayload, now);
  }

  /** This child's end, for its parent. */
  childEnded(e: ExecutionRecord, now: number): void {
    const p = e.parent!;
    const payload: EndedPayload = {
      parentId: p.executionId,
      tenant: e.tenant,
      stepId: p.stepId,
      attempt: p.attempt,
      ...(p.item !== undefined ? { item: p.item } : {}),
      childId: e.id,
      status: e.status as EndedPayload["status"],
      output: e.output ?? null,
      error: e.error as EndedPayload["error"],
    };
    this.child("child_ended", payload, now);
  }

  private child(kind: ChildMessageKind, payload: unknown, now: number): void {
    this.outbox.enqueueChild(kind, payload, now);
    this.childMessagesOwed = true;
    this.timers.setIfUnset("outbox_flush", now + 1_000); // safety net; cleared once everything is delivered
  }
}
