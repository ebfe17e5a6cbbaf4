/**
 * ExecutionObject: one Durable Object per execution. A thin shell: it owns the platform entry
 * points (constructor, RPC methods, alarm) and delegates to the runtime's parts. RPC arguments are
 * parsed again here (`schemas/execution-rpc.ts`) — the Worker is not trusted to have validated
 * them. The Worker calls it through `client.ts`, never by importing this module.
 */
import type { ExecutionCosts } from "../../schemas/costs";
import { DurableObject } from "cloudflare:workers";
import { log } from "../../lib/log";
import { stepKinds } from "../../engine/steps/registry";
import { systemClock } from "../../engine/clock";
import { AuditRow } from "../../schemas/audit";
import type { Execution, StepTrace } from "../../schemas/executions";
import type { MapItemsResult } from "../../schemas/map-items";
import {
  AnswersArgs,
  BudgetId,
  CallbackArgs,
  ChildEndedArgs,
  CreateExecutionArgs,
  DecisionArgs,
  ItemWindow,
  EVENT_SOCKET_PATH,
  EVENT_STREAM_PATH,
  EventWindow,
  RaiseBudgetArgs,
  RequestHash,
  SignalArgs,
  SlotKey,
  StreamArgs,
  Tenant,
  UserCommand,
  WaitMs,
  type AnswerResult,
  type CommandResult,
  type CreateResult,
  type DecisionResult,
  type EventPage,
  type ExistingExecution,
  type RaiseBudgetResult,
  type RetryPreviewResult,
  type RerunResult,
  RerunArgs,
  StepIdArg,
  type SignalResult,
} from "../../schemas/execution-rpc";
import { EventSockets } from "../streams/websocket";
import { eventStreamResponse } from "../streams/sse";
import { Attempts } from "./attempts";
import { Commands } from "./commands";
import { Drive } from "./drive";
import { HumanWaits } from "./human-waits";
import { ReadModel } from "./read-model";
import { ExecutionSlots } from "./slots";
import { Signals } from "./signals";
import { Children } from "./children";
import { executionRpc, type ExecutionRpc } from "./client";
import { concurrencyRpc } from "../concurrency/client";
import { ExecutionRuntime, type RuntimeDeps } from "./runtime";

function logBackgroundFailure(runtime: ExecutionRuntime, what: string, err: unknown): void {
  log("error", `${what} failed in the background`, { error: runtime.maskForLog(err instanceof Error ? err.message : String(err)) });
}

export class ExecutionObject extends DurableObject<Env> implements Record<keyof ExecutionRpc, unknown> {
  readonly runtime: ExecutionRuntime;
  readonly reads: ReadModel;
  readonly commands: Commands;
  readonly humanWaits: HumanWaits;
  readonly drive: Drive;
  readonly slots: ExecutionSlots;
  readonly signals: Signals;
  readonly children: Children;
  readonly attempts: Attempts;
  readonly sockets: EventSockets;
  /**
   * The runtime's dependencies: the platform's by default (system clock, `env.DB`, global `fetch`).
   * The runtime reads them at each use, so one replaced on a live instance (through
   * runInDurableObject) takes effect at once — how tests move an object's clock or make D1 refuse.
   */
  readonly deps: RuntimeDeps;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.deps = {
      sql: ctx.storage.sql,
      storage: ctx.storage,
      env,
      kinds: stepKinds,
      fetch: (input, init) => fetch(input, init),
      clock: systemClock,
      d1: env.DB,
      random: Math.random,
      concurrency: (tenant, key) => concurrencyRpc(env, tenant, key),
      executions: (id) => executionRpc(env, id),
    };
    this.runtime = new ExecutionRuntime(this.deps);
    this.reads = new ReadModel(this.runtime);
    this.commands = new Commands(this.runtime, this.reads);
    this.humanWaits = new HumanWaits(this.runtime);
    this.slots = new ExecutionSlots(this.runtime);
    this.signals = new Signals(this.runtime);
    this.children = new Children(this.runtime);
    this.attempts = new Attempts(this.runtime, this.children);
    this.drive = new Drive(this.runtime, this.attempts, this.humanWaits, this.slots, this.children);
    this.sockets = new EventSockets(ctx, this.reads);
    // Catch up at start-up: an object restarted mid-run re-arms its alarm to resume at once. A new
    // object has nothing to catch up on (and no alarm to delete: that would be a storage write).
    if (this.runtime.exists()) void ctx.blockConcurrencyWhile(() => this.drive.rearm());
  }

  async create(args: unknown): Promise<CreateResult> {
    const parsed = CreateExecutionArgs.parse(args);
    const result = this.commands.create(parsed);
    if (result.kind !== "created") return result;
    // The alarm is armed first, so a crash from here on is recovered by the alarm; then the drive
    // starts right after this answer rather than after an alarm round-trip (an alarm that fires
    // meanwhile joins it). The index row is durable in the outbox; the drive flushes it to D1.
    await this.drive.rearm({ driveStarting: true });
    result.execution = await this.sendSlotMessages(parsed.tenant, result.execution);
    this.driveSoon();
    return result;
  }

  async existing(tenant: unknown, requestHash: unknown): Promise<ExistingExecution | null> {
    return this.reads.existing(Tenant.parse(tenant), RequestHash.parse(requestHash));
  }

  async get(tenant: unknown): Promise<Execution | null> {
    const owner = Tenant.parse(tenant);
    const execution = this.reads.snapshot(owner);
    return execution && this.slots.withCurrentPosition(owner, execution);
  }

  async steps(tenant: unknown): Promise<StepTrace[] | null> {
    return this.reads.trace(Tenant.parse(tenant));
  }

  async retryPreview(tenant: unknown, fromStep: unknown): Promise<RetryPreviewResult> {
    return this.reads.retryPreview(Tenant.parse(tenant), StepIdArg.optional().parse(fromStep));
  }

  async items(tenant: unknown, window: unknown): Promise<MapItemsResult> {
    return this.reads.items(Tenant.parse(tenant), ItemWindow.parse(window));
  }

  async costs(tenant: unknown): Promise<ExecutionCosts | null> {
    return this.reads.costs(Tenant.parse(tenant));
  }

  async events(tenant: unknown, window: unknown): Promise<EventPage | null> {
    const { after, limit } = EventWindow.parse(window);
    return this.reads.eventPage(Tenant.parse(tenant), after, limit);
  }

  async command(tenant: unknown, command: unknown, audit: unknown = null): Promise<CommandResult> {
    return this.carryOn(this.commands.command(Tenant.parse(tenant), UserCommand.parse(command), AuditRow.nullable().parse(audit)));
  }

  async rerun(tenant: unknown, args: unknown, audit: unknown = null): Promise<RerunResult> {
    const { fromStep, newInput } = RerunArgs.parse(args);
    return this.carryOn(await this.commands.rerun(Tenant.parse(tenant), fromStep, newInput, AuditRow.nullable().parse(audit)));
  }

  async answer(tenant: unknown, args: unknown, audit: unknown = null): Promise<AnswerResult> {
    const { stepId, answers } = AnswersArgs.parse(args);
    return this.carryOn(this.humanWaits.answer(Tenant.parse(tenant), stepId, answers, AuditRow.nullable().parse(audit)));
  }

  async decide(tenant: unknown, args: unknown, audit: unknown = null): Promise<DecisionResult> {
    return this.carryOn(this.humanWaits.decide(Tenant.parse(tenant), DecisionArgs.parse(args), AuditRow.nullable().parse(audit)));
  }

  async signal(tenant: unknown, args: unknown, audit: unknown = null): Promise<SignalResult> {
    const { event, data } = SignalArgs.parse(args);
    return this.carryOn(this.signals.receive(Tenant.parse(tenant), event, data, AuditRow.nullable().parse(audit)));
  }

  async callback(tenant: unknown, args: unknown): Promise<SignalResult> {
    const { stepId, attempt, data } = CallbackArgs.parse(args);
    return this.carryOn(this.signals.callback(Tenant.parse(tenant), stepId, attempt, data));
  }

  async raiseBudget(tenant: unknown, args: unknown, audit: unknown = null): Promise<RaiseBudgetResult> {
    const { maxUsd } = RaiseBudgetArgs.parse(args);
    return this.carryOn(this.commands.raiseBudget(Tenant.parse(tenant), maxUsd, AuditRow.nullable().parse(audit)));
  }

  /** Called by a shared budget's object when its limit changed (raised, deleted). */
  async budgetChanged(budgetId: unknown): Promise<void> {
    await this.carryOn(this.commands.budgetChanged(BudgetId.parse(budgetId)));
  }

  /**
   * A concurrency key's object offers the execution its slot, or asks whether it still holds it
   * (true: it does, admitted now if it was queued; false: the slot goes to the next in line).
   */
  async slotGranted(key: unknown): Promise<boolean> {
    const answer = this.slots.offered(SlotKey.parse(key));
    if (answer === "admitted") {
      // Straight to the drive, which flushes the index itself: a flush started first would compete
      // with the first step for the isolate and keep the slot idle meanwhile.
      await this.drive.rearm({ driveStarting: true });
      this.driveSoon();
    }
    return answer !== "refused";
  }

  /**
   * A child execution ended (sent from the child's outbox until acknowledged): the `workflow` step
   * that waits for it moves, once. Any answer acknowledges it.
   */
  async childEnded(args: unknown): Promise<void> {
    const end = ChildEndedArgs.parse(args);
    const applied = end.item === undefined ? this.children.ended(end) : this.attempts.maps.childEnded(this.runtime.owned(end.tenant), { ...end, item: end.item });
    if (applied) await this.carryOn({ ok: true });
  }

  /**
   * After a person's request changed the execution: the alarm is re-armed (so a crash from here on
   * is recovered), the index row is flushed off the response's path (a failed flush is retried by
   * the outbox_flush timer), and work the change unblocked starts now, not after an alarm round-trip.
   */
  private async carryOn<R extends { ok: boolean; execution?: Execution }>(result: R): Promise<R> {
    if (!result.ok) return result;
    await this.drive.rearm({ driveStarting: true });
    if (result.execution) result.execution = await this.sendSlotMessages(this.runtime.load()!.execution.tenant, result.execution);
    void this.drive.flushOutbox().catch((err: unknown) => logBackgroundFailure(this.runtime, "index flush", err));
    this.driveSoon();
    return result;
  }

  /**
   * What the request owes the execution's concurrency key is sent before the answer: a slot asked
   * for (started, approved, retried: the answer says `running` or the place in the queue) or given
   * back (cancelled: the key's queue no longer lists it). A message that fails stays in the outbox,
   * retried by its timer.
   */
  private async sendSlotMessages(tenant: string, execution: Execution): Promise<Execution> {
    if (!this.runtime.load()?.execution.concurrency || this.runtime.outbox.slotMessages().length === 0) return execution;
    await this.slots.deliver();
    await this.drive.rearm({ driveStarting: true });
    return this.reads.snapshot(tenant) ?? execution;
  }

  /**
   * Starts the drive in the next task, not this one: a drive of pure steps never yields, so started
   * here it would hold the RPC's answer until it ends. The armed alarm is the safety net.
   */
  private driveSoon(): void {
    setTimeout(() => void this.drive.run().catch((err: unknown) => logBackgroundFailure(this.runtime, "drive", err)), 0);
  }

  async waitForEnd(tenant: unknown, ms: unknown): Promise<Execution | null> {
    return this.reads.waitForEnd(Tenant.parse(tenant), WaitMs.parse(ms));
  }

  /** Streams only (STYLE: RPC for everything else). The Worker has authenticated the caller. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === EVENT_STREAM_PATH) {
      const { tenant, after } = StreamArgs.parse(Object.fromEntries(url.searchParams));
      return eventStreamResponse(this.reads, tenant, after) ?? new Response(null, { status: 404 });
    }
    if (url.pathname === EVENT_SOCKET_PATH && request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const { tenant, after } = StreamArgs.parse(Object.fromEntries(url.searchParams));
      return this.sockets.accept(tenant, after) ?? new Response(null, { status: 404 });
    }
    return new Response(null, { status: 404 });
  }

  /** Clients have nothing to say; a message is just activity. (Sockets stay hibernatable.) */
  override async webSocketMessage(): Promise<void> {}

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
  }

  override async alarm(): Promise<void> {
    await this.drive.run();
  }
}
