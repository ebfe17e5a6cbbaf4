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
/** A run's commit, and whether the tree had uncommitted changes (unknown for runs recorded before that was kept). */
const commitOf = (m) => `${m?.commit ?? "unknown"}${m?.uncommitted === true ? " + uncommitted changes" : m?.uncommitted === false ? "" : " (plus uncommitted changes, if any)"}`;

/** Machine facts that make figures comparable; a run made with other ones is pointed out. */
const MACHINE_FACTS = ["cpu", "cores", "memory_gib", "os", "node_wrangler", "wrangler", "miniflare", "workerd"];

export function renderMarkdown(report, jsonName = "results.json") {
  const { meta, machine, rows, scenarios } = report;
  const runs = meta.runs;
  const out = [];
  out.push("# Stepline benchmark results", "");
  if (runs.length === 1) {
    const [r] = runs;
    out.push(`Run on ${r.date} with \`${r.command}\`${r.quick ? " (**quick mode**: development figures, not the reference run)" : ""}; ` +
      `${r.rounds} round${r.rounds === 1 ? "" : "s"} per figure; ${(r.duration_s / 60).toFixed(1)} minutes in all. Machine-readable: [\`${jsonName}\`](${jsonName}).`, "");
  } else {
    out.push(`Figures from ${runs.length} runs: each scenario's come from the run that last measured it (\`--only\` replaces only the scenarios it runs). Machine-readable: [\`${jsonName}\`](${jsonName}).`, "");
    out.push("| Measured | Command | Stepline commit | Rounds | Minutes | Scenarios |", "|---|---|---|---|---|---|");
    for (const r of runs) {
      out.push(`| ${r.date} | \`${esc(r.command)}\`${r.quick ? " (**quick mode**)" : ""} | ${commitOf(r.machine)} | ${r.rounds} | ${(r.duration_s / 60).toFixed(1)} | ${r.scenarios.join(", ")} |`);
    }
    out.push("");
  }
  if (meta.local_trace === false) {
    out.push("**wrangler's local trace store off** (`X_LOCAL_OBSERVABILITY=false`, for both servers): by default `wrangler dev` records every invocation for its local observability UI; this run shows both systems without that recording. The reference run, with wrangler's defaults, is [RESULTS.md](RESULTS.md).", "");
  }
  out.push("## Machine", "", "| | |", "|---|---|");
  out.push(`| CPU | ${machine.cpu}, ${machine.cores} cores |`, `| Memory | ${machine.memory_gib} GiB |`, `| OS | ${machine.os} (${machine.arch}) |`);
  out.push(`| Node | ${machine.node_wrangler} (wrangler), ${machine.node_runner} (runner) |`);
  out.push(`| wrangler / miniflare / workerd | ${machine.wrangler} / ${machine.miniflare} / ${machine.workerd} |`);
  out.push(`| Stepline commit | ${runs.length === 1 ? commitOf(machine) : "each run's, above"} |`, "");
  const other = runs.filter((r) => r.machine && MACHINE_FACTS.some((f) => r.machine[f] !== machine[f]));
  if (other.length) {
    out.push(`Not every run was made on this machine and toolchain (the latest run's): ${other.map((r) => `${r.date} (${MACHINE_FACTS.filter((f) => r.machine[f] !== machine[f]).map((f) => `${f} ${r.machine[f]}`).join(", ")})`).join("; ")}.`, "");
  }

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
  const of = (r) => (runs.length === 1 ? "" : ` (run of ${r.date}: ${r.scenarios.join(", ")})`);
  for (const r of runs.filter((x) => x.quick_changes?.length)) out.push(`### What quick mode changed${of(r)}`, "", ...r.quick_changes.map((m) => `- ${m}`), "");
  const failing = runs.filter((r) => r.errors?.length);
  if (failing.length === 1 && runs.length === 1) {
    const [r] = failing;
    out.push("## Errors", "", `Failed attempts of server sessions. A session that succeeded on a retry contributes its retry's figures; ` +
      `${r.failed_sessions} session(s) failed every attempt, so their rounds are missing from the medians above (the n of each figure is in results.json).`, "");
    out.push(...r.errors.map((e) => `- ${esc(e)}`), "");
  } else if (failing.length) {
    out.push("## Errors", "", "Failed attempts of server sessions, by run. A session that succeeded on a retry contributes its retry's figures; " +
      "a session that failed every attempt leaves its rounds missing from the medians above (the n of each figure is in results.json).", "");
    for (const r of failing) {
      out.push(`### Run of ${r.date} (${r.scenarios.join(", ")})`, "", `${r.failed_sessions} session(s) failed every attempt.`, "", ...r.errors.map((e) => `- ${esc(e)}`), "");
    }
  }
  return out.join("\n");
}
