/**
 * A dry run of a registered workflow (SPEC §10, `POST /v1/workflows/{id}/test`): the definition is
 * resolved and the input checked as a start's are (same errors), the request's mocks, answers and
 * signals are checked against the definition (every problem in one 400), and the run is played out
 * in memory by the engine (engine/dry-run.ts). Nothing is stored and nothing is sent: no Durable
 * Object, no D1 write, no outbound request.
 */
import { planHashOf } from "../engine/approvals";
import { dryRun, type DryRunEnvironment } from "../engine/dry-run";
import { validateJsonValue } from "../engine/json-schema-validate";
import { kindOf } from "../engine/steps/registry";
import { toHex } from "../lib/digest";
import { isoTime } from "../lib/time";
import { allowedPrivateHosts, llmSettings, workerSecret } from "../lib/worker-env";
import type { EventStep, WorkflowDefinition } from "../schemas/definition";
import type { DryRunBody, DryRunResult } from "../schemas/dry-run";
import type { FieldError } from "../schemas/errors";
import { assertRunnable, assertValidInput, resolveDefinition } from "./definitions";
import { ValidationError } from "./errors";

/** RFC 6901 escaping of one segment (a step id or event name inside a path). */
const segment = (s: string): string => s.replaceAll("~", "~0").replaceAll("/", "~1");

/** Answers, signals and normalised answers as the engine takes them, or every problem of the request. */
function requestProblems(def: WorkflowDefinition, body: DryRunBody): { problems: FieldError[]; answers: Record<string, Record<string, unknown>> } {
  const problems: FieldError[] = [];
  const problem = (path: string, message: string, code: string): void => void problems.push({ path, message, code, in: "body" });
  const steps = new Map(def.steps.map((s) => [s.id, s]));
  for (const id of Object.keys(body.mocks ?? {})) {
    if (!steps.has(id)) problem(`/mocks/${segment(id)}`, `the workflow has no step '${id}'`, "UNKNOWN_STEP");
  }
  const answers: Record<string, Record<string, unknown>> = {};
  for (const [id, given] of Object.entries(body.answers ?? {})) {
    const step = steps.get(id);
    const takes = step ? kindOf(step.type)?.answers : undefined;
    if (!step || !takes) {
      problem(`/answers/${segment(id)}`, step ? `step '${id}' is a ${step.type} step: it takes no answers` : `the workflow has no step '${id}'`, "UNKNOWN_STEP");
      continue;
    }
    const checked = takes.check(step, given);
    if (checked.ok) answers[id] = checked.answers;
    else for (const p of checked.problems) problem(`/answers/${segment(id)}${p.path}`, p.message, "INVALID_ANSWER");
  }
  for (const [event, data] of Object.entries(body.signals ?? {})) {
    // The first event step of that name is the one the signal goes to (a real signal sent before the run would be kept for it).
    const target = def.steps.find((s): s is EventStep => s.type === "event" && s.event === event);
    if (!target) {
      problem(`/signals/${segment(event)}`, `no event step of the workflow waits for '${event}'`, "UNKNOWN_EVENT");
      continue;
    }
    if (target.schema === undefined) continue;
    for (const p of validateJsonValue(target.schema as Record<string, unknown> | boolean, data)) {
      problem(`/signals/${segment(event)}${p.path.replace(/^#/, "")}`, p.message, "INVALID_SIGNAL");
    }
  }
  return { problems, answers };
}

export async function dryRunWorkflow(env: Env, tenant: string, workflowId: string, body: DryRunBody): Promise<DryRunResult> {
  const resolved = await resolveDefinition(env.DB, tenant, { workflow_id: workflowId, ...(body.version !== undefined ? { version: body.version } : {}) });
  assertRunnable(resolved.definition);
  const input = body.input ?? {};
  assertValidInput(resolved.definition, input);
  const { problems, answers } = requestProblems(resolved.definition, body);
  if (problems.length > 0) throw new ValidationError(problems, `The dry run's request has ${problems.length} problem${problems.length === 1 ? "" : "s"}.`);

  const environment: DryRunEnvironment = {
    now: Date.now(),
    random: Math.random,
    secret: (name) => workerSecret(env, name),
    llm: llmSettings(env),
    allowedPrivateHosts: allowedPrivateHosts(env),
  };
  const result = await dryRun(
    {
      // Shaped like an execution id, so what steps render from it looks as it will; it names nothing stored.
      executionId: `ex_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`,
      tenant,
      workflowId: resolved.workflowId,
      workflowVersion: resolved.workflowVersion,
      definitionHash: resolved.hash,
      definition: resolved.definition,
      input,
      planHash: await planHashOf(resolved.hash, input),
      mocks: body.mocks ?? {},
      answers,
      approve: body.approve ?? true,
      signals: body.signals ?? {},
    },
    environment,
  );
  return {
    ...result,
    events: result.events.map((e) => ({ time: isoTime(e.time), type: e.type, ...(e.stepId !== undefined ? { step_id: e.stepId } : {}), data: e.data ?? {} })),
  };
}
