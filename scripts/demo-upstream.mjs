// The examples' local stand-in for the services they call (a billing API and a payment hook), so
// every example that `npm start` registers completes on a machine without internet. `npm start`
// serves it on 127.0.0.1:8789 (`--demo-port` moves it) and allows that address for http steps.
//
//   GET  /billing/invoices/:id   an invoice: { id, currency, lines: [{ description, amount }] }
//                                (INV-2002 totals over 1000, so invoice-review asks a person first);
//                                needs `Authorization: Bearer <token>`, any non-empty token
//   POST /hooks/paid             202 { received: <the JSON body> }
//   GET  /hooks/paid             the payments received so far, newest last

/** Demo invoices: small ones pay straight away, INV-2002 needs a person's yes. */
const INVOICES = {
  "INV-1001": { currency: "EUR", lines: [{ description: "Hosting, November", amount: 120 }, { description: "Support", amount: 80.5 }] },
  "INV-2002": { currency: "EUR", lines: [{ description: "Annual licence", amount: 1500 }, { description: "Onboarding", amount: 250 }] },
};

const paid = [];

function json(value, status = 200) {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

export async function demoUpstream(request) {
  const url = new URL(request.url);
  const invoice = /^\/billing\/invoices\/([^/]+)$/.exec(url.pathname);
  if (invoice && request.method === "GET") {
    if (!/^Bearer \S+/.test(request.headers.get("authorization") ?? "")) return json({ error: "unauthorized" }, 401);
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
  return json({ error: "not found", path: url.pathname }, 404);
}
