/**
 * Stepline's typed client. `api` is every route, typed from the published /openapi.json
 * (openapi-fetch over the types openapi-typescript generates into ./schema.ts); on top of it:
 *
 * - `startAndWait(body)`: starts an execution and resolves with it once it has ended.
 * - `watch(id, { after })`: the execution's events over its WebSocket as an async iterator, from
 *   `seq > after`. A socket that drops is opened again from the last `seq` received, so the
 *   events come in order, each once, until the execution's terminal event.
 *
 * Runs wherever `fetch` and `WebSocket` exist (browsers, Node 22, workers).
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type { components, paths };
export type Execution = components["schemas"]["Execution"];
export type ExecutionEvent = components["schemas"]["Event"];
export type StartExecution = components["schemas"]["StartExecution"];
export type Problem = components["schemas"]["Problem"];

/** An answer that is not a success: its problem details (RFC 9457) and HTTP status. */
export class SteplineError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> & { code?: string },
  ) {
    super(`${status} ${problem.code ?? ""}: ${problem.detail ?? problem.title ?? "request failed"}`.trim());
  }
}

export interface SteplineOptions {
  /** The service's origin, e.g. `http://127.0.0.1:8787`. */
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
  /** The WebSocket class `watch` opens (the global one by default). */
  WebSocket?: typeof WebSocket;
}

const TERMINAL = new Set(["execution.completed", "execution.partial", "execution.failed", "execution.cancelled", "execution.timed_out", "execution.rejected"]);
const ENDED = new Set(["completed", "partial", "failed", "cancelled", "timed_out", "rejected"]);

/** Whether an execution's status is an end (nothing more happens unless it is retried). */
export function isEnded(status: string): boolean {
  return ENDED.has(status);
}

/** The data of a typed call that succeeded; otherwise its problem, thrown as a SteplineError. */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (data === undefined || !response.ok) throw new SteplineError(response.status, (error ?? {}) as Partial<Problem>);
  return data;
}

export function createStepline(opts: SteplineOptions) {
  const api = createClient<paths>({ baseUrl: opts.baseUrl, headers: { authorization: `Bearer ${opts.apiKey}` }, ...(opts.fetch ? { fetch: opts.fetch } : {}) });

  /** Starts an execution and waits for its end (the service holds each request up to 30 s). */
  async function startAndWait(body: StartExecution, options: { timeoutSeconds?: number; idempotencyKey?: string } = {}): Promise<Execution> {
    const deadline = Date.now() + (options.timeoutSeconds ?? 300) * 1000;
    const wait = () => Math.max(0, Math.min(30, Math.ceil((deadline - Date.now()) / 1000)));
    let execution: Execution = await must(
      api.POST("/v1/executions", {
        body,
        params: { query: { wait: wait() } },
        ...(options.idempotencyKey ? { headers: { "idempotency-key": options.idempotencyKey } } : {}),
      }),
    );
    while (!isEnded(execution.status)) {
      if (Date.now() >= deadline) throw new Error(`execution ${execution.id} has not ended (status ${execution.status})`);
      await new Promise((r) => setTimeout(r, 250));
      execution = await must(api.GET("/v1/executions/{id}", { params: { path: { id: execution.id } } }));
    }
    return execution;
  }

  /** One socket's messages, queued for the iterator; `closed` once the socket closes. */
  function open(url: string) {
    const Socket = opts.WebSocket ?? WebSocket;
    const ws = new Socket(url);
    const queue: unknown[] = [];
    let wake: (() => void) | null = null;
    let closed: { code: number } | null = null;
    const notify = () => {
      wake?.();
      wake = null;
    };
    ws.addEventListener("message", (m) => {
      queue.push(JSON.parse(String((m as MessageEvent).data)));
      notify();
    });
    ws.addEventListener("close", (e) => {
      closed = { code: (e as CloseEvent).code };
      notify();
    });
    ws.addEventListener("error", () => undefined); // a close follows
    return {
      ws,
      async next(): Promise<unknown | null> {
        while (queue.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
        return queue.shift() ?? null;
      },
    };
  }

  /** The execution's events with `seq > after`, in order, each once, across dropped sockets, until its terminal event. */
  async function* watch(id: string, options: { after?: number; signal?: AbortSignal } = {}): AsyncGenerator<ExecutionEvent> {
    let last = options.after ?? 0;
    for (let drops = 0; ; drops++) {
      if (options.signal?.aborted) return;
      const token = await must(api.POST("/v1/executions/{id}/stream-token", { params: { path: { id } } }));
      const url = new URL(`/v1/executions/${encodeURIComponent(id)}/ws`, opts.baseUrl.replace(/^http/, "ws"));
      url.searchParams.set("token", token.token);
      url.searchParams.set("after", String(last));
      const socket = open(url.toString());
      const abort = () => socket.ws.close(1000);
      options.signal?.addEventListener("abort", abort, { once: true });
      try {
        for (;;) {
          const message = (await socket.next()) as (ExecutionEvent & { type: string }) | { type: "snapshot" } | null;
          if (message === null) break; // the socket closed: open another from `last`
          if (message.type === "snapshot" || !("seq" in message) || message.seq <= last) continue;
          last = message.seq;
          yield message;
          if (TERMINAL.has(message.type)) return;
        }
      } finally {
        options.signal?.removeEventListener("abort", abort);
        socket.ws.close(1000);
      }
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** Math.min(drops, 6))));
    }
  }

  return { api, startAndWait, watch };
}

export type Stepline = ReturnType<typeof createStepline>;
