/**
 * Step kinds by step type: the one list of the types that run. Adding a type is one file,
 * `./<type>.ts` exporting a `StepKind`, plus one line here. A type without a kind
 * registers, but starting it is refused (`FEATURE_NOT_AVAILABLE`) and the
 * Durable Object fails such a step with `UNSUPPORTED_STEP_TYPE`.
 */
import type { StepType } from "../../schemas/definition";
import { approvalKind } from "./approval";
import { eventKind } from "./event";
import { httpKind } from "./http";
import { inputKind } from "./input";
import { llmKind } from "./llm";
import { pluginKind } from "./plugin";
import { transformKind } from "./transform";
import type { StepKind, StepKinds } from "./types";
import { waitKind } from "./wait";
import { workflowKind } from "./workflow";
import { ITEM_TYPES_NOT_RUNNABLE, mapKindOver } from "./map";

export const stepKinds: StepKinds = {
  transform: transformKind,
  http: httpKind,
  wait: waitKind,
  plugin: pluginKind,
  input: inputKind,
  approval: approvalKind,
  llm: llmKind,
  event: eventKind,
  workflow: workflowKind,
  map: mapKindOver(() => stepKinds),
};

/**
 * The kind of `type` in `kinds` (default: `stepKinds`), or undefined when that type does not run
 * yet. Typed for any step: the caller hands it the step whose `type` it looked up.
 */
export function kindOf(type: StepType, kinds: StepKinds = stepKinds): StepKind | undefined {
  return kinds[type] as StepKind | undefined;
}

/** A step of a definition that this engine cannot run yet: where it is and why. */
export interface UnrunnableStep {
  /** JSON Pointer of its `type` in the definition. */
  path: string;
  message: string;
}

/** The steps of `def` whose type has no kind (they register, but an execution of them is refused). */
export function unrunnableSteps(def: { steps: readonly { type: StepType }[] }, kinds: StepKinds = stepKinds): UnrunnableStep[] {
  const out: UnrunnableStep[] = [];
  def.steps.forEach((step, i) => {
    if (!kinds[step.type]) out.push({ path: `/steps/${i}/type`, message: `step type '${step.type}' cannot run yet` });
    const sub = "step" in step ? (step.step as { type: StepType }).type : null;
    if (sub !== null && (ITEM_TYPES_NOT_RUNNABLE as readonly string[]).includes(sub)) {
      out.push({ path: `/steps/${i}/step/type`, message: `a map item cannot run '${sub}' steps yet` });
    }
  });
  return out;
}
