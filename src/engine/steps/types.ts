/**
 * The contract between the execution Durable Object and step runners. Runners are pure with
 * respect to storage: they get everything through `StepContext` and return a `StepOutcome`;
 * the Durable Object persists the outcome, schedules timers and emits events.
 */
import type { InputQuestion, Step, StepType } from "../../schemas/definition";

/** What expressions see: `{ input, steps: { <id>: { output, status } }, execution }`. */
export interface ExpressionScope {
  input: unknown;
  steps: Record<string, { output: unknown; status: string }>;
  execution: { id: string; workflow_id: string; workflow_version: number; attempt: number; started_at: string | null };
}

/**
 * Secret access for one attempt. `get` resolves `secrets.NAME` (the Worker secret `SECRET_NAME`)
 * and remembers every value it handed out, so the caller can mask them (`***`) in whatever it
 * records: outputs, errors, events, logs.
 */
export interface SecretResolver {
  get(name: string): string | undefined;
  /** Values resolved so far in this attempt. */
  readonly used: ReadonlySet<string>;
}

export interface StepContext {
  executionId: string;
  stepId: string;
  /** 1-based attempt number of this run of the step. */
  attempt: number;
  scope: ExpressionScope;
  /** Aborted on step timeout, cancel, or execution timeout. */
  signal: AbortSignal;
  /** Outbound HTTP (the global fetch in production; tests route it to a local upstream). */
  fetch: typeof fetch;
  secrets: SecretResolver;
  /** `host:port` pairs allowed although private/loopback (ALLOWED_PRIVATE_HOSTS). */
  allowedPrivateHosts: readonly string[];
  now: () => number;
}

export type StepOutcome =
  | { kind: "completed"; output: unknown }
  /** The step sleeps until `until` (epoch ms), then completes with `output` (wait steps). */
  | { kind: "sleep"; until: number; output: unknown }
  /** The step waits for people to answer these questions (input steps). */
  | { kind: "ask"; questions: InputQuestion[] }
  /** The step waits for an approver's decision; `comment` is what they are shown (approval steps). */
  | { kind: "approval"; comment?: string };

/** Runs one attempt of one step type; throws a StepError (see ../errors.ts) on failure. */
export interface StepRunner<S extends Step = Step> {
  run(step: S, ctx: StepContext): Promise<StepOutcome>;
  /**
   * True when an attempt has no effect outside its output (no I/O, no waiting): it may run before
   * anything is recorded, and its start and end are recorded together. An attempt cut off midway
   * left nothing behind, so running it again is the same as running it once.
   */
  readonly pure?: boolean;
}

export type StepRunnerRegistry = { [K in StepType]?: StepRunner<Extract<Step, { type: K }>> };
