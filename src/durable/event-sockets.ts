/**
 * Hibernatable WebSockets of an execution: each socket's cursor (tenant, last seq sent) is kept in
 * its attachment, so it survives hibernation. Delivery always goes through `catchUp`, which reads
 * the event log from the socket's cursor: a socket that connects, lags, or wakes from hibernation
 * receives every event exactly once, in order. The first message is a snapshot of the execution;
 * the socket closes normally (1000) after the terminal event has been sent.
 *
 * Fan-out: new events are serialised once per commit, not once per socket, and a socket whose
 * cursor is exactly where the commit starts (the usual case) gets them without a log read. Only a
 * socket that lags (or a cursor restored from hibernation that is behind) goes through `catchUp`.
 */
import { isTerminalEvent } from "../engine/state-machine";
import type { ExecutionEvent } from "../schemas/executions";
import type { ExecutionEngine } from "./execution-engine";

const PAGE = 1000;

interface Cursor {
  tenant: string;
  seq: number;
}

export class EventSockets {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly engine: ExecutionEngine,
  ) {
    // Registered by every instance, including one woken from hibernation for a socket event.
    engine.subscribe((events) => this.deliver(events));
  }

  /** Accepts a socket that starts after `after`; null when the execution is not the tenant's. */
  accept(tenant: string, after: number): Response | null {
    const execution = this.engine.snapshot(tenant);
    if (!execution) return null;
    const pair = new WebSocketPair();
    const client = pair[0];
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ tenant, seq: after } satisfies Cursor);
    this.send(server, JSON.stringify({ type: "snapshot", execution }));
    this.catchUp(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Events just committed (consecutive seqs), to every socket. */
  private deliver(events: readonly ExecutionEvent[]): void {
    if (events.length === 0) return;
    const first = events[0]!.seq;
    const last = events[events.length - 1]!.seq;
    const frames = events.map((e) => JSON.stringify(e));
    const ends = isTerminalEvent(events[events.length - 1]!.type);
    // A terminal event is a commit's last; were one in the middle, `catchUp` would stop there.
    const endsInside = events.slice(0, -1).some((e) => isTerminalEvent(e.type));
    for (const ws of this.ctx.getWebSockets()) {
      const cursor = ws.deserializeAttachment() as Cursor | null;
      if (!cursor) continue;
      if (cursor.seq !== first - 1 || endsInside) {
        this.catchUp(ws); // behind (or ahead): the log decides what it still needs
        continue;
      }
      let sent = true;
      for (const frame of frames) if (!(sent = this.send(ws, frame))) break;
      if (!sent) continue; // gone; its close handler cleans up
      cursor.seq = last;
      ws.serializeAttachment(cursor);
      if (ends) this.close(ws);
    }
  }

  /** Sends the socket every event after its cursor; closes it after the terminal event. */
  catchUp(ws: WebSocket): void {
    const cursor = ws.deserializeAttachment() as Cursor | null;
    if (!cursor) return;
    for (;;) {
      const page = this.engine.eventPage(cursor.tenant, cursor.seq, PAGE);
      if (!page || page.items.length === 0) {
        if (page?.terminal) this.close(ws);
        return;
      }
      for (const e of page.items) {
        if (!this.send(ws, JSON.stringify(e))) return;
        cursor.seq = e.seq;
        if (isTerminalEvent(e.type)) {
          ws.serializeAttachment(cursor);
          this.close(ws);
          return;
        }
      }
      ws.serializeAttachment(cursor);
      if (page.items.length < PAGE) return;
    }
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
