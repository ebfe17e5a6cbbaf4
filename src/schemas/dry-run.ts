/** Dry runs on the wire (SPEC §10, `POST /v1/workflows/{id}/test`): the request and what it answers. */
import { z } from "@hono/zod-openapi";
import { ErrorObject, EventType, ExecutionStatus, StepStatus } from "./executions";
import { JsonValue } from "./json";
import { Timestamp } from "./pages";

export const DryRunMock = z
  .union([
    z.strictObject({ output: JsonValue.openapi({ description: "What each attempt of the step completes with." }) }),
    z.strictObject({
      error: z.strictObject({
        code: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "an UPPER_SNAKE code").max(64).openapi({ example: "HTTP_STATUS" }),
        message: z.string().max(1024),
        retryable: z.boolean().optional().openapi({ description: "Whether the step's retry policy may retry it (default true; `retry_on` still applies)." }),
      }),
    }),
  ])
  .openapi("DryRunMock", { description: "Replaces every attempt of a step: `{ output }` completes it, `{ error }` fails it through its retry policy." });
export type DryRunMock = z.infer<typeof DryRunMock>;

export const DryRunBody = z
  .strictObject({
    input: JsonValue.optional().openapi({ description: "The input, checked against the workflow's `input_schema` as a start's is (default `{}`)." }),
    version: z.number().int().min(1).optional().openapi({ description: "A version of the workflow; the latest when omitted." }),
    mocks: z.record(z.string(), DryRunMock).optional().openapi({ description: "By step id (each must be a step of the workflow)." }),
    answers: z
      .record(z.string(), z.record(z.string(), z.unknown()))
      .optional()
      .openapi({ description: "Answers by input step id, checked as `POST …/steps/{step_id}/answers` checks them." }),
    approve: z.boolean().optional().openapi({ description: "How every approval gate is decided: approved (true, the default) or rejected (false)." }),
    signals: z
      .record(z.string(), JsonValue)
      .optional()
      .openapi({ description: "Signal data by event name, delivered once to the first event step waiting for it; checked against that step's `schema`." }),
  })
  .openapi("DryRunRequest");
export type DryRunBody = z.infer<typeof DryRunBody>;

export const WouldSend = z
  .object({
    method: z.string().openapi({ example: "POST" }),
    url: z.string().openapi({ example: "https://billing.example/invoices/inv-7" }),
    headers: z.record(z.string(), z.string()).openapi({ description: "Lowercase names; secret values are `***`." }),
    body: z.string().nullable(),
  })
  .openapi("WouldSend", { description: "The request an http or llm step would have sent (secrets masked). Nothing was sent." });

export const DryRunStep = z
  .object({
    id: z.string(),
    type: z.string(),
    status: StepStatus,
    attempts: z.number().int().min(0).openapi({ description: "Attempts made (retries of a mocked error included)." }),
    output: JsonValue.optional(),
    error: ErrorObject.optional(),
    mocked: z.boolean(),
    would_send: WouldSend.optional(),
  })
  .openapi("DryRunStep");

export const DryRunEvent = z
  .object({
    time: Timestamp.openapi({ description: "On the dry run's clock, which waits fast-forward." }),
    type: EventType,
    step_id: z.string().optional(),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi("DryRunEvent");

export const DryRunResult = z
  .object({
    status: ExecutionStatus,
    output: JsonValue.optional(),
    error: ErrorObject.optional(),
    steps: z.array(DryRunStep),
    events: z.array(DryRunEvent).openapi({ description: "The events a real run would have recorded, in order (no seq: nothing was recorded)." }),
  })
  .openapi("DryRunResult");
export type DryRunResult = z.infer<typeof DryRunResult>;
