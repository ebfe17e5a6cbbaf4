/**
 * What a retry of an ended execution would run again (SPEC §10, redrive preview), in pure code. A
 * plain retry reruns the steps that failed or were cancelled, and those that never ran; a retry
 * `from_step` also reruns that step and everything downstream of it. The rest keep their outputs
 * and attempts. The preview names the steps whose side effects a rerun repeats — requests an http
 * step sent (not GET, HEAD or OPTIONS), llm calls, child executions — with how many attempts sent
 * them, and what the rerun should cost, from what those steps' last attempts cost.
 */
import type { CompiledPlan } from "./scheduler";
import type { StepRecord } from "./model";
import type { UsageEntry } from "./usage";
import type { Step } from "../schemas/definition";
import { roundUsd } from "./usage";

export interface RedrivePlan {
  rerun: string[];
  kept: string[];
}

/** Steps of a rerun: `fromStep` and its downstream (when given), and every step that did not complete. */
export function redrivePlan(plan: CompiledPlan, steps: ReadonlyMap<string, Readonly<StepRecord>>, fromStep?: string): RedrivePlan {
  const rerun = new Set<number>();
  if (fromStep !== undefined) {
    const stack = [plan.indexOf.get(fromStep)!];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (rerun.has(i)) continue;
      rerun.add(i);
      stack.push(...plan.dependents[i]!);
    }
  }
  plan.ids.forEach((id, i) => {
    const status = steps.get(id)?.status ?? "pending";
    if (status !== "completed" && status !== "skipped") rerun.add(i);
  });
  return {
    rerun: plan.ids.filter((_, i) => rerun.has(i)),
    kept: plan.ids.filter((_, i) => !rerun.has(i)),
  };
}

export interface RepeatedSideEffect {
  step_id: string;
  type: string;
  method?: string;
  url?: string;
  attempts_sent: number;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The rerun steps whose earlier attempts reached the outside world, and how many did. */
export function repeatedSideEffects(rerun: readonly string[], defs: ReadonlyMap<string, Step>, steps: ReadonlyMap<string, Readonly<StepRecord>>): RepeatedSideEffect[] {
  const out: RepeatedSideEffect[] = [];
  for (const id of rerun) {
    const def = defs.get(id)!;
    const attempts = steps.get(id)?.attempts ?? 0;
    if (attempts === 0) continue;
    if (def.type === "http" && !SAFE_METHODS.has(def.request.method)) out.push({ step_id: id, type: def.type, method: def.request.method, url: def.request.url, attempts_sent: attempts });
    else if (def.type === "llm" || def.type === "workflow" || (def.type === "map" && def.step.type !== "transform")) out.push({ step_id: id, type: def.type, attempts_sent: attempts });
  }
  return out;
}

/** What the rerun steps' last attempts cost (a guess at what running them again costs), in USD. */
export function estimatedRerunCost(rerun: readonly string[], steps: ReadonlyMap<string, Readonly<StepRecord>>, usage: readonly UsageEntry[]): number {
  const wanted = new Map(rerun.map((id) => [id, steps.get(id)?.attempts ?? 0]));
  let total = 0;
  for (const u of usage) if (wanted.get(u.stepId) === u.attempt && u.cost_usd !== null) total += u.cost_usd;
  return roundUsd(total);
}
