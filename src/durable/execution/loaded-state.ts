/**
 * The execution as the object holds it in memory: its records, definitions by step, the compiled
 * plan, the expression scope over them, and the secret values to mask. Built from storage on load
 * (`ExecutionRuntime.load`) or from what `create` writes.
 */
import { referencedSecrets } from "../../engine/expressions";
import { compilePlan, type CompiledPlan } from "../../engine/scheduler";
import type { Settling } from "../../engine/outcomes";
import type { ExpressionScope } from "../../engine/steps/types";
import type { Step } from "../../schemas/definition";
import { isoTime } from "../../lib/time";
import { workerSecret } from "../../lib/worker-env";
import type { ExecutionRecord, StepRecord } from "../storage/state-store";

export interface LoadedState {
  execution: ExecutionRecord;
  steps: Map<string, StepRecord>;
  defs: Map<string, Step>;
  plan: CompiledPlan;
  /** What expressions see, as live views of the records above (see `liveScope`). */
  scope: ExpressionScope;
  /**
   * The value of every secret the definition names (`secrets.NAME`), whichever step or attempt
   * resolves it: masked (`***`) in everything recorded (see `ExecutionRuntime.mask`).
   */
  secretValues: readonly string[];
}

/**
 * The expression scope as views of the loaded records, built once per load: every read sees the
 * record as it is now. Building a fresh scope per step would cost O(steps) each time (a 100-step
 * chain spent more on that than on evaluating). Views are safe for what runs inside the drive's
 * task (pure steps, `if`, outputs): nothing else changes a record until it yields. A runner that
 * does I/O gets a snapshot instead (`snapshotScope`), so it sees the state its attempt started in.
 */
function liveScope(execution: ExecutionRecord, steps: ReadonlyMap<string, StepRecord>): ExpressionScope {
  const views: ExpressionScope["steps"] = {};
  for (const st of steps.values()) {
    views[st.id] = {
      get output() {
        return st.output;
      },
      get status() {
        return st.status;
      },
    };
  }
  return {
    get input() {
      return execution.input; // a rerun may bring a new one
    },
    steps: views,
    execution: {
      id: execution.id,
      workflow_id: execution.workflowId,
      workflow_version: execution.workflowVersion,
      get attempt() {
        return execution.attempt;
      },
      get started_at() {
        return isoTime(execution.startedAt);
      },
    },
  };
}

export function loadedState(execution: ExecutionRecord, stepList: readonly StepRecord[], env: Env): LoadedState {
  const steps = new Map(stepList.map((s) => [s.id, s]));
  const defs = new Map(execution.definition.steps.map((s) => [s.id, s]));
  const secretValues = referencedSecrets(execution.definition)
    .map((name) => workerSecret(env, name))
    .filter((v): v is string => v !== undefined && v !== "");
  return { execution, steps, defs, plan: compilePlan(execution.definition.steps), scope: liveScope(execution, steps), secretValues };
}

/** What deciding on a result of `st`'s `attempt` needs (engine/outcomes.ts), as the loaded execution says it. */
export function settlingOf(s: LoadedState, st: StepRecord, attempt: number, now: number): Settling {
  const e = s.execution;
  return { step: st, def: s.defs.get(st.id)!, attempt, now, workflow: e.definition, planHash: e.planHash, secrets: s.secretValues };
}

export { workerSecret };
