// Serves a fetch handler (`(request: Request) => Response`, as a Worker's) with Node's http server
// on a loopback address. `npm start` runs the examples' demo upstream with it, and the e2e suite
// runs the test upstream (test/upstream/worker.mjs) the same way, so both are real HTTP servers
// that wrangler dev's outbound fetches reach over loopback.
import { createServer } from "node:http";
import { Readable } from "node:stream";

/**
 * Listens on `host:port` (port 0 picks a free one) and resolves to `{ server, port, url }`.
 * A client that goes away aborts the request's signal, as it would on Workers.
 */
export function serveFetch(handler, { host = "127.0.0.1", port = 0 } = {}) {
  const server = createServer(async (req, res) => {
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
      }
      const request = new Request(`http://${req.headers.host ?? `${host}:${port}`}${req.url}`, {
        method: req.method,
        headers,
        body: hasBody ? Readable.toWeb(req) : undefined,
        duplex: "half",
        signal: controller.signal,
      });
      const response = await handler(request);
      res.writeHead(response.status, [...response.headers]);
      if (response.body === null) {
        res.end();
        return;
      }
      const body = Readable.fromWeb(response.body);
      body.on("error", () => res.destroy());
      body.pipe(res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(error instanceof Error ? error.message : error));
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      resolve({ server, port: actual, url: `http://${host}:${actual}` });
    });
  });
}
