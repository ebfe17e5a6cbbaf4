/* global Response, URL */
// The benchmark's peer: a Cloudflare Workflow running a chain of `steps` trivial steps, each one
// `step.do` whose result feeds the next, driven over HTTP exactly like Stepline (start, then poll).
//   POST /start  { steps }  -> 202 { id }
//   GET  /status/:id        -> 200 { status: "complete", output } once the workflow wrote its
//                              completion record, else { status: "running" }; `?live=1` returns
//                              `instance.status()` instead (calling that on running instances made
//                              the local runtime exit under load with wrangler 4.124).
//   GET  /health            -> 200
import { WorkflowEntrypoint } from "cloudflare:workers";

export class ChainWorkflow extends WorkflowEntrypoint {
  /** @param {{ payload: { steps: number }, instanceId: string }} event @param {import("cloudflare:workers").WorkflowStep} step */
  async run(event, step) {
    let prev = 0;
    for (let i = 1; i <= event.payload.steps; i++) {
      const last = prev;
      prev = await step.do(`s${i}`, async () => last + 1);
    }
    // Not a step: a completion record for the poller (see GET /status/:id).
    await this.env.DONE.put(event.instanceId, JSON.stringify({ status: "complete", output: prev }));
    return prev;
  }
}

const json = (body, status = 200) => Response.json(body, { status });

export default {
  /** @param {Request} request @param {{ CHAIN: Workflow, DONE: KVNamespace }} env */
  async fetch(request, env) {
    try {
      return await route(request, env);
    } catch (err) {
      // A failure is an answer with its reason, so the bench client can report it.
      return json({ error: String(err?.stack ?? err) }, 500);
    }
  },
};

/** @param {Request} request @param {{ CHAIN: Workflow, DONE: KVNamespace }} env */
async function route(request, env) {
  const url = new URL(request.url);
  if (url.pathname === "/health") return json({ ok: true });
  if (request.method === "POST" && url.pathname === "/start") {
    const { steps } = await request.json();
    const instance = await env.CHAIN.create({ params: { steps: Number(steps) } });
    return json({ id: instance.id }, 202);
  }
  const status = /^\/status\/([^/]+)$/.exec(url.pathname);
  if (request.method === "GET" && status) {
    const id = decodeURIComponent(status[1]);
    if (url.searchParams.get("live") === "1") return json(await (await env.CHAIN.get(id)).status());
    const done = await env.DONE.get(id);
    return json(done ? JSON.parse(done) : { status: "running" });
  }
  return json({ error: "not found" }, 404);
}
