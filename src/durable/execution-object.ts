/**
 * ExecutionObject: one Durable Object per execution. A thin shell: it owns the platform entry
 * points (constructor, RPC methods, alarm) and delegates to ExecutionEngine. RPC arguments are
 * parsed again here — the Worker is not trusted to have validated them.
 */
import { DurableObject } from "cloudflare:workers";
import { log } from "../lib/log";
import { stepRunners } from "../engine/steps/registry";
import type { Execution, ExecutionEvent, StepTrace } from "../schemas/executions";
import { ExecutionEngine, type AnswerResult, type CommandResult, type CreateResult, type DecisionArgs, type ExistingExecution, type DecisionResult } from "./execution-engine";
import type { AuditRow } from "./outbox";
import { EventSockets } from "./event-sockets";
import { eventStreamResponse } from "./event-stream";
import { AnswersArgs, AuditRowArgs, DecisionArgs as DecisionArgsSchema, CreateExecutionArgs, EVENT_SOCKET_PATH, EVENT_STREAM_PATH, EventWindow, RequestHash, StreamArgs, Tenant, UserCommand, WaitMs } from "./rpc";

/**
 * The RPC surface the Worker calls. (Typed by hand: the generated stub type turns results that
 * carry `unknown` JSON — input, output — into `never`.)
 */
export interface ExecutionRpc {
  create(args: CreateExecutionArgs): Promise<CreateResult>;
  existing(tenant: string, requestHash: string): Promise<ExistingExecution | null>;
  get(tenant: string): Promise<Execution | null>;
  steps(tenant: string): Promise<StepTrace[] | null>;
  events(tenant: string, window: { after: number; limit: number }): Promise<{ items: ExecutionEvent[]; terminal: boolean } | null>;
  command(tenant: string, command: UserCommand, audit: AuditRow | null): Promise<CommandResult>;
  answer(tenant: string, args: { stepId: string; answers: Record<string, unknown> }, audit: AuditRow | null): Promise<AnswerResult>;
  decide(tenant: string, args: DecisionArgs, audit: AuditRow | null): Promise<DecisionResult>;
  waitForEnd(tenant: string, ms: number): Promise<Execution | null>;
  /** Streams (SSE) — see `eventStreamRequest`. */
  fetch(request: Request): Promise<Response>;
}

/** The request the Worker sends the object for an event stream (the caller is already authenticated). */
export function eventStreamRequest(tenant: string, after: number): Request {
  return streamRequest(EVENT_STREAM_PATH, tenant, after, { accept: "text/event-stream" });
}

/** The upgrade request the Worker sends the object for a WebSocket (the caller is already authenticated). */
export function eventSocketRequest(tenant: string, after: number): Request {
  return streamRequest(EVENT_SOCKET_PATH, tenant, after, { upgrade: "websocket" });
}

function streamRequest(path: string, tenant: string, after: number, headers: Record<string, string>): Request {
  const url = new URL(`https://execution${path}`);
  url.searchParams.set("tenant", tenant);
  url.searchParams.set("after", String(after));
  return new Request(url, { headers });
}

export function executionRpc(env: Env, id: string): ExecutionRpc {
  return env.EXECUTIONS.getByName(id) as unknown as ExecutionRpc;
}

function logBackgroundFailure(engine: ExecutionEngine, what: string, err: unknown): void {
  log("error", `${what} failed in the background`, { error: engine.maskForLog(err instanceof Error ? err.message : String(err)) });
}

export class ExecutionObject extends DurableObject<Env> implements Record<keyof ExecutionRpc, unknown> {
  readonly engine: ExecutionEngine;
  readonly sockets: EventSockets;
  /**
   * Added to the wall clock. Tests move time forward with it (through runInDurableObject) instead
   * of sleeping; it is never set in production.
   */
  clockSkewMs = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.engine = new ExecutionEngine({
      sql: ctx.storage.sql,
      storage: ctx.storage,
      env,
      runners: stepRunners,
      fetch: (input, init) => fetch(input, init),
      now: () => Date.now() + this.clockSkewMs,
      clockSkewMs: () => this.clockSkewMs,
      random: Math.random,
    });
    this.sockets = new EventSockets(ctx, this.engine);
    // Catch up at start-up: an object restarted mid-run re-arms its alarm to resume at once. A new
    // object has nothing to catch up on (and no alarm to delete: that would be a storage write).
    if (this.engine.exists()) void ctx.blockConcurrencyWhile(() => this.engine.rearm());
  }

  async create(args: unknown): Promise<CreateResult> {
    const result = this.engine.create(CreateExecutionArgs.parse(args));
    if (result.kind === "created") {
      // The alarm is armed first, so a crash from here on is recovered by the alarm; then the drive
      // starts right after this answer rather than after an alarm round-trip (an alarm that fires
      // meanwhile joins it).
      // The index row is durable in the outbox; the drive flushes it to D1.
      await this.engine.rearm({ driveStarting: true });
      this.driveSoon();
    }
    return result;
  }

  async existing(tenant: unknown, requestHash: unknown): Promise<ExistingExecution | null> {
    return this.engine.existing(Tenant.parse(tenant), RequestHash.parse(requestHash));
  }

  async get(tenant: unknown): Promise<Execution | null> {
    return this.engine.snapshot(Tenant.parse(tenant));
  }

  async steps(tenant: unknown): Promise<StepTrace[] | null> {
    return this.engine.trace(Tenant.parse(tenant));
  }

  async events(tenant: unknown, window: unknown): Promise<{ items: ExecutionEvent[]; terminal: boolean } | null> {
    const { after, limit } = EventWindow.parse(window);
    return this.engine.eventPage(Tenant.parse(tenant), after, limit);
  }

  async command(tenant: unknown, command: unknown, audit: unknown = null): Promise<CommandResult> {
    return this.carryOn(this.engine.command(Tenant.parse(tenant), UserCommand.parse(command), AuditRowArgs.nullable().parse(audit)));
  }

  async answer(tenant: unknown, args: unknown, audit: unknown = null): Promise<AnswerResult> {
    const { stepId, answers } = AnswersArgs.parse(args);
    return this.carryOn(this.engine.answer(Tenant.parse(tenant), stepId, answers, AuditRowArgs.nullable().parse(audit)));
  }

  async decide(tenant: unknown, args: unknown, audit: unknown = null): Promise<DecisionResult> {
    return this.carryOn(this.engine.decide(Tenant.parse(tenant), DecisionArgsSchema.parse(args), AuditRowArgs.nullable().parse(audit)));
  }

  /**
   * After a person's request changed the execution: the alarm is re-armed (so a crash from here on
   * is recovered), the index row is flushed off the response's path (a failed flush is retried by
   * the outbox_flush timer), and work the change unblocked starts now, not after an alarm round-trip.
   */
  private async carryOn<R extends { ok: boolean }>(result: R): Promise<R> {
    if (!result.ok) return result;
    await this.engine.rearm({ driveStarting: true });
    void this.engine.flushOutbox().catch((err: unknown) => logBackgroundFailure(this.engine, "index flush", err));
    this.driveSoon();
    return result;
  }

  /**
   * Starts the drive in the next task, not this one: a drive of pure steps never yields, so started
   * here it would hold the RPC's answer until it ends. The armed alarm is the safety net.
   */
  private driveSoon(): void {
    setTimeout(() => void this.engine.run().catch((err: unknown) => logBackgroundFailure(this.engine, "drive", err)), 0);
  }

  async waitForEnd(tenant: unknown, ms: unknown): Promise<Execution | null> {
    return this.engine.waitForEnd(Tenant.parse(tenant), WaitMs.parse(ms));
  }

  /** Streams only (STYLE: RPC for everything else). The Worker has authenticated the caller. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === EVENT_STREAM_PATH) {
      const { tenant, after } = StreamArgs.parse(Object.fromEntries(url.searchParams));
      return eventStreamResponse(this.engine, tenant, after) ?? new Response(null, { status: 404 });
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
    await this.engine.run();
  }
}
