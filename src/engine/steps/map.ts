/**
 * `map`: runs its sub-step once per item (SPEC §9). The object runs the items
 * (durable/execution/map-runs.ts: a runner keeps at most `concurrency` in flight, one row per
 * item), so `run` is never called for it; what each item's attempt records is decided in
 * ../map.ts. A dry run simulates the sub-step for each item in turn (nothing leaves the service).
 */
import type { MapStep } from "../../schemas/definition";
import { NonRetriableError } from "../errors";
import { renderTemplate } from "../evaluate";
import { MAX_MAP_ITEMS } from "../../schemas/limits";
import type { ExpressionScope, StepKind, StepKinds } from "./types";


/** The list a map fans out over, from the evaluated `items`. Throws MAP_TOO_LARGE over the limit. */
export function mapItemList(value: unknown): unknown[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length > MAX_MAP_ITEMS) {
    throw new NonRetriableError("MAP_TOO_LARGE", `items evaluated to ${list.length} items; a map fans out over at most ${MAX_MAP_ITEMS}.`, { count: list.length, max: MAX_MAP_ITEMS });
  }
  return list;
}

/** What an item's sub-step sees: the execution's scope plus `item` and `index`. */
export function itemScope(scope: ExpressionScope, item: unknown, index: number): ExpressionScope & { item: unknown; index: number } {
  return { ...scope, item, index };
}

/** Sub-step types a map item cannot run yet: they wait for a person, a signal or a sleep, or are costed per call. */
export const ITEM_TYPES_NOT_RUNNABLE = ["wait", "approval", "input", "event", "llm"] as const;

/** The map kind, given the kinds its items run (the registry's). */
export function mapKindOver(kinds: () => StepKinds): StepKind<MapStep> {
  return {
    async run() {
      throw new NonRetriableError("UNSUPPORTED_STEP_TYPE", "A map step runs through the object's map runner.");
    },
    // Its items run under their own timeouts; the map is bounded by them and the execution's.
    attemptTimeoutMs: () => null,
    async simulate(step, ctx) {
      const sub = kinds()[step.step.type] as StepKind | undefined;
      const items = mapItemList(await renderTemplate(step.items, ctx.scope, undefined, "items"));
      const outputs: unknown[] = [];
      for (const [index, item] of items.entries()) {
        const sim = sub ? await sub.simulate(step.step, { ...ctx, scope: itemScope(ctx.scope, item, index) }) : null;
        outputs.push(sim?.outcome.kind === "completed" ? (sim.outcome.output ?? null) : null);
      }
      return { outcome: { kind: "completed", output: outputs } };
    },
  };
}
