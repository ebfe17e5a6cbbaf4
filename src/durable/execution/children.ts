/**
 * Child executions (`workflow` steps, SPEC §9), the object's side. Three kinds of message go
 * through the outbox, each written in the transaction of the move that owes it and removed only
 * once the other object acknowledged it (so each is retried, with the outbox's backoff, until it
 * lands):
 *
 * - `child_start` (parent → child): written with the step's move to `waiting`. The child's id is
 *   derived from (parent, step, attempt), so a start sent twice finds the child the first made.
 * - `child_cancel` (parent → child): written when a step that waits for its child is cancelled (the
 *   parent ended or was cancelled) and its `parent_close` is `cancel` (runtime.ts).
 * - `child_ended` (child → parent): written with the child's end (runtime.ts). The parent applies
 *   it once: only the step that waits for that child, at that attempt, moves.
 *
 * `prepare` reads the registry for a step's attempt: the child's pinned definition and what its
 * start pins in turn (prices, budgets, its own children's versions).
 */
import { OneAtATime } from "../../lib/one-at-a-time";
import { childExecutionId, awaitedChild, decideChildEnded } from "../../engine/children";
import { NonRetriableError, RetryableError } from "../../engine/errors";
import { validateJsonValue } from "../../engine/json-schema-validate";
import { planHashOf } from "../../engine/approvals";
import { ConcurrencyKeyProblem, renderConcurrency } from "../../engine/slots";
import { modelsOf } from "../../engine/steps/llm";
import { unrunnableSteps } from "../../engine/steps/registry";
import type { ChildRequest, ChildStarter } from "../../engine/steps/types";
import { MAX_DEPTH } from "../../schemas/limits";
import type { WorkflowDefinition } from "../../schemas/definition";
import type { ChildEndedArgs, CreateExecutionArgs, ParentLink } from "../../schemas/execution-rpc";
import { startContext } from "../../store/start-context";
import { findWorkflowVersion, type WorkflowVersionRecord } from "../../store/workflows";
import type { CancelPayload, ChildMessageKind, EndedPayload } from "../storage/outbox";
import type { ExecutionRuntime, LoadedState } from "./runtime";
import { settlingOf } from "./loaded-state";

export class Children {
  private readonly sending = new OneAtATime<boolean>();
  /** Calls to other executions' objects since this instance started (reported with the billed rows). */
  calls = 0;

  constructor(private readonly rt: ExecutionRuntime) {}

  /** The `ctx.children` of one attempt of a `workflow` step. */
  /** `item`: the map item whose sub-step starts the child. */
  starter(s: LoadedState, stepId: string, attempt: number, item?: number): ChildStarter {
    return { prepare: (request) => this.prepare(s, stepId, attempt, item, request) };
  }

  private async prepare(s: LoadedState, stepId: string, attempt: number, item: number | undefined, req: ChildRequest): Promise<CreateExecutionArgs> {
    const parent = s.execution;
    const depth = parent.depth + 1;
    if (depth > MAX_DEPTH) {
      throw new NonRetriableError("MAX_DEPTH", `The child would run at depth ${depth}; executions nest at most ${MAX_DEPTH} deep.`, { depth, max_depth: MAX_DEPTH });
    }
    const version = req.version ?? parent.childVersions[req.workflowId];
    const db = this.rt.deps.d1;
    const record = await registry(() => findWorkflowVersion(db, parent.tenant, req.workflowId, version));
    if (!record) {
      throw new NonRetriableError("WORKFLOW_NOT_FOUND", `No workflow '${req.workflowId}'${version !== undefined ? ` version ${version}` : ""} to start.`, { workflow_id: req.workflowId });
    }
    const definition = JSON.parse(record.definition) as WorkflowDefinition;
    const unrunnable = unrunnableSteps(definition);
    if (unrunnable.length > 0) {
      throw new NonRetriableError("FEATURE_NOT_AVAILABLE", `Workflow '${req.workflowId}' uses features this engine cannot run yet.`, { problems: unrunnable });
    }
    const problems = definition.input_schema ? validateJsonValue(definition.input_schema, req.input) : [];
    if (problems.length > 0) {
      throw new NonRetriableError("CHILD_INPUT_INVALID", `The input does not match the input_schema of '${req.workflowId}'.`, { problems });
    }
    const id = await childExecutionId(parent.id, stepId, attempt, item);
    return this.startArgs(s, { executionId: parent.id, stepId, attempt, parentClose: req.parentClose, ...(item !== undefined ? { item } : {}) }, req, record, definition, id, depth);
  }

  private async startArgs(
    s: LoadedState,
    link: ParentLink,
    req: ChildRequest,
    record: WorkflowVersionRecord,
    definition: WorkflowDefinition,
    id: string,
    depth: number,
  ): Promise<CreateExecutionArgs> {
    const parent = s.execution;
    const pinned = await registry(() => startContext(this.rt.deps.d1, parent.tenant, record.workflowId, definition, modelsOf(definition), this.rt.deps.env.PRICES));
    if (pinned.missingChildren.length > 0) {
      const names = pinned.missingChildren.map((m) => `'${m.workflowId}'`).join(", ");
      throw new NonRetriableError("WORKFLOW_NOT_FOUND", `Workflow '${req.workflowId}' starts child workflows this tenant does not have: ${names}.`, { missing: pinned.missingChildren });
    }
    let concurrency: CreateExecutionArgs["concurrency"];
    try {
      concurrency = await renderConcurrency(definition, req.input, { id, workflow_id: record.workflowId, workflow_version: record.version }, undefined);
    } catch (err) {
      if (!(err instanceof ConcurrencyKeyProblem)) throw err;
      throw new NonRetriableError("CHILD_INPUT_INVALID", `The concurrency key of '${req.workflowId}' cannot be made from this input: ${err.message}`);
    }
    return {
      id,
      tenant: parent.tenant,
      workflowId: record.workflowId,
      workflowVersion: record.version,
      definitionHash: record.hash,
      definition,
      input: req.input,
      labels: {},
      requestHash: null,
      planHash: await planHashOf(record.hash, req.input),
      audit: null,
      prices: pinned.prices,
      budget: definition.budget ? { max_usd: definition.budget.max_usd, on_exceed: definition.budget.on_exceed } : null,
      budgetIds: pinned.budgetIds,
      concurrency,
      origin: parent.origin,
      parent: link,
      depth,
      childVersions: pinned.childVersions,
    };
  }

  // ------------------------------------------------------------------ the parent's side

  /**
   * A child's end arrived (from its outbox). Applied once: only a step that waits for that child at
   * the attempt that started it moves; a repeat, a late end (the step was cancelled, retried) or an
   * end after the execution ended is acknowledged and changes nothing.
   */
  ended(args: ChildEndedArgs): boolean {
    const s = this.rt.owned(args.tenant);
    const st = s?.steps.get(args.stepId);
    if (!s || !st || st.status !== "waiting" || st.attempts !== args.attempt || awaitedChild(st.output) !== args.childId) return false;
    this.rt.apply(s, decideChildEnded(settlingOf(s, st, args.attempt, this.rt.deps.clock.now()), args, s.execution.status, this.rt.deps.random));
    return true;
  }

  // ------------------------------------------------------------------ delivery

  /** Sends the child messages in order; resolves false when one failed (it and the rest wait for the retry). */
  async deliver(): Promise<boolean> {
    return this.sending.run(() => this.send());
  }

  private send(): Promise<boolean> {
    return this.rt.outbox.sendInOrder(this.rt.outbox.childMessages(), (m) => {
      this.calls += 1;
      return this.sendOne(m.kind, m.payload);
    });
  }

  private async sendOne(kind: ChildMessageKind, payload: string): Promise<void> {
    switch (kind) {
      case "child_start": {
        const args = JSON.parse(payload) as CreateExecutionArgs;
        await this.rt.deps.executions(args.id).create(args); // created, or the one a previous send made
        return;
      }
      case "child_cancel": {
        const p = JSON.parse(payload) as CancelPayload;
        const r = await this.rt.deps.executions(p.childId).command(p.tenant, "cancel", null);
        // Cancelled, or already ended: either way nothing is left to cancel. A child not there yet
        // cannot be: its start was sent (and acknowledged) before this cancel.
        if (!r.ok && r.reason === "not_found") throw new Error(`child ${p.childId} not found`);
        return;
      }
      case "child_ended": {
        const { parentId, ...args } = JSON.parse(payload) as EndedPayload;
        await this.rt.deps.executions(parentId).childEnded(args);
        return;
      }
    }
  }
}

/** A registry read: a D1 failure is retryable (the attempt fails `REGISTRY_UNAVAILABLE` and its retry policy decides). */
async function registry<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new RetryableError("REGISTRY_UNAVAILABLE", `The workflow registry could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
}
