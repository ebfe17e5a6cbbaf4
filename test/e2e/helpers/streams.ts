/** WebSocket and SSE readers for the e2e suite (Node 22's global WebSocket and fetch streams). */
import { baseUrl } from "./client";

export interface StreamEvent {
  seq: number;
  type: string;
  step_id?: string;
  data: Record<string, unknown>;
}

/** Reads `/events` as Server-Sent Events until the stream ends; returns the frames' events and ids. */
export async function readSse(
  path: string,
  headers: Record<string, string>,
  ms = 20_000,
): Promise<{ status: number; contentType: string | null; headers: Headers; events: StreamEvent[]; ids: string[] }> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { accept: "text/event-stream", ...headers }, signal: AbortSignal.timeout(ms) });
  if (res.status !== 200 || !res.body) return { status: res.status, contentType: res.headers.get("content-type"), headers: res.headers, events: [], ids: [] };
  const text = await res.text(); // the service ends the stream after the terminal event
  const events: StreamEvent[] = [];
  const ids: string[] = [];
  for (const frame of text.split("\n\n")) {
    const data = frame
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trim())
      .join("\n");
    const id = /^id:\s*(.*)$/m.exec(frame)?.[1];
    if (!data) continue;
    events.push(JSON.parse(data) as StreamEvent);
    if (id !== undefined) ids.push(id);
  }
  return { status: res.status, contentType: res.headers.get("content-type"), headers: res.headers, events, ids };
}

/** Opens the execution's WebSocket and collects messages until the server closes it. */
export function readSocket(path: string, ms = 20_000): Promise<{ messages: Record<string, unknown>[]; code: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}${path}`);
    const messages: Record<string, unknown>[] = [];
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`the socket ${path} did not close within ${ms} ms (${messages.length} messages)`));
    }, ms);
    ws.addEventListener("message", (m) => messages.push(JSON.parse(String(m.data)) as Record<string, unknown>));
    ws.addEventListener("close", (e) => {
      clearTimeout(timer);
      resolve({ messages, code: e.code });
    });
    ws.addEventListener("error", () => undefined); // a refused upgrade is reported by close
  });
}
