/** The execution's row in the D1 index (written through the outbox: runtime.ts `indexed`). */
import { isTerminalExecution } from "../../engine/state-machine";
import type { ExecutionIndexRow, StepOutcomeSummary } from "../../store/executions";
import type { ExecutionRecord, StepRecord } from "../storage/state-store";

function stepSummary(st: StepRecord): StepOutcomeSummary {
  return {
    id: st.id,
    status: st.status,
    attempts: st.attempts,
    duration_ms: st.startedAt !== null && st.endedAt !== null ? st.endedAt - st.startedAt : null,
  };
}

/**
 * An ended execution's row carries its steps' outcomes for telemetry (`steps`, in definition
 * order): written once it ends, so no running execution pays for it on every move.
 */
export function indexRow(e: ExecutionRecord, steps?: ReadonlyMap<string, StepRecord>): ExecutionIndexRow {
  return {
    tenant: e.tenant,
    id: e.id,
    workflowId: e.workflowId,
    workflowVersion: e.workflowVersion,
    status: e.status,
    labels: e.labels,
    errorCode: e.error?.code ?? null,
    costUsd: e.cost.total_usd,
    inputTokens: e.cost.input_tokens,
    outputTokens: e.cost.output_tokens,
    createdAt: e.createdAt,
    startedAt: e.startedAt,
    endedAt: e.endedAt,
    stateVersion: e.stateVersion,
    parent: e.parent ? { executionId: e.parent.executionId, stepId: e.parent.stepId } : null,
    ...(steps && isTerminalExecution(e.status) ? { steps: [...steps.values()].map(stepSummary) } : {}),
  };
}
