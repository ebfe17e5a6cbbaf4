/**
 * Step runners by step type. The Durable Object looks a step's type up here; a type without a
 * runner fails with `UNSUPPORTED_STEP_TYPE`. (llm, map and workflow arrive later.)
 */
import { approvalRunner } from "./approval";
import { httpRunner } from "./http";
import { inputRunner } from "./input";
import { pluginRunner } from "./plugin";
import { transformRunner } from "./transform";
import type { StepRunnerRegistry } from "./types";
import { waitRunner } from "./wait";

export const stepRunners: StepRunnerRegistry = {
  transform: transformRunner,
  http: httpRunner,
  wait: waitRunner,
  plugin: pluginRunner,
  input: inputRunner,
  approval: approvalRunner,
};
