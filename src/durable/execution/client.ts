/**
 * The Worker's side of the execution Durable Object: its RPC surface and the requests for its two
 * streams. The API and the services reach an execution through this module only; the object's
 * internals (runtime, stores, outbox) stay behind it. Imports nothing from `durable/` but schemas.
 */
import type { AuditRow } from "../../schemas/audit";
import type { ExecutionCosts } from "../../schemas/costs";
import type { Execution, StepTrace } from "../../schemas/executions";
import type { MapItemsResult, MapItemWindow } from "../../schemas/map-items";
import {
  EVENT_SOCKET_PATH,
  EVENT_STREAM_PATH,
  type AnswerResult,
  type AnswersArgs,
  type CommandResult,
  type CreateExecutionArgs,
  type CreateResult,
  type DecisionArgs,
  type DecisionResult,
  type EventPage,
  type EventWindow,
  type ExistingExecution,
  type RaiseBudgetResult,
  type SignalArgs,
  type CallbackArgs,
  type ChildEndedArgs,
  type SignalResult,
  type RetryPreviewResult,
  type RerunArgs,
  type RerunResult,
  type UserCommand,
} from "../../schemas/execution-rpc";

/**
 * The RPC surface the Worker calls. (Typed by hand: the generated stub type turns results that
 * carry `unknown` JSON — input, output — into `never`.)
 */
export interface ExecutionRpc {
  create(args: CreateExecutionArgs): Promise<CreateResult>;
  existing(tenant: string, requestHash: string): Promise<ExistingExecution | null>;
  get(tenant: string): Promise<Execution | null>;
  steps(tenant: string): Promise<StepTrace[] | null>;
  /** A retry from a step (with a new input when `newInput` is given). */
  rerun(tenant: string, args: RerunArgs, audit: AuditRow | null): Promise<RerunResult>;
  /** What a retry (from a step, when given) would run again. */
  retryPreview(tenant: string, fromStep: string | undefined): Promise<RetryPreviewResult>;
  /** A page of a map step's items. */
  items(tenant: string, window: MapItemWindow): Promise<MapItemsResult>;
  costs(tenant: string): Promise<ExecutionCosts | null>;
  events(tenant: string, window: EventWindow): Promise<EventPage | null>;
  command(tenant: string, command: UserCommand, audit: AuditRow | null): Promise<CommandResult>;
  answer(tenant: string, args: AnswersArgs, audit: AuditRow | null): Promise<AnswerResult>;
  decide(tenant: string, args: DecisionArgs, audit: AuditRow | null): Promise<DecisionResult>;
  waitForEnd(tenant: string, ms: number): Promise<Execution | null>;
  /** A signal for the execution's event steps (delivered to the step waiting for it, or kept). */
  signal(tenant: string, args: SignalArgs, audit: AuditRow | null): Promise<SignalResult>;
  /** A callback for one attempt of one event step, its token verified. */
  callback(tenant: string, args: CallbackArgs): Promise<SignalResult>;
  raiseBudget(tenant: string, args: { maxUsd: number }, audit: AuditRow | null): Promise<RaiseBudgetResult>;
  /** A shared budget's object tells the execution its limit changed. */
  budgetChanged(budgetId: string): Promise<void>;
  /**
   * A concurrency key's object offers the execution its slot, or asks whether it still holds it:
   * true when it holds it now, false when the slot goes to the next in line.
   */
  slotGranted(key: string): Promise<boolean>;
  /** A child execution tells its parent it ended (from its outbox, until acknowledged). */
  childEnded(args: ChildEndedArgs): Promise<void>;
  /** Streams (SSE, WebSocket) — see `eventStreamRequest`, `eventSocketRequest`. */
  fetch(request: Request): Promise<Response>;
}

/** The execution's object, by its id (`getByName`: one object per execution id). */
export function executionRpc(env: Env, id: string): ExecutionRpc {
  return env.EXECUTIONS.getByName(id) as unknown as ExecutionRpc;
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
