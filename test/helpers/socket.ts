/** A WebSocket test client over the real Worker; every wait rejects after a timeout. */
import { exports } from "cloudflare:workers";

export interface SocketMessage {
  type: string;
  seq?: number;
  step_id?: string;
  data?: Record<string, unknown>;
  execution?: { id: string; status: string };
}

export class SocketClient {
  private readonly queue: SocketMessage[] = [];
  private readonly waiters: (() => void)[] = [];
  closeCode: number | null = null;

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (e) => {
      this.queue.push(JSON.parse(e.data as string) as SocketMessage);
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closeCode = e.code;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next message, or null once the socket closed with nothing left. */
  async next(timeoutMs = 5_000): Promise<SocketMessage | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.closeCode !== null) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no WebSocket message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.queue.shift()!;
  }

  /** Messages until one satisfies `stop` (inclusive) or the socket closes. */
  async until(stop: (m: SocketMessage) => boolean, timeoutMs = 5_000): Promise<SocketMessage[]> {
    const out: SocketMessage[] = [];
    for (;;) {
      const m = await this.next(timeoutMs);
      if (!m) return out;
      out.push(m);
      if (stop(m)) return out;
    }
  }
}

/** Opens `/v1/executions/{id}/ws`; returns the raw response when it is not an upgrade. */
export async function openSocket(id: string, auth: { key?: string; token?: string }, after?: number): Promise<SocketClient | Response> {
  const q = new URLSearchParams();
  if (after !== undefined) q.set("after", String(after));
  if (auth.token) q.set("token", auth.token);
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (auth.key) headers.authorization = `Bearer ${auth.key}`;
  const res = await exports.default.fetch(new Request(`http://stepline.test/v1/executions/${id}/ws?${q}`, { headers }));
  if (res.status !== 101 || !res.webSocket) return res;
  return new SocketClient(res.webSocket);
}

export function asClient(x: SocketClient | Response): SocketClient {
  if (x instanceof Response) throw new Error(`expected a WebSocket, got ${x.status}`);
  return x;
}
