/**
 * The workflow definition: what a client registers (SPEC §2), as one zod schema.
 *
 * It is the single source of truth for the shape of a definition: the request body of
 * `POST /v1/workflows`, the `definition` of a workflow version, the OpenAPI components, and the
 * JSON Schema served to editors (`z.toJSONSchema(WorkflowDefinition)`). Hence:
 * - every object is strict, so a typo (`need`, `timeout`) is an error, not a silently ignored key;
 * - no `.default()` and no `.transform()`: a parsed definition is exactly what was sent, its
 *   canonical JSON (and so its hash) is that of the request, and input and output JSON Schemas
 *   are the same. Defaults are documented (`default` annotations) and applied by the engine;
 * - descriptions and examples are written for the people reading the published schema;
 * - on each named schema, `.openapi(Name)` comes before `.meta(...)`, the order in which both
 *   the OpenAPI generator and `z.toJSONSchema` see the metadata.
 * Shape rules that concern one object (exactly one of `seconds`/`until`, retry intervals in
 * order, unique question ids) are refinements here; rules that need the whole definition (the
 * step graph, expressions, references, JSON Schemas, plugins, size) are in
 * `engine/validate-definition.ts`.
 */
import { z } from "@hono/zod-openapi";
import {
  DEFAULT_PARALLELISM,
  DEFAULT_RETRY_POLICY,
  MAX_MAP_ITEMS,
  MAX_DEPTH,
  MAX_PARALLELISM,
  MAX_QUESTIONS,
  MAX_RETRY_ATTEMPTS,
  MAX_RETRY_INTERVAL_MS,
  MAX_STEP_TIMEOUT_SECONDS,
  MAX_STEPS,
  MAX_WORKFLOW_TIMEOUT_SECONDS,
  MAX_BUDGET_USD,
  MAX_CONCURRENCY_KEY_LENGTH,
  MAX_CONCURRENCY_LIMIT,
  MAX_FALLBACK_MODELS,
  MAX_STEP_COST_USD,
} from "./limits";
import { ModelName } from "./costs";

// ---------------------------------------------------------------------------------------------
// Scalars

export const WORKFLOW_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const STEP_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const WorkflowId = z
  .string()
  .regex(WORKFLOW_ID_PATTERN, {
    message: "a workflow id is 1-64 characters: lowercase letters, digits, '_' and '-', starting with a letter or digit",
  })
  .meta({
    description: "Identifier of the workflow, stable across versions: 1-64 of `a-z 0-9 _ -`, starting with a letter or digit.",
    examples: ["invoice-review"],
  });
export type WorkflowId = z.infer<typeof WorkflowId>;

export const StepId = z
  .string()
  .regex(STEP_ID_PATTERN, {
    message:
      "a step id is 1-64 letters, digits and '_', not starting with a digit: expressions read it as steps.<id>, " +
      "so it must be a JSONata identifier (a '-' would be read as a subtraction)",
  })
  .meta({
    description:
      "Step identifier, unique in the workflow: 1-64 of `A-Z a-z 0-9 _`, not starting with a digit. Expressions read a " +
      "step's result as `steps.<id>.output`, so the id must be a JSONata identifier (`fetch-invoice` would parse as a subtraction).",
    examples: ["fetch_invoice"],
  });
export type StepId = z.infer<typeof StepId>;

export const Expression = z
  .string()
  .min(1)
  .max(16_384)
  .meta({
    description:
      "A JSONata expression (https://jsonata.org), evaluated over `{ input, steps: { <id>: { output, status } }, execution }`.",
    examples: ["steps.check.output.total > 1000"],
  });
export type Expression = z.infer<typeof Expression>;

/** Any JSON object, used for JSON Schemas written by the author and for free-form arguments. */
export const JsonObject = z.record(z.string(), z.unknown());
export type JsonObject = z.infer<typeof JsonObject>;

export const JsonSchema = z
  .record(z.string(), z.unknown())
  .openapi("JsonSchema")
  .meta({
    description:
      "A JSON Schema (draft 2020-12). Checked at registration: it must be a valid schema, without unknown keywords " +
      "(prefix annotations with `x-`) and with every `$ref` resolving inside it.",
    examples: [{ type: "object", required: ["invoice_id"], properties: { invoice_id: { type: "string" } } }],
  });
export type JsonSchema = z.infer<typeof JsonSchema>;

const TEMPLATED =
  "Templated: `{{ expr }}` segments are JSONata expressions; a string that is exactly one `{{ expr }}` yields the value itself, other strings interpolate.";

// ---------------------------------------------------------------------------------------------
// Common step fields

export const OnError = z.enum(["fail", "continue"]).meta({
  description:
    "What a failure of this step (after its retries) does: `fail` ends the execution `failed`; `continue` records the " +
    "failure, lets steps that need this one run (they see `steps.<id>.status = 'failed'`) and ends the execution `partial`.",
  default: "fail",
});
export type OnError = z.infer<typeof OnError>;

export const RetryPolicy = z
  .strictObject({
    max_attempts: z
      .int()
      .min(1)
      .max(MAX_RETRY_ATTEMPTS)
      .meta({ description: "Attempts in total, the first one included (1 = no retry).", examples: [3] }),
    backoff: z.enum(["constant", "exponential"]).optional().meta({
      description: "`constant`: every wait is `initial_interval_ms`; `exponential`: the wait doubles after each attempt.",
      default: DEFAULT_RETRY_POLICY.backoff,
    }),
    initial_interval_ms: z.int().min(0).max(MAX_RETRY_INTERVAL_MS).optional().meta({
      description: "Wait before the second attempt, in milliseconds.",
      default: DEFAULT_RETRY_POLICY.initial_interval_ms,
      examples: [500],
    }),
    max_interval_ms: z.int().min(0).max(MAX_RETRY_INTERVAL_MS).optional().meta({
      description: "Cap on any wait between attempts, in milliseconds; at least `initial_interval_ms`.",
      default: DEFAULT_RETRY_POLICY.max_interval_ms,
      examples: [30_000],
    }),
    jitter: z.boolean().optional().meta({
      description: "Full jitter: each wait is a random duration between 0 and the computed interval, so retries of many executions spread out.",
      default: DEFAULT_RETRY_POLICY.jitter,
    }),
    retry_on: z
      .array(
        z.string().regex(/^[A-Z][A-Z0-9_]*$/, { message: "an error code is UPPER_SNAKE_CASE" }).max(64),
      )
      .min(1)
      .max(50)
      .optional()
      .meta({
        description:
          "Only errors with one of these codes are retried (e.g. `STEP_TIMEOUT`, `HTTP_STATUS`, `NETWORK_ERROR`). When absent, " +
          "every retryable error is retried; errors marked non-retriable never are. Registration refuses a code no step error has " +
          "(the engine's codes, and those the deployment's plugins declare).",
        examples: [["STEP_TIMEOUT", "HTTP_STATUS"]],
      }),
  })
  .refine(
    (p) => p.max_interval_ms === undefined || p.max_interval_ms >= (p.initial_interval_ms ?? DEFAULT_RETRY_POLICY.initial_interval_ms),
    { message: "max_interval_ms must not be less than initial_interval_ms", path: ["max_interval_ms"] },
  )
  .openapi("RetryPolicy")
  .meta({ description: "How a failed attempt of the step is retried." });
export type RetryPolicy = z.infer<typeof RetryPolicy>;

/** Fields every step type takes (SPEC §2), spread into each step object. */
const commonStepFields = {
  id: StepId,
  name: z.string().min(1).max(200).optional().meta({ description: "Human-readable label shown in traces and dashboards." }),
  needs: z
    .array(StepId)
    .max(MAX_STEPS)
    .optional()
    .meta({
      description:
        "Steps that must end before this one starts. Steps whose needs are met run concurrently (up to the workflow's " +
        "`parallelism`). A step whose needs were all skipped is skipped too. The graph must not have cycles.",
      examples: [["fetch"]],
    }),
  if: Expression.optional().meta({
    description:
      "JSONata condition evaluated when the step is ready; a false result skips the step (status `skipped`). It may only read " +
      "`steps.<id>` of steps this one needs, directly or transitively.",
    examples: ["steps.check.output.total > 1000"],
  }),
  retry: RetryPolicy.optional(),
  timeout_seconds: z.int().min(1).max(MAX_STEP_TIMEOUT_SECONDS).optional().meta({
    description:
      "Limit on one attempt (for `input` and `approval` steps: on the wait for a human), in seconds. Defaults come from the workflow's `sla_class`.",
    examples: [30],
  }),
  on_error: OnError.optional(),
  cost_usd: z
    .union([
      z.number().min(0).max(MAX_STEP_COST_USD),
      z.string().min(1).max(16_384).meta({ description: "Exactly one `{{ expr }}` over the step's `output` (and the usual scope)." }),
    ])
    .optional()
    .meta({
      description:
        "What a successful attempt of this step costs, in USD, recorded in the usage ledger: a number, or `{{ expr }}` over its " +
        "`output` (a paid API that reports its price). `llm` steps are priced from their token usage; this adds to that.",
      examples: [0.002, "{{ output.body.cost }}"],
    }),
  max_cost_usd: z.number().min(0).max(MAX_STEP_COST_USD).optional().meta({
    description: "The most one attempt of this step may cost, in USD: what budgets reserve before it runs.",
    examples: [0.05],
  }),
};

// ---------------------------------------------------------------------------------------------
// Step types

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;

const StringMap = (what: string) =>
  z.record(z.string().min(1).max(256), z.string().max(8_192)).meta({ description: `${what} ${TEMPLATED}` });

export const HttpRequest = z
  .strictObject({
    method: z.enum(HTTP_METHODS).meta({ description: "HTTP method.", examples: ["GET"] }),
    url: z
      .string()
      .min(1)
      .max(8_192)
      .meta({
        description:
          `Absolute http(s) URL. ${TEMPLATED} Private, loopback, link-local and metadata addresses are refused unless the deployment allows the host.`,
        examples: ["https://billing.example/invoices/{{ input.invoice_id }}"],
      }),
    headers: StringMap("Request headers by name.")
      .optional()
      .meta({
        description: `Request headers by name. ${TEMPLATED} Secrets (\`{{ secrets.NAME }}\`) may be used here; their values are masked as \`***\` everywhere they would be recorded.`,
        examples: [{ authorization: "Bearer {{ secrets.BILLING_TOKEN }}" }],
      }),
    query: StringMap("Query parameters, appended to the URL (encoded).").optional(),
    body: z.unknown().optional().meta({
      description: `Request body: any JSON value, sent as JSON (a string that is not exactly one \`{{ expr }}\` is sent as text). ${TEMPLATED} Every string inside is templated.`,
      examples: ["{{ steps.check.output }}"],
    }),
  })
  .openapi("HttpRequest")
  .meta({ description: "The outbound request of an `http` step." });
export type HttpRequest = z.infer<typeof HttpRequest>;

export const HttpStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("http"),
    request: HttpRequest,
    expect_status: z
      .array(z.int().min(100).max(599))
      .min(1)
      .max(100)
      .optional()
      .meta({
        description: "Response statuses that count as success; any other fails the attempt (error `HTTP_STATUS`). Default: 200-299.",
        examples: [[200, 404]],
      }),
  })
  .openapi("HttpStep")
  .meta({ description: "Sends an HTTP request. Output: `{ status, headers, body }` (body parsed as JSON when it is JSON)." });
export type HttpStep = z.infer<typeof HttpStep>;

export const TransformStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("transform"),
    expression: Expression.meta({
      description: "JSONata expression; its value is the step's output.",
      examples: ["{ 'total': $sum(steps.fetch.output.body.lines.amount) }"],
    }),
  })
  .openapi("TransformStep")
  .meta({ description: "Computes a value with a JSONata expression." });
export type TransformStep = z.infer<typeof TransformStep>;

export const WaitStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("wait"),
    seconds: z
      .int()
      .min(0)
      .max(MAX_WORKFLOW_TIMEOUT_SECONDS)
      .optional()
      .meta({ description: "Sleep this many seconds (a durable timer: nothing runs meanwhile).", examples: [300] }),
    until: z
      .string()
      .min(1)
      .max(1_024)
      .optional()
      .meta({
        description: `Sleep until this instant: an RFC 3339 timestamp with an offset, or a template yielding one. ${TEMPLATED} A past instant does not wait.`,
        examples: ["2026-12-01T09:00:00Z", "{{ steps.schedule.output.start_at }}"],
      }),
  })
  .refine((s) => (s.seconds === undefined) !== (s.until === undefined), {
    message: "a wait step takes exactly one of 'seconds' and 'until'",
  })
  .openapi("WaitStep")
  .meta({
    description: "Pauses the step's branch for a duration (`seconds`) or until an instant (`until`): exactly one of the two.",
    oneOf: [{ required: ["seconds"] }, { required: ["until"] }],
  });
export type WaitStep = z.infer<typeof WaitStep>;

export const ApprovalStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("approval"),
    level: z.union([z.literal(1), z.literal(2)]).optional().meta({
      description:
        "1: an approver approves or rejects. 2: plan review — the approver must also send the plan hash they reviewed " +
        "(`POST /v1/executions/{id}/approval` with `plan_hash` and `step_id`); another hash is refused.",
      default: 1,
    }),
    comment: z
      .string()
      .max(4_000)
      .optional()
      .meta({
        description: `Shown to the approver. ${TEMPLATED}`,
        examples: ["Deploy {{ input.service }} {{ input.version }} to production?"],
      }),
  })
  .openapi("ApprovalStep")
  .meta({
    description:
      "Waits for a human decision. Approve: the step completes with `{ approved: true, by, comment }`. Reject: the execution " +
      "ends `rejected`. The wait expires after `timeout_seconds` (default: the workflow approval expiry), which also ends it `rejected`.",
  });
export type ApprovalStep = z.infer<typeof ApprovalStep>;

export const QUESTION_TYPES = ["string", "number", "boolean", "choice"] as const;

export const InputQuestion = z
  .strictObject({
    id: StepId.meta({
      description: "Answer key, unique in the step: the answer is read as `steps.<step>.output.<id>`.",
      examples: ["ok"],
    }),
    prompt: z
      .string()
      .min(1)
      .max(2_000)
      .meta({ description: `The question. ${TEMPLATED}`, examples: ["Total is {{ steps.check.output.total }}. Pay it?"] }),
    type: z.enum(QUESTION_TYPES).meta({ description: "Type of the answer; `choice` is one of `options`." }),
    options: z
      .array(z.string().min(1).max(200))
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "The choices: required for (and only allowed with) `type: choice`.", examples: [["approve", "hold", "reject"]] }),
    required: z.boolean().optional().meta({ description: "Whether an answer must be given.", default: true }),
    default: z.unknown().optional().meta({
      description: "Answer used when none is given (and on timeout with `on_timeout: default`); of the question's type, one of `options` for a choice.",
    }),
  })
  .openapi("InputQuestion")
  .meta({ description: "One question of an `input` step." });
export type InputQuestion = z.infer<typeof InputQuestion>;

export const InputStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("input"),
    questions: z
      .array(InputQuestion)
      .min(1)
      .max(MAX_QUESTIONS)
      .superRefine((questions, ctx) => {
        const seen = new Set<string>();
        questions.forEach((question, i) => {
          if (seen.has(question.id)) {
            ctx.addIssue({ code: "custom", path: [i, "id"], message: `question id '${question.id}' is used twice` });
          }
          seen.add(question.id);
        });
      })
      .meta({ description: `The questions (1-${MAX_QUESTIONS}, unique ids); answered together.` }),
    on_timeout: z.enum(["fail", "default"]).optional().meta({
      description: "When `timeout_seconds` passes without answers: `fail` the step (error `ANSWERS_TIMEOUT`), or complete it with each question's `default`.",
      default: "fail",
    }),
  })
  .openapi("InputStep")
  .meta({
    description:
      "Pauses the execution (`waiting`, `waiting_for: input`) until a human answers (`POST /v1/executions/{id}/steps/{step_id}/answers`). Output: the answers by question id.",
  });
export type InputStep = z.infer<typeof InputStep>;

export const PluginStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("plugin"),
    plugin: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/, { message: "a plugin name is dot-separated lowercase words, e.g. 'json.validate'" })
      .max(128)
      .meta({
        description: "Name of a plugin registered in the deployment. Built in: `json.validate` (args `{ schema, data }`), `text.template` (args `{ template, values? }`).",
        examples: ["json.validate"],
      }),
    args: JsonObject.optional().meta({
      description: `Arguments passed to the plugin. ${TEMPLATED} Every string inside is templated.`,
      examples: [{ schema: { type: "object" }, data: "{{ steps.fetch.output.body }}" }],
    }),
  })
  .openapi("PluginStep")
  .meta({ description: "Runs a TypeScript handler registered in the code under `plugin`; its return value is the output." });
export type PluginStep = z.infer<typeof PluginStep>;

export const LlmStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("llm"),
    model: ModelName.meta({
        description: "Model name: a Workers AI model (`@cf/…`) or a model of the configured OpenAI-compatible endpoint.",
        examples: ["@cf/meta/llama-3.1-8b-instruct"],
      }),
    prompt: z
      .string()
      .min(1)
      .max(100_000)
      .meta({ description: `User prompt. ${TEMPLATED} May use secrets.`, examples: ["Summarise this invoice: {{ steps.fetch.output.body }}"] }),
    system: z.string().min(1).max(100_000).optional().meta({ description: `System prompt. ${TEMPLATED} May use secrets.` }),
    output_schema: JsonSchema.optional().meta({
      description: "When set, the model is asked for JSON matching this JSON Schema and the reply is validated against it (an invalid reply fails the attempt).",
    }),
    max_tokens: z.int().min(1).max(1_000_000).optional().meta({ description: "Most tokens the reply may have.", examples: [1024] }),
    temperature: z.number().min(0).max(2).optional().meta({ description: "Sampling temperature.", examples: [0.2] }),
    fallback_models: z
      .array(ModelName)
      .min(1)
      .max(MAX_FALLBACK_MODELS)
      .optional()
      .meta({
        description:
          "Models tried in order, within one attempt, after `model` answers 429, 5xx, times out or refuses the context length. " +
          "`output.model` names the model that answered; every call made is recorded and billed.",
        examples: [["standin-small"]],
      }),
  })
  .openapi("LlmStep")
  .meta({
    description:
      "Calls a language model (an OpenAI-compatible Chat Completions endpoint, or Workers AI for `@cf/…`). Output: " +
      "`{ text, json?, model, usage: { input_tokens, output_tokens }, cost_usd, finish_reason }` (`json`: the reply parsed and " +
      "validated against `output_schema`). Every call is recorded in the usage ledger.",
  });
export type LlmStep = z.infer<typeof LlmStep>;

export const ChildWorkflowStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("workflow"),
    workflow_id: WorkflowId.meta({ description: "Id of the workflow to start as a child execution.", examples: ["send-invoice"] }),
    version: z.int().min(1).optional().meta({
      description: "Version to run; when absent, the latest version at the moment the parent execution started (pinned in its plan).",
      examples: [3],
    }),
    input: z.unknown().optional().meta({
      description: `Input of the child execution: any JSON value. ${TEMPLATED} Every string inside is templated.`,
      examples: [{ invoice_id: "{{ input.invoice_id }}" }],
    }),
    parent_close: z.enum(["cancel", "abandon"]).optional().meta({
      description: "What the child does when this execution ends (or is cancelled) before it: `cancel` it, or `abandon` it (it runs on).",
      default: "cancel",
    }),
  })
  .openapi("ChildWorkflowStep")
  .meta({
    description:
      "Starts a child execution (id derived from this execution, the step and the attempt) and waits for it. Its output is the child's " +
      `output; a child that ends failed, timed out, cancelled or rejected fails the step with \`CHILD_FAILED\` (the child's error in ` +
      `\`details\`), and a retry starts a new child. At most ${MAX_DEPTH} levels deep (\`MAX_DEPTH\`).`,
  });
export type ChildWorkflowStep = z.infer<typeof ChildWorkflowStep>;

/** A signal's name: what `POST /v1/executions/{id}/signals/{event}` names. */
export const EventName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, "letters, digits and _ . : - (1-64, starting with a letter or digit)")
  .meta({ description: "The signal's name.", examples: ["payment.settled"] });

export const EventStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("event"),
    event: EventName,
    on_timeout: z.enum(["fail", "continue"]).optional().meta({
      description:
        "When `timeout_seconds` passes without the signal: `fail` the step (error `EVENT_TIMEOUT`), or `continue`: complete it with " +
        "`{ data: null, received_at: null, via: \"timeout\" }`.",
      default: "fail",
    }),
    schema: JsonSchema.optional().meta({ description: "JSON Schema (draft 2020-12) the signal's `data` must match: a signal that does not is refused with 400." }),
  })
  .openapi("EventStep")
  .meta({
    description:
      "Waits for a signal (`POST /v1/executions/{id}/signals/{event}`) named `event`. Output: `{ data, received_at, via }`. A signal " +
      "sent before the step waits is kept (at most 100 per execution) and taken first in, first out. `timeout_seconds` bounds the wait.",
  });
export type EventStep = z.infer<typeof EventStep>;

/** The step types a map step can run per item: every type but `map` (no nested fan-out). */
export const MapSubStep = z
  .discriminatedUnion("type", [HttpStep, TransformStep, WaitStep, ApprovalStep, InputStep, PluginStep, LlmStep, ChildWorkflowStep, EventStep])
  .openapi("MapSubStep")
  .meta({
    description:
      "The step run once per item, with `item` (the element) and `index` (from 0) added to its expression context. Any " +
      "type but `map`; it takes no `needs` (the map step's needs apply). Its `id` names it in traces, not in `steps`.",
  });
export type MapSubStep = z.infer<typeof MapSubStep>;

export const MapStep = z
  .strictObject({
    ...commonStepFields,
    type: z.literal("map"),
    items: z
      .union([
        z.string().min(1).max(16_384).meta({
          description: "Exactly one `{{ expr }}` whose value is the list (a single value counts as a list of one).",
          examples: ["{{ input.targets }}"],
        }),
        z.array(z.unknown()).max(MAX_MAP_ITEMS).meta({ description: "A literal list." }),
      ])
      .meta({ description: `The list to fan out over: at most ${MAX_MAP_ITEMS} items (a longer evaluated list fails the step).` }),
    step: MapSubStep,
    concurrency: z.int().min(1).max(MAX_PARALLELISM).optional().meta({
      description: "Most items in flight at once.",
      default: DEFAULT_PARALLELISM,
      examples: [5],
    }),
    tolerated_failures: z
      .union([
        z.int().min(0).max(MAX_MAP_ITEMS),
        z.string().regex(/^(100|[1-9]?[0-9])(\.[0-9]+)?%$/, "a percentage such as \"10%\" (0-100)"),
      ])
      .optional()
      .meta({
        description:
          "Items that may fail (after their retries) without failing the map: a count, or a percentage of the items rounded down " +
          "(\"10%\" of 15 items tolerates 1). Their outputs are `null`; the execution then ends `partial`. Beyond it the map fails " +
          "`MAP_FAILED` and the items in flight are cancelled.",
        default: 0,
        examples: [2, "10%"],
      }),
  })
  .openapi("MapStep")
  .meta({ description: "Runs `step` for each item of `items`. Output: the list of per-item outputs, in item order." });
export type MapStep = z.infer<typeof MapStep>;

export const Step = z
  .discriminatedUnion("type", [HttpStep, TransformStep, WaitStep, ApprovalStep, InputStep, PluginStep, LlmStep, MapStep, ChildWorkflowStep, EventStep])
  .openapi("Step")
  .meta({ description: "A step of the workflow, selected by `type`." });
export type Step = z.infer<typeof Step>;
export type StepType = Step["type"];

// ---------------------------------------------------------------------------------------------
// Workflow

export const SlaClass = z.enum(["fast", "medium", "long"]).meta({
  description: "Service class: sets the default step and execution timeouts and attempt limits of steps that do not set their own.",
});
export type SlaClass = z.infer<typeof SlaClass>;

export const WorkflowApproval = z
  .strictObject({
    level: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).meta({
      description:
        "0: none. 1: confirm before start. 2: plan review — the approver sends the plan hash they reviewed (another hash is refused). " +
        "3: every step is approved before it runs.",
      examples: [2],
    }),
    expires_in_seconds: z.int().min(1).max(MAX_WORKFLOW_TIMEOUT_SECONDS).optional().meta({
      description: "How long each approval waits. Default: 300 (level 1), 900 (level 2), 1800 (level 3).",
      examples: [900],
    }),
    on_expiry: z.enum(["reject", "approve"]).optional().meta({
      description: "What expiry does: `reject` ends the execution `rejected` (reason `approval_expired`); `approve` (level 1 only) proceeds.",
      default: "reject",
    }),
  })
  .openapi("WorkflowApproval")
  .meta({ description: "Human approval required by every execution of the workflow." });
export type WorkflowApproval = z.infer<typeof WorkflowApproval>;

export const ConcurrencyLimit = z
  .strictObject({
    key: z
      .string()
      .min(1)
      .max(MAX_CONCURRENCY_KEY_LENGTH)
      .meta({
        description: `Executions with the same key share the limit. ${TEMPLATED} Evaluated at start, over \`input\` and \`execution\` only.`,
        examples: ["deploy:{{ input.service }}"],
      }),
    limit: z.int().min(1).max(MAX_CONCURRENCY_LIMIT).meta({
      description:
        "Most executions holding a slot of the key at once (from admission to their end, waits included); the others wait `queued`, " +
        "by the start's `priority` (higher first), then first in, first out. The latest execution's limit is the key's.",
      examples: [1],
    }),
    queue_ttl_seconds: z.int().min(1).max(MAX_WORKFLOW_TIMEOUT_SECONDS).optional().meta({
      description: "A queued execution that waits longer for a slot ends `timed_out` with code `QUEUE_TIMEOUT`.",
      examples: [600],
    }),
  })
  .openapi("ConcurrencyLimit")
  .meta({ description: "At most `limit` executions of the tenant (across its workflows) run at once per `key` value." });
export type ConcurrencyLimit = z.infer<typeof ConcurrencyLimit>;

export const WorkflowBudget = z
  .strictObject({
    max_usd: z.number().min(0).max(MAX_BUDGET_USD).meta({ description: "Most one execution may spend, in USD (llm calls and declared step costs).", examples: [1] }),
    on_exceed: z.enum(["pause", "fail"]).meta({
      description:
        "A call whose reservation does not fit: `pause` → the execution waits (`waiting_for.kind: budget`) until an approver raises " +
        "its budget (`POST /v1/executions/{id}/budget`); `fail` → the step fails `BUDGET_EXCEEDED` (not retried).",
    }),
  })
  .openapi("WorkflowBudget")
  .meta({ description: "Every execution's budget, enforced by reservation: a call is made only if its maximum cost fits." });
export type WorkflowBudget = z.infer<typeof WorkflowBudget>;

export const WorkflowDefinition = z
  .strictObject({
    id: WorkflowId,
    name: z.string().min(1).max(200).optional().meta({ description: "Display name; the id when absent.", examples: ["Invoice review"] }),
    description: z.string().max(4_000).optional().meta({ description: "What the workflow does, for people." }),
    input_schema: JsonSchema.optional().meta({
      description: "JSON Schema (draft 2020-12) the execution input must match; an execution with a non-matching input is refused with 400.",
    }),
    timeout_seconds: z.int().min(1).max(MAX_WORKFLOW_TIMEOUT_SECONDS).optional().meta({
      description: "Limit on the whole execution, waits included; the execution ends `timed_out`. Default from `sla_class`.",
      examples: [3600],
    }),
    sla_class: SlaClass.optional(),
    approval: WorkflowApproval.optional(),
    concurrency: ConcurrencyLimit.optional(),
    budget: WorkflowBudget.optional(),
    parallelism: z.int().min(1).max(MAX_PARALLELISM).optional().meta({
      description: "Most steps of one execution running at the same time.",
      default: DEFAULT_PARALLELISM,
      examples: [4],
    }),
    steps: z
      .array(Step)
      .min(1)
      .max(MAX_STEPS)
      .meta({ description: `The steps (1-${MAX_STEPS}); \`needs\` orders them, declaration order does not.` }),
    output: Expression.optional().meta({
      description: "JSONata expression computing the execution's output once every step has ended; it may read any step. Default: no output.",
      examples: ["{ 'total': steps.check.output.total }"],
    }),
  })
  .openapi("WorkflowDefinition")
  .meta({
    description: "A workflow: steps forming a DAG through `needs`, with expressions in JSONata. Registering it under an existing id adds a version.",
    examples: [
      {
        id: "invoice-review",
        name: "Invoice review",
        input_schema: { type: "object", required: ["invoice_id"], properties: { invoice_id: { type: "string" } } },
        steps: [
          {
            id: "fetch",
            type: "http",
            request: {
              method: "GET",
              url: "https://billing.example/invoices/{{ input.invoice_id }}",
              headers: { authorization: "Bearer {{ secrets.BILLING_TOKEN }}" },
            },
            retry: { max_attempts: 3, backoff: "exponential", initial_interval_ms: 500 },
            timeout_seconds: 10,
          },
          { id: "check", type: "transform", needs: ["fetch"], expression: "{ 'total': $sum(steps.fetch.output.body.lines.amount) }" },
        ],
        output: "{ 'total': steps.check.output.total }",
      },
    ],
  });
export type WorkflowDefinition = z.infer<typeof WorkflowDefinition>;
