/**
 * The execution's side of its concurrency key (SPEC §8; the key's object is durable/concurrency/).
 * The runtime enqueues a slot request on every move into `queued` and a release on every end of an
 * execution that held or wanted a slot, in the transition's transaction (runtime.ts). Here they
 * are delivered, in order, each removed from the outbox only once the key's object answered: a
 * release that fails is retried with the outbox's backoff until it lands. The key's object, for
 * its part, offers a granted slot (and asks a holder whether it still holds one) through
 * `slotGranted` → `offered`.
 */
import { OneAtATime } from "../../lib/one-at-a-time";
import { decideAdmit, holdsSlot, slotWaitingFor } from "../../engine/slots";
import type { AcquireResult, ConcurrencyRpc } from "../concurrency/client";
import type { SlotPayload } from "../storage/outbox";
import type { ExecutionRuntime } from "./runtime";
import type { Execution } from "../../schemas/executions";

export class ExecutionSlots {
  private readonly sending = new OneAtATime<boolean>();
  /** Calls to the key's object since this instance started (reported with the billed rows). */
  keyCalls = 0;

  constructor(private readonly rt: ExecutionRuntime) {}

  /** Sends the slot messages in order; resolves false when one failed (it and the rest wait for the retry). */
  async deliver(): Promise<boolean> {
    return this.sending.run(() => this.send());
  }

  private send(): Promise<boolean> {
    return this.rt.outbox.sendInOrder(this.rt.outbox.slotMessages(), async (m) => {
      const p = JSON.parse(m.payload) as SlotPayload;
      const key: ConcurrencyRpc = this.rt.deps.concurrency(p.tenant, p.key);
      this.keyCalls += 1;
      if (m.kind === "slot_acquire") this.acquired(await key.acquire({ tenant: p.tenant, key: p.key, executionId: p.executionId, limit: p.limit, priority: p.priority }));
      else await key.release({ tenant: p.tenant, key: p.key, executionId: p.executionId });
    });
  }

  /** The key's object answered a slot request: admitted now, or queued at a position. */
  private acquired(r: AcquireResult): void {
    const s = this.rt.load();
    if (!s || s.execution.status !== "queued" || !s.execution.concurrency) return; // ended meanwhile: its release follows
    if (r.granted) {
      this.rt.apply(s, decideAdmit(s.execution, this.rt.deps.clock.now()));
      return;
    }
    const waitingFor = slotWaitingFor(s.execution.concurrency.key, r.position);
    if (s.execution.waitingFor?.position !== r.position) this.rt.patchExecution(s, { waitingFor });
  }

  /**
   * A queued execution as read now: its position asked of the key's object (queues move between
   * reads without telling every waiter). If the key's object cannot answer, the last known one.
   */
  async withCurrentPosition(tenant: string, e: Execution): Promise<Execution> {
    const w = e.waiting_for;
    if (w?.kind !== "slot" || typeof w.key !== "string") return e;
    try {
      const position = await this.rt.deps.concurrency(tenant, w.key).position(e.id);
      return position === null ? e : { ...e, waiting_for: slotWaitingFor(w.key, position) };
    } catch {
      return e;
    }
  }

  /**
   * The key's object offers its slot (a grant), or asks whether the execution still holds it (its
   * sweep). `held`: it holds it; `admitted`: it was queued and holds it from now. `refused`: the
   * slot is not wanted (the execution ended, or never asked for this key) and goes to the next in
   * line. A queued execution whose release of an earlier run is still on its way says no: the slot
   * offered is that run's, and the new run's request follows the release.
   */
  offered(key: string): "admitted" | "held" | "refused" {
    const s = this.rt.load();
    const e = s?.execution;
    if (!s || !e || e.concurrency?.key !== key) return "refused";
    if (e.status !== "queued") return holdsSlot(e, key) ? "held" : "refused";
    if (this.rt.outbox.slotMessages().some((m) => m.kind === "slot_release")) return "refused";
    this.rt.apply(s, decideAdmit(e, this.rt.deps.clock.now()));
    return "admitted";
  }
}
