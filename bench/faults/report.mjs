// FAULTS.md: per case, the summary table (runs, executions, lost, duplicated, seq gaps, index
// mismatches, the faults that really happened), then each run's evidence. A case may render its own
// (`faults(c)`: the summary's last cell; `details(c)`: the lines of its section); the first three
// cases' are here.
import { fmt } from "../lib/report.mjs";
import { fivexxOf } from "./client.mjs";

export const sum = (runs, pick) => runs.reduce((a, r) => a + (pick(r) ?? 0), 0);
export const esc = (s) => String(s).replaceAll("|", "\\|");
/** How long the D1 listing took to agree with the objects once checked, or **never**. */
export const agreedCell = (index) => (index.converged_ms === null ? "**never**" : `${fmt(index.converged_ms / 1000)} s`);
/** A table's header and separator lines. */
export const tableHead = (columns) => [`| ${columns.join(" | ")} |`, `|${columns.map(() => "---").join("|")}|`];
export const statusCell = (statuses) =>
  Object.entries(statuses ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}: ${n.toLocaleString("en-US")}`)
    .join(", ");
const commitOf = (m) => `${m?.commit ?? "unknown"}${m?.uncommitted ? " + uncommitted changes" : ""}`;

/** The four figures every case is judged by. */
function verdict(runs) {
  return {
    executions: sum(runs, (r) => r.executions),
    lost: sum(runs, (r) => r.verify.lost),
    duplicated: sum(runs, (r) => r.verify.duplicated_steps + r.verify.duplicated_effects),
    seqGaps: sum(runs, (r) => r.verify.seq_gaps),
    mismatches: sum(runs, (r) => r.index.mismatches),
    notCompleted: sum(runs, (r) => r.verify.not_completed),
  };
}

function faultsOf(c, known) {
  if (known?.faults) return known.faults(c);
  const runs = c.runs;
  if (c.id === "kill") {
    const kills = runs.flatMap((r) => r.kills);
    const really = kills.filter((k) => k.signal_sent && k.workerd > 0 && k.survivors === 0).length;
    return `${really} of ${kills.length} kills: SIGKILL to the service's process group, ${sum(kills, (k) => k.processes)} processes killed (${sum(kills, (k) => k.workerd)} workerd), ${sum(kills, (k) => k.survivors)} survived`;
  }
  if (c.id === "soak") return "none injected (load only)";
  if (c.id === "alarm") {
    const injected = sum(runs, (r) => r.alarm_failures_injected);
    return `${injected} alarm invocations threw (${sum(runs, (r) => r.injected_on_platform_retry)} of them platform retries of a failed alarm); expected ${sum(runs, (r) => r.throws_per_object * r.executions)} (${runs[0]?.throws_per_object ?? "k"} per execution)`;
  }
  return "—";
}

function killDetails(c) {
  const out = [];
  out.push(
    "| Run | Kills | Starts acknowledged | Starts in flight at a kill | … had been created (replayed on retry) | … created by the retry | Executions live across a kill | Interrupted attempts re-run | Effects re-sent (at-least-once) | Ended before any was read | Not completed | Wrong output | Effect missing | Index agreed after | 5xx |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of c.runs) {
    const v = r.verify;
    out.push(
      `| ${r.run} | ${r.kills.length} | ${r.load.acked} | ${r.load.no_answer} | ${r.in_flight_retries.replayed} | ${r.in_flight_retries.created} | ${v.live_across_kill} | ${v.interrupted_attempts} (in ${v.executions_interrupted} executions) | ${v.resent_effects} | ${r.wait.terminal_in_listing_untouched} of ${r.executions} | ${v.not_completed} | ${v.wrong_output} | ${v.missing_effects} | ${agreedCell(r.index)} | ${fivexxOf(r.statuses)} |`,
    );
  }
  out.push("", "Each kill:", "", "| Run | Kill | Load before it | Starts acknowledged that round | In flight | Processes killed | workerd killed | Survivors | Restart took |", "|---|---|---|---|---|---|---|---|---|");
  for (const r of c.runs) {
    r.kills.forEach((k, i) => {
      out.push(`| ${r.run} | ${i + 1} | ${fmt(k.after_load_ms / 1000)} s | ${k.acked} | ${k.in_flight} | ${k.processes} | ${k.workerd} (pids ${k.workerd_pids.join(", ")}) | ${k.survivors} | ${k.restart_ms ? `${fmt(k.restart_ms / 1000)} s` : "—"} |`);
    });
  }
  return out;
}

function soakDetails(c) {
  const out = [];
  out.push(
    "| Run | Executions | Concurrency | Start phase | Starts/s | All ended after | Not completed | Wrong output | Effects missing / re-sent | Index rows (exact?) | 5xx | Every status answered |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of c.runs) {
    const v = r.verify;
    out.push(
      `| ${r.run} | ${r.executions.toLocaleString("en-US")} of ${r.requested.toLocaleString("en-US")} | ${r.concurrency} | ${fmt(r.start_phase_s)} s | ${fmt(r.starts_per_s)} | ${fmt(r.all_ended_s)} s | ${v.not_completed} | ${v.wrong_output} | ${v.missing_effects} / ${v.resent_effects} | ${r.index.rows.toLocaleString("en-US")} (${r.index_count_exact ? "yes" : "**no**"}) | ${r.responses_5xx} | ${esc(statusCell(r.statuses))} |`,
    );
  }
  return out;
}

function alarmDetails(c) {
  const out = [];
  out.push(
    "| Run | Executions | Throws per object | Alarm failures injected | … on a platform retry | All ended after | Ended before any was read | Not completed | Wrong output | Effects missing / re-sent | Index agreed after | 5xx |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of c.runs) {
    const v = r.verify;
    out.push(
      `| ${r.run} | ${r.executions} | ${r.throws_per_object} | ${r.alarm_failures_injected} | ${r.injected_on_platform_retry} | ${fmt(r.all_ended_s)} s | ${r.wait.terminal_in_listing_untouched} of ${r.executions} | ${v.not_completed} | ${v.wrong_output} | ${v.missing_effects} / ${v.resent_effects} | ${agreedCell(r.index)} | ${fivexxOf(r.statuses)} |`,
    );
  }
  return out;
}

const DETAILS = { kill: killDetails, soak: soakDetails, alarm: alarmDetails };

const DEFINITIONS = [
  "**Executions**: executions a client was acknowledged (a 2xx to its start, the first time or when it sent the start again with its Idempotency-Key after a restart). Each must exist and end.",
  "**Lost**: acknowledged but absent (404) or never terminal, after waiting first on the D1 listing alone (no execution read, so only its own alarms and drives can end it) and then reading the stragglers directly.",
  "**Duplicated**: an execution whose event log shows a step completed twice or two ends, or whose http step's request reached the counting upstream more times than the step has attempts (Stepline sends `Idempotency-Key: <execution>:<step>` on every attempt; the upstream counts per key). An attempt cut off by a kill or an eviction is re-run (at-least-once), so an effect re-sent after an `INTERRUPTED` attempt is expected and counted apart, as *effects re-sent*.",
  "**Seq gaps**: an execution whose events (`GET /v1/executions/{id}/events`, every page) are not exactly seq 1..n, or whose log does not end with exactly one terminal event.",
  "**Ended other than completed**: terminal, so not lost, but `failed` (or another end) where every step should have succeeded; the first ones are listed under the case.",
  "**Index mismatches**: rows of the D1 listing (`GET /v1/executions?workflow_id=…`, every page) missing, differing from the execution's own status or `ended_at`, or of no acknowledged execution — read again for up to 30 s until they agree (the outbox flushes after the drive).",
];

export function renderFaults(report, cases) {
  const out = ["# Stepline fault figures", ""];
  const metas = [...new Map(report.cases.map((c) => [c.meta.date, c.meta])).values()];
  out.push(
    `Fault cases run against the real \`wrangler dev\` process, started as a user starts it (\`scripts/start.mjs\`, the script behind \`npm start\`, on its own loopback ports, --persist-to dir and vars file), one server at a time, by \`npm run faults\` ([\`bench/faults.mjs\`](faults.mjs)). Machine-readable: [\`faults.json\`](faults.json).`,
    "",
  );
  out.push("| Measured | Command | Commit | Minutes | Machine |", "|---|---|---|---|---|");
  for (const m of metas) {
    const ids = report.cases.filter((c) => c.meta.date === m.date).map((c) => c.id);
    out.push(`| ${m.date} (${ids.join(", ")}) | \`${esc(m.command)}\`${m.quick ? " (**quick mode**)" : ""} | ${commitOf(m.machine)} | ${fmt(m.duration_s / 60)} | ${esc(`${m.machine.cpu} × ${m.machine.cores}, ${m.machine.memory_gib} GiB; wrangler ${m.machine.wrangler}, ${m.machine.workerd}`)} |`);
  }
  out.push("", "## Summary", "", "| Case | Runs | Executions | Lost | Duplicated | Seq gaps | Index mismatches | Ended other than completed | Faults that really happened |", "|---|---|---|---|---|---|---|---|---|");
  for (const c of report.cases) {
    const v = verdict(c.runs);
    out.push(`| ${c.id}: ${esc(cases.find((k) => k.id === c.id)?.title ?? c.title)} | ${c.runs.length}${c.errors.length ? ` (+${c.errors.length} failed)` : ""} | ${v.executions.toLocaleString("en-US")} | ${v.lost} | ${v.duplicated} | ${v.seqGaps} | ${v.mismatches} | ${v.notCompleted} | ${esc(faultsOf(c, cases.find((k) => k.id === c.id)))} |`);
  }
  out.push("", ...DEFINITIONS.map((d) => `- ${d}`), "");
  for (const c of report.cases) {
    const known = cases.find((k) => k.id === c.id);
    out.push(`## ${c.id}: ${known?.title ?? c.title}`, "", known && c.meta?.options ? known.describe(c.meta.options) : c.description, "");
    if (c.runs.length) out.push(...((known?.details ?? DETAILS[c.id])?.(c) ?? []), "");
    const examples = c.runs.flatMap((r) => [...r.verify.examples, ...r.index.examples].map((e) => `run ${r.run}: ${JSON.stringify(e)}`));
    if (examples.length) out.push("Problems found (first of each run):", "", ...examples.slice(0, 20).map((e) => `- \`${esc(e)}\``), "");
    if (c.errors.length) out.push("Runs that failed:", "", ...c.errors.map((e) => `- ${esc(e)}`), "");
    const notes = known?.notes?.() ?? [];
    if (notes.length) out.push(...notes.map((n) => `- ${n}`), "");
  }
  return out.join("\n");
}
