/** Reads a Server-Sent Events response frame by frame; every read rejects after a timeout. */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = "";
  done = false;

  constructor(res: Response) {
    if (!res.body) throw new Error("response has no body");
    this.reader = res.body.getReader();
  }

  /** The next frame, or null when the stream ended. */
  async next(timeoutMs = 5_000): Promise<SseFrame | null> {
    for (;;) {
      const end = this.buffer.indexOf("\n\n");
      if (end >= 0) {
        const raw = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return parseFrame(raw);
      }
      if (this.done) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no SSE frame within ${timeoutMs} ms`)), timeoutMs);
      });
      const { value, done } = await Promise.race([this.reader.read(), timeout]).finally(() => {
        if (timer !== undefined) clearTimeout(timer);
      });
      if (done) this.done = true;
      else this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** Event frames (comments skipped) until one satisfies `stop` (inclusive) or the stream ends. */
  async eventsUntil(stop: (f: SseFrame) => boolean, timeoutMs = 5_000): Promise<SseFrame[]> {
    const out: SseFrame[] = [];
    for (;;) {
      const f = await this.next(timeoutMs);
      if (!f) return out;
      if (f.comment !== undefined && f.event === undefined) continue;
      out.push(f);
      if (stop(f)) return out;
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel();
  }
}

function parseFrame(raw: string): SseFrame {
  const f: SseFrame = {};
  for (const line of raw.split("\n")) {
    if (line.startsWith(":")) f.comment = line.slice(1).trim();
    else {
      const colon = line.indexOf(":");
      const field = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, "");
      if (field === "id" || field === "event" || field === "data") f[field] = value;
    }
  }
  return f;
}
