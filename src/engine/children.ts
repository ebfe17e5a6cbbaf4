/**
 * Child executions (`workflow` steps, SPEC §9), decided in pure code: the child's id, and what its
 * end does to the step that waits for it. The Durable Object prepares and starts children
 * (durable/execution/children.ts); the engine decides.
 */
import type { Decision } from "./decision";
import type { ChildWait } from "./model";
import { StepError, type ErrorInfo } from "./errors";
import { decideFailure, decideOutcome, type Settling } from "./outcomes";
import type { ExecutionStatus } from "../schemas/executions";
import type { ChildEndedArgs } from "../schemas/execution-rpc";
import { sha256Hex } from "../lib/digest";

/** Ends of a child that hand its output to the step; any other end fails it `CHILD_FAILED`. */
const SUCCEEDED = new Set<string>(["completed", "partial"]);

/**
 * The id of the child a step's attempt starts: derived from (parent, step, attempt), so a start
 * sent again (the outbox retrying, the object restarting) reaches the same child, and a new
 * attempt starts a new one.
 */
export async function childExecutionId(parentId: string, stepId: string, attempt: number, item?: number): Promise<string> {
  const at = item === undefined ? `${stepId}` : `${stepId}\n${item}`;
  return `ex_${(await sha256Hex(`child\n${parentId}\n${at}\n${attempt}`)).slice(0, 32)}`;
}

/** True when a child that ended `status` hands its output over (any other end is CHILD_FAILED). */
export function childSucceeded(status: string): boolean {
  return SUCCEEDED.has(status);
}

/** The child a waiting step waits for, or null when it does not wait for one. */
export function awaitedChild(output: unknown): string | null {
  const id = (output as Partial<ChildWait> | null | undefined)?.execution_id;
  return typeof id === "string" ? id : null;
}

/**
 * A child ended (c.step waits for it, at the attempt that started it): completed or partial hands
 * the child's output to the step; failed, timed out, cancelled or rejected fails the attempt
 * `CHILD_FAILED`, with the child's error in `details`, through the step's retry policy (a retry
 * starts a new child). A `waiting` execution wakes with it.
 */
export function decideChildEnded(c: Settling, end: ChildEndedArgs, executionStatus: ExecutionStatus, random: () => number): Decision {
  const d = SUCCEEDED.has(end.status)
    ? decideOutcome(c, { kind: "completed", output: end.output ?? null })
    : decideFailure(c, childFailed(end), random);
  if (executionStatus === "waiting") d.execution = [{ command: "wake", patch: { waitingFor: null } }];
  return d;
}

/** The error a child's unsuccessful end gives the step (or map item) that waited for it. */
export function childFailed(end: ChildEndedArgs): StepError {
  const child: Record<string, unknown> = { execution_id: end.childId, status: end.status };
  if (end.error) child.error = end.error satisfies ErrorInfo;
  return new StepError("CHILD_FAILED", `The child execution ${end.childId} ended ${end.status}.`, { retryable: true, details: { child } });
}
