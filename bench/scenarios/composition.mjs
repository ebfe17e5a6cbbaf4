/* global performance */
// Scenario: composition (SPEC §9). A map of 1,000 trivial items in one execution against the peer
// running 1,000 `step.do` in one Workflow instance (its chain of 1,000 steps); and a parent with
// 20 child workflows, from its start to its end, with the round trips between objects per child.
import { pollUntilTerminal, requestOk } from "../lib/http.mjs";
import { field, row } from "../lib/rows.mjs";
import { billedRowsOf } from "./cost.mjs";

const ITEMS = 1000;
const CHILDREN = 20;

const mapDefinition = {
  id: "bench-map-1000",
  steps: [{ id: "each", type: "map", items: "{{ input.n = 0 ? [] : [1..input.n] }}", concurrency: 10, step: { id: "inc", type: "transform", expression: "item + 1" } }],
  output: "$count(steps.each.output)",
};

const childDefinition = { id: "bench-child", steps: [{ id: "one", type: "transform", expression: "input.n + 1" }], output: "steps.one.output" };
const parentDefinition = {
  id: "bench-parent-20",
  parallelism: CHILDREN,
  steps: Array.from({ length: CHILDREN }, (_, i) => ({ id: `c${i}`, type: "workflow", workflow_id: "bench-child", input: { n: i } })),
  output: `$sum([${Array.from({ length: CHILDREN }, (_, i) => `steps.c${i}.output`).join(", ")}])`,
};

async function runOne(client, body) {
  const t0 = performance.now();
  const res = await requestOk(client.base, "POST", "/v1/executions", { headers: client.auth, body });
  const doneAt = await pollUntilTerminal(client, [res.json.id], { intervalMs: 10 });
  const status = await client.status(res.json.id);
  if (!status.ok) throw new Error(`${body.workflow_id} ended ${status.status}`);
  return { id: res.json.id, wallMs: doneAt.get(res.json.id) - t0 };
}

export const composition = {
  id: "composition",
  title: "Composition: map items and child workflows",
  peer: true,
  description:
    `A map of ${ITEMS.toLocaleString("en-US")} trivial \`transform\` items (concurrency 10) in one execution, started and polled every 10 ms to its end, ` +
    `against the peer running ${ITEMS.toLocaleString("en-US")} \`step.do\` in one Workflow instance; storage rows per item from the executions' last ` +
    "`execution.billed_rows` log lines (the 1,000-item map less the same map with no items). " +
    `Then (Stepline only) a parent with ${CHILDREN} \`workflow\` steps, each a one-step child, from its start to its ` +
    "end; round trips per child are the calls between execution objects (the parent's `child_start`, the child's `child_ended`) from the billed-rows lines.",
  async setup({ client }) {
    if (!client.auth) return {};
    for (const def of [mapDefinition, childDefinition, parentDefinition]) await requestOk(client.base, "POST", "/v1/workflows", { headers: client.auth, body: def });
    return {};
  },
  async measure({ client, server }) {
    if (!client.auth) {
      // The peer: one instance of its chain workflow with 1,000 steps.
      const t0 = performance.now();
      const started = await client.start(ITEMS);
      const doneAt = await pollUntilTerminal(client, [started.id], { intervalMs: 10 });
      return { map_wall_ms: doneAt.get(started.id) - t0 };
    }
    const map = await runOne(client, { workflow_id: mapDefinition.id, input: { n: ITEMS } });
    // What an item costs: the rows of the 1,000-item map less those of the same map with no items.
    const empty = await runOne(client, { workflow_id: mapDefinition.id, input: { n: 0 } });
    const [mapRows, emptyRows] = await Promise.all([billedRowsOf(server, [map.id]), billedRowsOf(server, [empty.id])]).then((l) => l.map((x) => x[0]));
    const parent = await runOne(client, { workflow_id: parentDefinition.id });
    const children = (await requestOk(client.base, "GET", `/v1/executions?parent_id=${parent.id}&limit=100`, { headers: client.auth })).json.items.map((e) => e.id);
    const lines = await billedRowsOf(server, [parent.id, ...children]);
    const calls = lines.reduce((sum, l) => sum + (l.child_calls ?? 0), 0);
    return {
      map_wall_ms: map.wallMs,
      map_rows_per_item: mapRows && emptyRows ? (mapRows.storage_rows_written - emptyRows.storage_rows_written) / ITEMS : null,
      map_rows_total: mapRows?.storage_rows_written ?? null,
      map_ms_per_item: map.wallMs / ITEMS,
      children_wall_ms: parent.wallMs,
      children_ms_per_child: parent.wallMs / CHILDREN,
      round_trips_per_child: lines.length === CHILDREN + 1 ? calls / CHILDREN : null,
    };
  },
  rows(results) {
    const s = results.stepline ?? [];
    const pick = (f) => ({ stepline: field(s, (r) => r[f]), peer: field(results.peer, (r) => r[f]) });
    return [
      row({
        scenario: "composition", metric: `map of ${ITEMS.toLocaleString("en-US")} items: wall time`, unit: "ms", better: "lower", ...pick("map_wall_ms"),
        goal: { text: "≥ 10× faster than the peer", met: (r) => r.ratio !== null && r.ratio.median >= 10 },
        note: `peer: ${ITEMS.toLocaleString("en-US")} \`step.do\` in one Workflow instance`,
      }),
      row({
        scenario: "composition", metric: "map: storage rows written per item", unit: "rows", better: "lower", stepline: field(s, (r) => r.map_rows_per_item),
        goal: { text: "≤ 2 rows per item", met: (r) => r.stepline.median <= 2 },
        note: "(rows of the 1,000-item map − rows of the same map with no items) ÷ 1,000: an item's row and the event of its end",
      }),
      row({ scenario: "composition", metric: `map of ${ITEMS.toLocaleString("en-US")} items: storage rows written in all`, unit: "rows", better: "lower", stepline: field(s, (r) => r.map_rows_total) }),
      row({ scenario: "composition", metric: `parent with ${CHILDREN} children: start to end`, unit: "ms", better: "lower", stepline: field(s, (r) => r.children_wall_ms) }),
      row({ scenario: "composition", metric: `parent with ${CHILDREN} children: per child`, unit: "ms", better: "lower", stepline: field(s, (r) => r.children_ms_per_child) }),
      row({ scenario: "composition", metric: "round trips between objects per child", unit: "calls", better: "lower", stepline: field(s, (r) => r.round_trips_per_child) }),
    ];
  },
};
