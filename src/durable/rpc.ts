/** Arguments of the execution Durable Object's RPC methods: parsed again inside the object. */
import { z } from "@hono/zod-openapi";
import { WorkflowDefinition } from "../schemas/definition";

export const AuditRowArgs = z.object({
  id: z.string(),
  time: z.number().int(),
  tenant: z.string().nullable(),
  actor: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  result: z.enum(["success", "failure", "denied"]),
  status: z.number().int(),
  requestId: z.string(),
  detail: z.record(z.string(), z.unknown()).nullable(),
});

export const CreateExecutionArgs = z.object({
  id: z.string().regex(/^ex_[0-9a-f]{32}$/),
  tenant: z.string().min(1),
  workflowId: z.string().min(1),
  workflowVersion: z.number().int().min(0),
  definitionHash: z.string().min(1),
  definition: WorkflowDefinition,
  input: z.unknown(),
  labels: z.record(z.string(), z.string()),
  requestHash: z.string().nullable(),
  planHash: z.string().regex(/^[0-9a-f]{64}$/),
  audit: AuditRowArgs.nullable(),
});
export type CreateExecutionArgs = z.infer<typeof CreateExecutionArgs>;

export const Tenant = z.string().min(1);
/** SHA-256 (hex) of a start request's canonical JSON, compared on an Idempotency-Key replay. */
export const RequestHash = z.string().regex(/^[0-9a-f]{64}$/);
export const UserCommand = z.enum(["cancel", "pause", "resume", "retry"]);
export type UserCommand = z.infer<typeof UserCommand>;
export const EventWindow = z.object({ after: z.number().int().min(0), limit: z.number().int().min(1).max(1000) });
export const WaitMs = z.number().int().min(0).max(60_000);

export const EVENT_STREAM_PATH = "/events/stream";
export const EVENT_SOCKET_PATH = "/events/socket";
export const StreamArgs = z.object({ tenant: z.string().min(1), after: z.coerce.number().int().min(0) });
export const DecisionArgs = z.object({
  decision: z.enum(["approve", "reject"]),
  plan_hash: z.string().max(128).optional(),
  step_id: z.string().min(1).max(64).optional(),
  comment: z.string().max(4_000).optional(),
});
export const AnswersArgs = z.object({ stepId: z.string().min(1).max(64), answers: z.record(z.string(), z.unknown()) });
