// bench/scale.md: the figures of `npm run scale` per mode and shard count (median of the rounds,
// with min–max), the per-execution rows the probes measured, and the failed batches.
import { fmt } from "../lib/report.mjs";
import { latencySummary, spread } from "../lib/stats.mjs";

/** One session's figures from its tally (see load.mjs) and CPU use (cpu.mjs). */
export function sessionFigures({ migrations, mode, shards, round, tally, wallMs, cores, reloaded }) {
  const s = wallMs / 1000;
  const rows = tally.per_shard.map((p) => p.rows_written);
  const mean = rows.reduce((a, b) => a + b, 0) / rows.length;
  const sqlMs = tally.per_shard.reduce((a, p) => a + p.sql_ms, 0);
  const lat = latencySummary(tally.latencies);
  return {
    migrations,
    mode,
    shards,
    round,
    seconds: s,
    requests: tally.requests,
    executions_per_s: tally.executions_ended / s,
    outbox_rows_per_s: (tally.index_rows + tally.audit_rows) / s,
    index_rows_per_s: tally.index_rows / s,
    d1_rows_per_s: tally.rows_written / s,
    d1_rows_per_batch: tally.rows_written / Math.max(1, tally.per_shard.reduce((a, p) => a + p.batches, 0)),
    // The busiest shard over the mean: 1 is a perfectly even spread.
    shard_imbalance: mean > 0 ? Math.max(...rows) / mean : null,
    // SQL time D1 reported (meta.duration), per second of wall time, per shard: how busy each writer was.
    sql_busy_per_shard: sqlMs / 1000 / s / shards,
    d1_rows_per_sql_s: sqlMs > 0 ? tally.rows_written / (sqlMs / 1000) : null,
    request_p50_ms: lat.p50,
    request_p99_ms: lat.p99,
    cores_server: cores.server,
    // Mode processes: each shard's server (its wrangler and workerd), the mean and the busiest.
    cores_per_process: mode === "processes" ? cores.per_server : null,
    cores_process_mean: mode === "processes" ? cores.server / cores.per_server.length : null,
    cores_process_max: mode === "processes" ? Math.max(...cores.per_server) : null,
    // Throughput per CPU second the server got: less sensitive than a rate to what else runs.
    d1_rows_per_server_cpu_s: cores.server > 0 ? tally.rows_written / s / cores.server : null,
    cores_server_thread: cores.server_busiest_thread,
    cores_runner: cores.runner,
    cores_others: cores.others,
    cores_iowait: cores.iowait,
    failed_requests: tally.failed_requests,
    failed_batches: tally.failed_batches,
    flushes: tally.flushes,
    flushes_ok: tally.flushes_ok,
    per_shard: tally.per_shard,
    reloaded,
  };
}

const FIGURES = [
  ["d1_rows_per_s", "D1 rows written/s"],
  ["index_rows_per_s", "index rows/s"],
  ["outbox_rows_per_s", "outbox rows/s (index + audit)"],
  ["executions_per_s", "executions indexed/s"],
  ["d1_rows_per_batch", "D1 rows per batch"],
  ["shard_imbalance", "busiest shard ÷ mean"],
  ["sql_busy_per_shard", "SQL time per shard (s/s)"],
  ["d1_rows_per_sql_s", "D1 rows per SQL second"],
  ["request_p50_ms", "request p50 ms"],
  ["request_p99_ms", "request p99 ms"],
  ["d1_rows_per_server_cpu_s", "D1 rows per server CPU second"],
  ["cores_server", "cores: workerd + wrangler"],
  ["cores_process_mean", "cores: per server process (mean)"],
  ["cores_process_max", "cores: busiest server process"],
  ["cores_server_thread", "cores: busiest server thread"],
  ["cores_runner", "cores: load (Node)"],
  ["cores_others", "cores: others"],
  ["cores_iowait", "cores: waiting on disk (iowait)"],
];

const keyOf = (x) => `${x.migrations}:${x.mode}:${x.shards}`;
const tableOf = (x) => `${x.migrations}:${x.mode}`;

/**
 * `--merge`: adds to this run's report the tables of an earlier one (bench/scale.json) that this
 * run did not measure, and their probes, each table listed in `meta.kept` with the run that
 * measured it (its date, command, commit, migration sets and failed sessions).
 */
export function mergeEarlier(report, earlier) {
  const measured = new Set(report.sessions.map(tableOf));
  const sessions = earlier.sessions.filter((x) => !measured.has(tableOf(x)));
  const earlierKept = new Set((earlier.meta.kept ?? []).flatMap((k) => k.tables));
  const own = {
    date: earlier.meta.date,
    command: earlier.meta.command,
    duration_min: earlier.meta.duration_min,
    commit: `${earlier.machine.commit}${earlier.machine.uncommitted ? " + uncommitted changes" : ""}`,
    migrations: earlier.meta.migrations,
    errors: earlier.meta.errors,
    tables: [...new Set(earlier.sessions.map(tableOf))].filter((t) => !earlierKept.has(t)),
  };
  const kept = [...(earlier.meta.kept ?? []), own]
    .map((k) => ({ ...k, tables: k.tables.filter((t) => !measured.has(t)) }))
    .filter((k) => k.tables.length);
  const probed = new Set(report.probes.map((p) => p.migrations));
  const all = [...sessions, ...report.sessions];
  return {
    ...report,
    meta: { ...report.meta, kept },
    summary: summarize(all),
    probes: [...earlier.probes.filter((p) => !probed.has(p.migrations)), ...report.probes],
    sessions: all,
  };
}

/** Median (min–max) of each figure over the rounds of each (migrations, mode, shards). */
export function summarize(sessions) {
  const keys = [...new Set(sessions.map(keyOf))];
  return keys.map((k) => {
    const own = sessions.filter((x) => keyOf(x) === k);
    const out = { migrations: own[0].migrations, mode: own[0].mode, shards: own[0].shards, rounds: own.length };
    for (const [f] of FIGURES) out[f] = spread(own.map((x) => x[f]));
    out.failed_batches = own.reduce((n, x) => n + x.failed_batches.length, 0);
    out.failed_requests = own.reduce((n, x) => n + x.failed_requests.length, 0);
    return out;
  });
}

const cell = (s) => (s ? (s.n > 1 ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : fmt(s.median)) : "—");

export function renderScale(report) {
  const { meta, machine, probes, summary, sessions } = report;
  const out = ["# Index write throughput across N local D1 databases", ""];
  out.push(`Measured ${meta.date} with \`${meta.command}\`, ${meta.duration_min.toFixed(1)} minutes in all; machine-readable: [\`scale.json\`](scale.json). ` +
    `Design and conclusions: [docs/SCALE.md](../docs/SCALE.md).`, "");
  const kept = meta.kept ?? [];
  const keptBy = new Map(kept.flatMap((k) => k.tables.map((t) => [t, k])));
  for (const k of kept) {
    out.push(`Kept from an earlier run (\`--merge\`): ${k.tables.map((t) => `*${t.split(":")[0]}* \`${t.split(":")[1]}\``).join(", ")}, measured ${k.date} with \`${k.command}\` ` +
      `(${k.duration_min.toFixed(1)} minutes, Stepline commit ${k.commit}; migration sets ${k.migrations.map((m) => `*${m.source}* ${m.hash}`).join(", ")}).`, "");
  }
  out.push(`Machine: ${machine.cpu}, **${machine.cores} cores**, ${machine.memory_gib} GiB, ${machine.os}; wrangler ${machine.wrangler}, workerd ${machine.workerd}; ` +
    `Stepline commit ${machine.commit}${machine.uncommitted ? " + uncommitted changes" : ""}. The machine is shared: the *cores: others* row is everyone else's CPU during the measurement.`, "");
  out.push("## Method", "", ...meta.method.map((m) => `- ${m}`), "");
  out.push("Migration sets:", "", ...meta.migrations.map((m) => `- *${m.source}* (${m.hash}): ${m.files.join(", ")}`), "");
  const tables = [...new Set(summary.map((x) => `${x.migrations}:${x.mode}`))];
  for (const t of tables) {
    const cols = summary.filter((x) => `${x.migrations}:${x.mode}` === t);
    const { migrations, mode } = cols[0];
    const base = cols.find((x) => x.shards === 1);
    const earlier = keptBy.get(t);
    out.push(`## Migrations *${migrations}*, mode \`${mode}\`: ${meta.modes[mode]}${earlier ? ` (earlier run, ${earlier.date})` : ""}`, "");
    out.push(`| | ${cols.map((c) => `N = ${c.shards}`).join(" | ")} |`, `|---|${cols.map(() => "---").join("|")}|`);
    for (const [f, label] of FIGURES) {
      if (cols.some((c) => c[f])) out.push(`| ${label} | ${cols.map((c) => cell(c[f])).join(" | ")} |`);
    }
    if (base?.d1_rows_per_s) out.push(`| D1 rows/s ÷ N = 1 | ${cols.map((c) => `${fmt(c.d1_rows_per_s.median / base.d1_rows_per_s.median)}×`).join(" | ")} |`);
    out.push(`| failed batches / failed requests | ${cols.map((c) => `${c.failed_batches} / ${c.failed_requests}`).join(" | ")} |`, "");
  }
  out.push("## D1 rows per execution (probes)", "", "Each session first writes 20 executions' first and last flushes, one request each way, and counts D1's `rows_written`.", "");
  out.push("| Migrations | Steps | D1 rows: first flush | last flush | per execution | outbox rows per execution | sessions |", "|---|---|---|---|---|---|---|");
  for (const key of [...new Set(probes.map((p) => `${p.migrations}:${p.steps}`))]) {
    const own = probes.filter((p) => `${p.migrations}:${p.steps}` === key);
    const c = (f) => cell(spread(own.map((p) => p[f])));
    out.push(`| ${own[0].migrations} | ${own[0].steps} | ${c("d1_rows_first_flush")} | ${c("d1_rows_last_flush")} | ${c("d1_rows_per_execution")} | ${c("outbox_rows_per_execution")} | ${own.length} |`);
  }
  out.push("");
  const failures = sessions.flatMap((x) => [
    ...x.failed_requests.map((f) => `${x.migrations} ${x.mode} N=${x.shards} round ${x.round}: request ${f}`),
    ...x.failed_batches.map((f) => `${x.migrations} ${x.mode} N=${x.shards} round ${x.round}: shard ${f.shard}, ${f.flushes} flush(es): ${f.error}`),
  ]);
  const probeFailures = probes.flatMap((p) => p.failed.map((f) => `probe ${p.migrations} N=${p.shards} ${p.steps}-step: ${f}`));
  const all = [...kept.flatMap((k) => k.errors.map((e) => `(earlier run ${k.date}) ${e}`)), ...meta.errors, ...failures, ...probeFailures];
  const shown = all.slice(0, 50).map((f) => `- ${f}`);
  if (all.length > shown.length) shown.push(`- … and ${all.length - shown.length} more (all in scale.json)`);
  out.push("## Failed batches", "", ...(all.length ? shown : ["None: every batch of every session was accepted."]), "");
  return out.join("\n");
}
