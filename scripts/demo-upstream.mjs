// The examples' local stand-in for the services they call (a billing API, a payment hook, a release
// registry, a deployment API, a parcel carrier and a team chat), so every example that `npm start`
// registers completes on a machine without internet. `npm start` serves it on 127.0.0.1:8789
// (`--demo-port` moves it) and allows that address for http steps. Routes marked (auth) need
// `Authorization: Bearer <token>`, any non-empty token.
//
//   GET  /billing/invoices/:id   (auth) an invoice: { id, currency, lines: [{ description, amount }] }
//                                (INV-2002 totals over 1000, so invoice-review asks a person first)
//   POST /hooks/paid             202 { received: <the JSON body> }
//   GET  /hooks/paid             the payments received so far, newest last
//
//   deploy-service's registry, deployment API and health checks:
//   GET  /deploy/registry/services/:service/releases/:version/manifest
//                                (auth) a release manifest: { image, replicas, env }, for api 1.4.0 and
//                                1.5.0, web 2.0.1 and 2.1.0 (an invalid one: 0 replicas, so the
//                                manifest check stops it), worker 0.9.0; 404 for any other
//   POST /deploy/deployments     (auth) starts a rollout of the JSON body { service, environment, image,
//                                replicas }: 201 { id, service, environment, image, replicas, status,
//                                created_at }. An `Idempotency-Key` header seen before answers the same
//                                deployment again (201, `Idempotent-Replayed: true`) and starts nothing
//   GET  /deploy/deployments     the deployments started so far, oldest first
//   GET  /deploy/services/:service/:environment/healthz
//                                200 { status: "ok", service, environment, deployment }: the latest
//                                deployment's id there, or null
//
//   book-shipment's carrier (the delivery itself is reported through the event step's callback URL):
//   POST /carrier/shipments      books the JSON body { order_id, address }: 201 { tracking_id:
//                                "TRK-<order_id>", carrier: "demo-carrier" }
//   GET  /carrier/shipments      the shipments booked so far, { tracking_id, order_id, address } each,
//                                oldest first
//
//   fan-out's team chat:
//   POST /chat/hooks/:channel    (auth) posts the JSON body { text } to the channel: 200 { ok: true,
//                                channel, message: <its number in the channel, from 1>, lines }
//   GET  /chat/hooks/:channel    { channel, messages }: the messages posted so far, { text, received_at }
//                                each, oldest first

/** Demo invoices: small ones pay straight away, INV-2002 needs a person's yes. */
const INVOICES = {
  "INV-1001": { currency: "EUR", lines: [{ description: "Hosting, November", amount: 120 }, { description: "Support", amount: 80.5 }] },
  "INV-2002": { currency: "EUR", lines: [{ description: "Annual licence", amount: 1500 }, { description: "Onboarding", amount: 250 }] },
};

const paid = [];

/** Demo release manifests, by service and version (web 2.1.0 is invalid on purpose: 0 replicas). */
const MANIFESTS = {
  api: {
    "1.4.0": { image: "registry.local/api:1.4.0", replicas: 3, env: { LOG_LEVEL: "info" } },
    "1.5.0": { image: "registry.local/api:1.5.0", replicas: 3, env: { LOG_LEVEL: "info", FEATURE_BATCH: "on" } },
  },
  web: {
    "2.0.1": { image: "registry.local/web:2.0.1", replicas: 2, env: {} },
    "2.1.0": { image: "registry.local/web:2.1.0", replicas: 0, env: {} },
  },
  worker: {
    "0.9.0": { image: "registry.local/worker:0.9.0", replicas: 1, env: { QUEUE: "jobs" } },
  },
};

const deployments = [];
/** Idempotency-Key → the deployment it started. */
const deploymentsByKey = new Map();

const shipments = [];

/** Channel name → the messages posted to it, oldest first. */
const chat = new Map();

async function postMessage(request, channel) {
  if (!authorized(request)) return json({ error: "unauthorized" }, 401);
  const body = await request.json().catch(() => null);
  if (typeof body?.text !== "string") return json({ error: "expected { text }" }, 400);
  const messages = chat.get(channel) ?? [];
  chat.set(channel, messages);
  messages.push({ text: body.text, received_at: new Date().toISOString() });
  return json({ ok: true, channel, message: messages.length, lines: body.text.split("\n").length });
}

async function bookShipment(request) {
  const body = await request.json().catch(() => null);
  const { order_id, address } = body ?? {};
  if (typeof order_id !== "string" || typeof address !== "string") return json({ error: "expected { order_id, address }" }, 400);
  const tracking_id = `TRK-${order_id}`;
  shipments.push({ tracking_id, order_id, address });
  return json({ tracking_id, carrier: "demo-carrier" }, 201);
}

function authorized(request) {
  return /^Bearer \S+/.test(request.headers.get("authorization") ?? "");
}

async function startDeployment(request) {
  if (!authorized(request)) return json({ error: "unauthorized" }, 401);
  const key = request.headers.get("idempotency-key");
  const seen = key ? deploymentsByKey.get(key) : undefined;
  if (seen) return json(seen, 201, { "idempotent-replayed": "true" });
  const body = await request.json().catch(() => null);
  const { service, environment, image, replicas } = body ?? {};
  if (typeof service !== "string" || typeof environment !== "string" || typeof image !== "string" || !Number.isInteger(Number(replicas))) {
    return json({ error: "expected { service, environment, image, replicas }" }, 400);
  }
  const deployment = {
    id: `dep_${String(deployments.length + 1).padStart(4, "0")}`,
    service,
    environment,
    image,
    replicas: Number(replicas),
    status: "rolling_out",
    created_at: new Date().toISOString(),
  };
  deployments.push(deployment);
  if (key) deploymentsByKey.set(key, deployment);
  return json(deployment, 201);
}

function json(value, status = 200, headers = {}) {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
}

export async function demoUpstream(request) {
  const url = new URL(request.url);
  const invoice = /^\/billing\/invoices\/([^/]+)$/.exec(url.pathname);
  if (invoice && request.method === "GET") {
    if (!authorized(request)) return json({ error: "unauthorized" }, 401);
    const id = decodeURIComponent(invoice[1]);
    const found = INVOICES[id];
    return found ? json({ id, ...found }) : json({ error: `no invoice ${id}` }, 404);
  }
  if (url.pathname === "/hooks/paid") {
    if (request.method === "POST") {
      const body = await request.json().catch(() => null);
      paid.push(body);
      return json({ received: body }, 202);
    }
    return json({ paid });
  }
  const manifest = /^\/deploy\/registry\/services\/([^/]+)\/releases\/([^/]+)\/manifest$/.exec(url.pathname);
  if (manifest && request.method === "GET") {
    if (!authorized(request)) return json({ error: "unauthorized" }, 401);
    const [service, version] = [decodeURIComponent(manifest[1]), decodeURIComponent(manifest[2])];
    const found = Object.hasOwn(MANIFESTS, service) && Object.hasOwn(MANIFESTS[service], version) ? MANIFESTS[service][version] : undefined;
    return found ? json(found) : json({ error: `no release ${version} of ${service}` }, 404);
  }
  if (url.pathname === "/deploy/deployments") {
    if (request.method === "POST") return startDeployment(request);
    return json({ deployments });
  }
  const health = /^\/deploy\/services\/([^/]+)\/([^/]+)\/healthz$/.exec(url.pathname);
  if (health && request.method === "GET") {
    const [service, environment] = [decodeURIComponent(health[1]), decodeURIComponent(health[2])];
    const latest = deployments.findLast((d) => d.service === service && d.environment === environment);
    return json({ status: "ok", service, environment, deployment: latest?.id ?? null });
  }
  if (url.pathname === "/carrier/shipments") {
    if (request.method === "POST") return bookShipment(request);
    return json({ shipments });
  }
  const hook = /^\/chat\/hooks\/([^/]+)$/.exec(url.pathname);
  if (hook) {
    const channel = decodeURIComponent(hook[1]);
    if (request.method === "POST") return postMessage(request, channel);
    return json({ channel, messages: chat.get(channel) ?? [] });
  }
  return json({ error: "not found", path: url.pathname }, 404);
}
