/**
 * Step kinds by step type: the one list of the types that run. Adding a type is one file,
 * `./<type>.ts` exporting a `StepKind`, plus one line here. A type without a kind (map and
 * workflow, for now) registers, but starting it is refused (`FEATURE_NOT_AVAILABLE`) and the
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

export const stepKinds: StepKinds = {
  transform: transformKind,
  http: httpKind,
  wait: waitKind,
  plugin: pluginKind,
  input: inputKind,
  approval: approvalKind,
  llm: llmKind,
  event: eventKind,
};

/**
 * The kind of `type` in `kinds` (default: `stepKinds`), or undefined when that type does not run
 * yet. Typed for any step: the caller hands it the step whose `type` it looked up.
 */
export function kindOf(type: StepType, kinds: StepKinds = stepKinds): StepKind | undefined {
  return kinds[type] as StepKind | undefined;
}
