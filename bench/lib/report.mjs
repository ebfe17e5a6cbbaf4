// RESULTS.md: date, machine, method, goals (met/missed), every figure with its spread, prices.
import { PRICES, stepFunctionsPerMillion } from "../scenarios/cost.mjs";

export function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return "0";
  return x.toPrecision(2);
}

const cell = (s) => (s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : "n/a");
const ratioCell = (r) => (r ? `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})` : "—");
const metCell = (g) => (g ? (g.met ? "**met**" : "**missed**") : "");
const esc = (s) => String(s).replaceAll("|", "\\|");

export function renderMarkdown(report, jsonName = "results.json") {
  const { meta, machine, rows, scenarios } = report;
  const out = [];
  out.push("# Stepline benchmark results", "");
  out.push(`Run on ${meta.date} with \`${meta.command}\`${meta.quick ? " (**quick mode**: development figures, not the reference run)" : ""}; ` +
    `${meta.rounds} round${meta.rounds === 1 ? "" : "s"} per figure; ${(meta.duration_s / 60).toFixed(1)} minutes in all. Machine-readable: [\`${jsonName}\`](${jsonName}).`, "");
  if (meta.local_trace === false) {
    out.push("**wrangler's local trace store off** (`X_LOCAL_OBSERVABILITY=false`, for both servers): by default `wrangler dev` records every invocation for its local observability UI; this run shows both systems without that recording. The reference run, with wrangler's defaults, is [RESULTS.md](RESULTS.md).", "");
  }
  out.push("## Machine", "", "| | |", "|---|---|");
  out.push(`| CPU | ${machine.cpu}, ${machine.cores} cores |`, `| Memory | ${machine.memory_gib} GiB |`, `| OS | ${machine.os} (${machine.arch}) |`);
  out.push(`| Node | ${machine.node_wrangler} (wrangler), ${machine.node_runner} (runner) |`);
  out.push(`| wrangler / miniflare / workerd | ${machine.wrangler} / ${machine.miniflare} / ${machine.workerd} |`, `| Stepline commit | ${machine.commit} (plus uncommitted changes, if any) |`, "");

  out.push("## Goals", "", "| Goal | Figure (Stepline median over rounds) | Result |", "|---|---|---|");
  for (const r of rows.filter((x) => x.goal)) {
    const fig = r.metric.includes("wall time") ? `${ratioCell(r.ratio)} faster than the peer (${fmt(r.stepline?.median)} vs ${fmt(r.peer?.median)} ms)` : `${fmt(r.stepline?.median)} ${r.unit} (max ${fmt(r.stepline?.max)})`;
    out.push(`| ${esc(r.goal.text)} — ${esc(r.metric)} | ${fig} | ${r.goal.met ? "met" : "**missed**"} |`);
  }
  out.push("");

  out.push("## Results", "", "Each cell is the median over rounds, with (min–max). Ratio: how many times better Stepline is than the peer, computed round by round " +
    "(peer ÷ Stepline for times, Stepline ÷ peer for rates), so > 1 means Stepline is ahead.", "");
  for (const sc of scenarios) {
    const own = rows.filter((r) => r.scenario === sc.id);
    if (own.length === 0) continue;
    out.push(`### ${sc.title}`, "", sc.description, "");
    out.push("| Metric | Unit | Stepline | Workflows peer | Ratio | Goal | Met |", "|---|---|---|---|---|---|---|");
    for (const r of own) {
      out.push(`| ${esc(r.metric)} | ${r.unit} | ${cell(r.stepline)} | ${cell(r.peer)} | ${ratioCell(r.ratio)} | ${r.goal ? esc(r.goal.text) : ""} | ${metCell(r.goal)} |`);
    }
    const notes = [...new Set(own.map((r) => r.note).filter(Boolean))];
    if (notes.length) out.push("", ...notes.map((n) => `- ${n}`));
    out.push("");
  }

  out.push("## Prices used (assumptions)", "", `Cloudflare Workers Paid list prices and AWS Step Functions Standard, as read on ${PRICES.as_of}:`, "");
  out.push(
    `- Durable Objects SQLite storage: rows written $${PRICES.do_rows_written_per_million} per million, rows read $${PRICES.do_rows_read_per_million} per million`,
    `- D1: rows written $${PRICES.d1_rows_written_per_million} per million, rows read $${PRICES.d1_rows_read_per_million} per million`,
    `- Durable Objects requests $${PRICES.do_requests_per_million} per million; Workers requests $${PRICES.workers_requests_per_million} per million ` +
      `(counted: ${PRICES.workers_requests_per_execution} Worker request and ${PRICES.do_requests_per_execution} Durable Object request per execution, the start; polling and reads excluded)`,
    "- Not counted: CPU time, Durable Object duration (GB-s), stored GB-months, and the monthly plan fee / included allowances.",
    `- AWS Step Functions Standard: $${PRICES.step_functions_standard_per_1000_transitions} per 1,000 state transitions; a 20-step execution counted as ` +
      `${PRICES.step_functions_transitions_per_execution} transitions → $${stepFunctionsPerMillion().toFixed(2)} per million executions.`,
    "",
  );

  out.push("## Method", "", ...meta.method.map((m) => `- ${m}`), "");
  if (meta.quick_changes.length) out.push("### What quick mode changed", "", ...meta.quick_changes.map((m) => `- ${m}`), "");
  if (meta.errors.length) {
    out.push("## Errors", "", `Failed attempts of server sessions. A session that succeeded on a retry contributes its retry's figures; ` +
      `${meta.failed_sessions} session(s) failed every attempt, so their rounds are missing from the medians above (the n of each figure is in results.json).`, "");
    out.push(...meta.errors.map((e) => `- ${esc(e)}`), "");
  }
  return out.join("\n");
}
