/**
 * Hibernatable WebSockets of an execution. The first message is a snapshot of the execution, then
 * every event after the client's `after` — replayed from the log, then live — and the socket
 * closes normally (1000) after the terminal event has been sent.
 *
 * No per-socket cursor is needed: replay runs to the head of the log in one synchronous pass at
 * accept, and every commit's events are sent to every open socket synchronously right after the
 * commit (the output gate holds the frames until the commit is durable). So at the end of any
 * turn every open socket has been sent exactly the events in the log, in order — also across
 * hibernation: an object that wakes sends only events committed after it woke. This keeps fan-out
 * cheap: a commit's events are serialised once and sent to each socket, with no log read and no
 * attachment (de)serialisation per socket.
 */
import { isTerminalEvent } from "../../engine/state-machine";
import type { ExecutionEvent } from "../../schemas/executions";
import type { ReadModel } from "../execution/read-model";

const PAGE = 1000;

export class EventSockets {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly reads: ReadModel,
  ) {
    // Registered by every instance, including one woken from hibernation for a socket event.
    reads.subscribe((events) => this.deliver(events));
  }

  /** Accepts a socket that starts after `after`; null when the execution is not the tenant's. */
  accept(tenant: string, after: number): Response | null {
    const execution = this.reads.snapshot(tenant);
    if (!execution) return null;
    const pair = new WebSocketPair();
    const client = pair[0];
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    this.send(server, JSON.stringify({ type: "snapshot", execution }));
    this.replay(server, tenant, after);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Sends every event after `after`, up to the head of the log; closes after the terminal event. */
  private replay(ws: WebSocket, tenant: string, after: number): void {
    let seq = after;
    for (;;) {
      const page = this.reads.eventPage(tenant, seq, PAGE);
      if (!page || page.items.length === 0) {
        if (page?.terminal) this.close(ws);
        return;
      }
      for (const e of page.items) {
        if (!this.send(ws, JSON.stringify(e))) return;
        seq = e.seq;
        if (isTerminalEvent(e.type)) {
          this.close(ws);
          return;
        }
      }
      if (page.items.length < PAGE) return;
    }
  }

  /** Events just committed (consecutive seqs, a terminal event only last), to every open socket. */
  private deliver(events: readonly ExecutionEvent[]): void {
    if (events.length === 0) return;
    const sockets = this.ctx.getWebSockets();
    const gone = new Set<WebSocket>();
    // Event by event across all sockets (not socket by socket): the first event of a commit reaches
    // the last socket after one send per socket, not after all of the commit's frames to the others.
    for (const e of events) {
      const frame = JSON.stringify(e);
      for (const ws of sockets) if (!gone.has(ws) && !this.send(ws, frame)) gone.add(ws);
    }
    if (isTerminalEvent(events[events.length - 1]!.type)) for (const ws of sockets) if (!gone.has(ws)) this.close(ws);
  }

  /** A send to a socket that went away must not break delivery to the others. */
  private send(ws: WebSocket, data: string): boolean {
    try {
      ws.send(data);
      return true;
    } catch {
      return false;
    }
  }

  private close(ws: WebSocket): void {
    try {
      ws.close(1000, "execution ended");
    } catch {
      // already closing
    }
  }
}
