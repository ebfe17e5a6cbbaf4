/* global performance, Response */
// Case "d1": D1 unavailable for a while, then back. The service runs the wrapper Worker
// bench/faults/d1-worker.mjs, whose D1 binding (the Worker's and every ExecutionObject's) refuses
// every call while the outage is on: the wrapper asks a loopback switch served here before each call.
//
// A run: executions of a costed workflow (two steps with a declared cost, an llm call to the
// LLM stand-in, a 1 s wait) are started at concurrency C for the whole run: some seconds with D1,
// the outage, some seconds with D1 again. Executions started before the outage run through it
// (their index flushes are refused and retried by their outbox timer); starts during it need D1
// (the workflow's definition) and what they were answered is counted. Then: every acknowledged
// execution ends completed once with a gapless log, the listing agrees with each object (status,
// end, cost), and the D1 cost totals (telemetry) equal the sum of the objects' own ledgers.
import { serveFetch } from "../../scripts/serve-fetch.mjs";
import { sleep } from "../lib/http.mjs";
import { fmt } from "../lib/report.mjs";
import { benchVars } from "../lib/targets.mjs";
import { TERMINAL, countingClient, fivexxOf, waitTerminal } from "./client.mjs";
import { startLoad, summarizeLoad } from "./load.mjs";
import { logNote, startFaultService } from "./service.mjs";
import { agreedCell, esc, statusCell, sum, tableHead } from "./report.mjs";
import { checkIndex, verifyExecutions } from "./verify.mjs";

const WORKFLOW_ID = "faults-d1";
const A_COST = 0.0015;
const C_COST = 0.0025;
/** Costs are sums of floats computed in two places (the objects, D1's SUM): equal up to this. */
const USD_EPSILON = 1e-9;

function d1Workflow() {
  return {
    id: WORKFLOW_ID,
    name: "Fault case: D1 unavailable, then back",
    steps: [
      { id: "a", type: "transform", expression: "input.n + 1", cost_usd: A_COST },
      { id: "ask", type: "llm", needs: ["a"], model: "standin-small", prompt: "Summarise item {{ input.n }} in one line.", max_tokens: 32 },
      { id: "pause", type: "wait", seconds: 1, needs: ["ask"] },
      { id: "c", type: "transform", expression: "steps.a.output * 2", cost_usd: C_COST, needs: ["pause"] },
    ],
    output: "steps.c.output",
  };
}
const expectedOutput = (n) => (n + 1) * 2;

export const d1Case = {
  id: "d1",
  title: "D1 unavailable for a while, then back",
  describe: (o) =>
    `Executions of a 4-step costed workflow (a transform declaring $${A_COST}, an \`llm\` call to the loopback LLM stand-in priced by \`standin-small\`, a 1 s wait, a transform declaring $${C_COST}) started at concurrency ${o.d1Concurrency} for ${(o.d1BeforeMs + o.d1OutageMs + o.d1AfterMs) / 1000} s: ` +
    `${o.d1BeforeMs / 1000} s with D1, then ${o.d1OutageMs / 1000} s in which every D1 call of the Worker and of every ExecutionObject is refused (the promise rejects with \`D1_ERROR: Network connection lost.\`; bench/faults/d1-worker.mjs wraps the binding, switched by a loopback switch the harness serves; src/ has no fault hook), then ${o.d1AfterMs / 1000} s with D1 again. ` +
    "Then the listing must agree with every object (status, end, cost) and the D1 cost totals (`GET /v1/telemetry/summary?workflow_id=…`: `total_usd`, tokens, `by_model` calls) must equal the sum of the objects' own ledgers (`GET /v1/executions/{id}/costs`).",
  faults: (c) => {
    const refused = sum(c.runs, (r) => r.refused.worker + r.refused.object);
    const exact = c.runs.every((r) => r.costs.totals_exact && r.costs.row_cost_mismatches === 0);
    return `${refused} D1 calls refused during ${c.runs.map((r) => `${fmt(r.window.seconds)} s`).join(", ")} of outage (${sum(c.runs, (r) => r.refused.worker)} of the Worker, ${sum(c.runs, (r) => r.refused.object)} of the objects); ${sum(c.runs, (r) => r.ran_through_outage)} executions ran through it; costs in D1 ${exact ? "exact" : "**not exact**"}`;
  },
  details,
  notes: () => [
    "*Refused D1 calls*: one `fault_injected` line each in the service's log: the Worker's (a refused start's one lookup batch and its audit row's insert — lost, and logged `audit write failed` —, a listing's query) and the objects' (index flushes from the outbox, each a batch). *Ran through the outage*: executions created before it and ended during it (their steps ran and their ends were committed in their objects; only the index lagged). *Listing caught up*: from the end of the outage until the listing showed every execution started before then as ended (the listing is read every 250 ms; an object whose flush was refused retries on its outbox timer, backing off from 0.5 s). *Starts during the outage*: starts whose request overlapped the window — a start reads the workflow's definition from D1, so these are refused, with what the client was answered; no other request of the case is answered 5xx.",
  ],
  async run(ctx) {
    const { runIndex, logDir } = ctx;
    // The switch the wrapper asks before every D1 call (the Worker and the objects alike).
    const outage = { on: false, asked: 0 };
    const sw = await serveFetch(() => {
      outage.asked++;
      return Response.json({ outage: outage.on });
    }, { port: 0 });
    sw.server.keepAliveTimeout = 65_000; // see the effects upstream's, in bench/faults.mjs
    const vars = benchVars({ FAULT_D1_SWITCH: `${sw.url}/outage` });
    try {
      const { svc, done } = await startFaultService({ name: `d1-run${runIndex}`, vars, worker: "d1-worker.mjs", logDir, countPatterns: { refused: /"fault":"d1_refused"/ } });
      try {
        return await d1Run(ctx, svc, vars, outage);
      } finally {
        await done();
      }
    } finally {
      sw.server.close();
    }
  },
};

async function d1Run({ opts, runIndex }, svc, vars, outage) {
  const client = countingClient(svc.base, vars.ADMIN_API_KEY);
  const probe = countingClient(svc.base, vars.ADMIN_API_KEY); // what a user sees during the outage, counted apart
  await client.ok("POST", "/v1/workflows", { body: d1Workflow() });

  const t0 = performance.now();
  const load = startLoad({ client, concurrency: opts.d1Concurrency, make: (i) => ({ body: { workflow_id: WORKFLOW_ID, input: { n: i } } }) });
  await sleep(opts.d1BeforeMs);
  outage.on = true;
  const window = { on_ms: Math.round(performance.now() - t0), on_at: new Date().toISOString() };
  await sleep(opts.d1OutageMs / 2);
  const seen = await whatUsersSee(probe, load.records.find((r) => r.id)?.id);
  await sleep(opts.d1OutageMs / 2);
  outage.on = false;
  Object.assign(window, { off_ms: Math.round(performance.now() - t0), off_at: new Date().toISOString() });
  const caughtUp = catchUp(client, load.records.filter((r) => r.id).map((r) => r.id), t0 + window.off_ms, opts.listingWaitMs);
  await sleep(opts.d1AfterMs);
  load.stop();
  const { records } = await load.done;
  const indexCaughtUpS = await caughtUp;
  const refused = refusedCalls(svc);
  logNote(`d1 run ${runIndex}: ${records.filter((r) => r.id).length} of ${records.length} starts acknowledged; D1 calls refused: ${refused.worker} of the Worker, ${refused.object} of the objects`);

  // The probe's start, should it have been acknowledged, is an execution like the others.
  const acked = [...records, ...(seen.start.id ? [{ id: seen.start.id, i: -1 }] : [])].filter((r) => r.id);
  const ids = acked.map((r) => r.id);
  const wait = await waitTerminal(client, WORKFLOW_ID, ids, { listingMs: opts.listingWaitMs });
  const { result: verify, statusById } = await verifyExecutions(client, acked.map((r) => ({ id: r.id, n: r.i })), { effects: null, expectedOutput });
  const index = await checkIndex(client, WORKFLOW_ID, statusById);
  const costs = await checkCosts(client, statusById);
  const inWindow = (iso) => iso !== null && iso >= window.on_at && iso < window.off_at;
  const overlaps = (r) => r.t < window.off_ms && r.t + (r.ms ?? 0) > window.on_ms;
  return {
    run: runIndex,
    duration_s: Math.round((performance.now() - t0) / 100) / 10,
    window: { ...window, seconds: (window.off_ms - window.on_ms) / 1000 },
    refused: { ...refusedCalls(svc), switch_asked: outage.asked },
    load: summarizeLoad(records),
    starts_in_window: summarizeLoad(records.filter(overlaps)),
    starts_outside_5xx: records.filter((r) => !overlaps(r) && r.status >= 500).length,
    // Every other request of the case (listings, reads, checks; not the probe's): none may be 5xx.
    other_5xx: fivexxOf(client.statuses) - records.filter((r) => r.status >= 500).length,
    refused_start_codes: countCodes(records.filter((r) => r.status >= 500)),
    during_outage: seen.answers,
    executions: ids.length,
    ran_through_outage: [...statusById.values()].filter((e) => e.created_at < window.on_at && inWindow(e.ended_at)).length,
    ended_in_window: [...statusById.values()].filter((e) => inWindow(e.ended_at)).length,
    index_caught_up_s: indexCaughtUpS,
    wait,
    verify,
    index,
    costs,
    statuses: client.statuses,
    responses_5xx: fivexxOf(client.statuses),
    server_log_tail: svc.kept.filter((l) => !/fault_injected|fault injected/.test(l)).slice(-20),
  };
}

function details(c) {
  const row = (cells) => `| ${cells.map(esc).join(" | ")} |`;
  const usd = (x) => `$${x.toFixed(6)}`;
  const out = [
    ...tableHead(["Run", "Outage", "Starts acknowledged", "Starts during the outage: acknowledged / refused", "5xx outside the outage", "D1 calls refused: Worker / objects", "… by call", "Ran through the outage", "Ended during it", "Listing caught up after D1 was back", "Index mismatches", "Listing rows whose cost differs", "Cost: objects / D1", "Tokens in+out: objects / D1", "llm calls: objects / D1", "Totals exact"]),
  ];
  for (const r of c.runs) {
    const o = r.costs.objects;
    const d = r.costs.d1;
    out.push(
      row([
        r.run,
        `${fmt(r.window.seconds)} s`,
        `${r.load.acked} of ${r.load.starts}`,
        `${r.starts_in_window.acked} / ${r.starts_in_window.starts - r.starts_in_window.acked} (${statusCell(r.refused_start_codes)})`,
        r.starts_outside_5xx + r.other_5xx,
        `${r.refused.worker} / ${r.refused.object}`,
        statusCell(r.refused.by_call),
        r.ran_through_outage,
        r.ended_in_window,
        r.index_caught_up_s === null ? "**not within the wait**" : `${fmt(r.index_caught_up_s)} s`,
        `${r.index.mismatches}${r.index.mismatches ? "" : ` (agreed after ${agreedCell(r.index)})`}`,
        r.costs.row_cost_mismatches,
        `${usd(o.total_usd)} / ${usd(d.total_usd)}`,
        `${o.input_tokens + o.output_tokens} / ${d.input_tokens + d.output_tokens}`,
        `${o.llm_calls} / ${d.llm_calls}`,
        r.costs.totals_exact ? "yes" : "**no**",
      ]),
    );
  }
  out.push("", "What a client was answered in the middle of the outage:", "");
  for (const r of c.runs) for (const a of r.during_outage) out.push(`- run ${r.run}: \`${a.request}\` → ${a.status}${a.code ? ` \`${a.code}\`` : ""}${a.detail ? ` (“${esc(a.detail)}”)` : ""}`);
  return out;
}

/**
 * Seconds after D1 came back (`since`, a performance.now() time) until the listing showed every
 * execution started before then as ended (they end within a few seconds; those that ended during
 * the outage wait for their outbox's retry); null if not within `maxMs`.
 */
async function catchUp(client, ids, since, maxMs) {
  while (performance.now() - since < maxMs) {
    const rows = await client.listing(WORKFLOW_ID);
    if (ids.every((id) => TERMINAL.has(rows.get(id)?.status))) return Math.round((performance.now() - since) / 100) / 10;
    await sleep(250);
  }
  return null;
}

/** During the outage: a start, the listing and an execution's own read (`known`), with what each answered. */
async function whatUsersSee(client, known) {
  const one = async (method, path, body) => {
    const res = await client.call(method, path, { body });
    return { id: res.status < 300 ? res.json?.id : undefined, request: `${method} ${path.replace(/ex_[0-9a-f]+/, "{id}")}`, status: res.status, code: res.json?.code ?? null, detail: String(res.json?.detail ?? res.json?.title ?? res.error ?? "").slice(0, 160) };
  };
  const start = await one("POST", "/v1/executions", { workflow_id: WORKFLOW_ID, input: { n: -1 } });
  const answers = [start, await one("GET", `/v1/executions?workflow_id=${WORKFLOW_ID}&limit=5`)];
  if (known) answers.push(await one("GET", `/v1/executions/${known}`));
  return { start, answers };
}

/**
 * Costs in D1 against the objects': each listing row's cost against its execution's ledger, and the
 * telemetry totals against the sum of the ledgers. Read again for up to 30 s until they agree.
 */
async function checkCosts(client, statusById, { maxWaitMs = 30_000 } = {}) {
  const ledgers = new Map();
  for (const id of statusById.keys()) ledgers.set(id, (await client.ok("GET", `/v1/executions/${id}/costs`)).json);
  const sum = (pick) => [...ledgers.values()].reduce((a, l) => a + pick(l), 0);
  const objects = {
    total_usd: sum((l) => l.total_usd),
    input_tokens: sum((l) => l.input_tokens),
    output_tokens: sum((l) => l.output_tokens),
    records: sum((l) => l.items.length),
    llm_calls: sum((l) => l.items.filter((i) => i.model !== null).length),
    // The ledger against the cost the object reports on the execution itself.
    ledger_differs_from_execution: [...ledgers].filter(([id, l]) => Math.abs(l.total_usd - (statusById.get(id).cost?.total_usd ?? 0)) > USD_EPSILON).length,
  };
  const t0 = performance.now();
  for (;;) {
    const rows = await client.listing(WORKFLOW_ID);
    const rowMismatches = [...ledgers].filter(([id, l]) => {
      const c = rows.get(id)?.cost;
      return !c || Math.abs(c.total_usd - l.total_usd) > USD_EPSILON || c.input_tokens !== l.input_tokens || c.output_tokens !== l.output_tokens;
    });
    const t = (await client.ok("GET", `/v1/telemetry/summary?workflow_id=${WORKFLOW_ID}`)).json;
    const model = (t.by_model ?? []).find((m) => m.model === "standin-small") ?? { calls: 0 };
    const d1 = { executions: t.executions, total_usd: t.total_usd, input_tokens: t.input_tokens, output_tokens: t.output_tokens, llm_calls: model.calls };
    const totalsExact =
      Math.abs(d1.total_usd - objects.total_usd) <= USD_EPSILON && d1.input_tokens === objects.input_tokens && d1.output_tokens === objects.output_tokens && d1.llm_calls === objects.llm_calls && d1.executions === ledgers.size;
    if ((rowMismatches.length === 0 && totalsExact) || performance.now() - t0 > maxWaitMs) {
      return {
        objects,
        d1,
        totals_exact: totalsExact,
        row_cost_mismatches: rowMismatches.length,
        agreed_ms: rowMismatches.length === 0 && totalsExact ? Math.round(performance.now() - t0) : null,
        examples: rowMismatches.slice(0, 3).map(([id, l]) => ({ id, object: l.total_usd, listing: rows.get(id)?.cost ?? null })),
      };
    }
    await sleep(1_000);
  }
}

/** The D1 calls the wrapper refused, from its `fault_injected` lines: by holder, and by holder and call. */
function refusedCalls(svc) {
  const lines = svc.faults.filter((f) => f.fault === "d1_refused");
  const out = { logged: svc.counts.get("refused"), worker: 0, object: 0, by_call: {} };
  for (const f of lines) {
    out[f.where]++;
    out.by_call[`${f.where}.${f.call}`] = (out.by_call[`${f.where}.${f.call}`] ?? 0) + 1;
  }
  return out;
}

function countCodes(records) {
  const out = {};
  for (const r of records) out[`${r.status} ${r.code ?? ""}`.trim()] = (out[`${r.status} ${r.code ?? ""}`.trim()] ?? 0) + 1;
  return out;
}
