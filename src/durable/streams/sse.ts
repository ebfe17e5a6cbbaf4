/**
 * Server-Sent Events of an execution, served by its Durable Object: the event log replayed from
 * `after`, then live events as they commit, keepalive comments meanwhile, and the end of the
 * stream after the terminal event. Frames are `id: <seq>`, `event: <type>`, `data: <event JSON>`
 * (the same Event shape as the JSON page), so EventSource resumes with Last-Event-ID.
 */
import { isTerminalEvent } from "../../engine/state-machine";
import type { ExecutionEvent } from "../../schemas/executions";
import type { ReadModel } from "../execution/read-model";

const REPLAY_PAGE = 1000;
export const SSE_KEEPALIVE_MS = 15_000;

export function sseFrame(e: ExecutionEvent): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** The SSE response, or null when the execution does not exist for this tenant. */
export function eventStreamResponse(reads: ReadModel, tenant: string, after: number): Response | null {
  if (!reads.snapshot(tenant)) return null;
  const encoder = new TextEncoder();
  let cleanup = (): void => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let cursor = after;
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        cleanup();
        controller.close();
      };
      const send = (e: ExecutionEvent): void => {
        if (closed || e.seq <= cursor) return; // never a duplicate
        cursor = e.seq;
        controller.enqueue(encoder.encode(sseFrame(e)));
        if (isTerminalEvent(e.type)) close();
      };
      // Replay, then subscribe, in one synchronous block: no event can be committed in between,
      // so the stream has no gap between replay and live.
      for (;;) {
        const page = reads.eventPage(tenant, cursor, REPLAY_PAGE);
        if (!page) return close();
        page.items.forEach(send);
        if (closed) return;
        if (page.terminal) return close(); // resumed after the end: nothing more will come
        if (page.items.length < REPLAY_PAGE) break;
      }
      const unsubscribe = reads.subscribe((events) => events.forEach(send));
      const keepalive = setInterval(() => {
        if (!closed) controller.enqueue(encoder.encode(": keepalive\n\n"));
      }, SSE_KEEPALIVE_MS);
      cleanup = () => {
        unsubscribe();
        clearInterval(keepalive);
      };
    },
    cancel() {
      cleanup(); // the client went away
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" },
  });
}
