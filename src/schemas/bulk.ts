/**
 * Bulk actions (SPEC §10): `POST /v1/executions/bulk` cancels or retries every execution of a
 * listing filter in the background, `GET /v1/bulk/{id}` follows it. The wire shapes, and the RPC
 * arguments and results of the bulk's Durable Object (parsed again inside it).
 */
import { z } from "@hono/zod-openapi";
import { ListExecutionsQuery } from "./executions";
import { Timestamp } from "./pages";

export const BULK_ID_PATTERN = /^bk_[0-9a-f]{32}$/;

export const BulkAction = z.enum(["cancel", "retry"]).openapi({ description: "What is done to each execution the filter matches." });
export type BulkAction = z.infer<typeof BulkAction>;

/**
 * The listing's own filters (same names, same formats). Strict: a misspelt filter would otherwise
 * be dropped, and the bulk would act on every execution of the tenant.
 */
export const BulkFilter = z
  .strictObject(ListExecutionsQuery.pick({ workflow_id: true, status: true, label: true, created_after: true, created_before: true }).shape)
  .superRefine((f, ctx) => {
    if (f.created_after !== undefined && f.created_before !== undefined && Date.parse(f.created_after) >= Date.parse(f.created_before)) {
      ctx.addIssue({ code: "custom", path: ["created_before"], message: "must be later than created_after" });
    }
  })
  .openapi("BulkFilter", {
    description:
      "Which executions: those the listing `GET /v1/executions` would return with these filters. `created_before` defaults to (and is at most) " +
      "the time the bulk is created, so executions started later are never caught.",
  });
export type BulkFilter = z.infer<typeof BulkFilter>;

export const StartBulkBody = z
  .strictObject({
    action: BulkAction,
    filter: BulkFilter,
  })
  .openapi("StartBulkBody");
export type StartBulkBody = z.infer<typeof StartBulkBody>;

export const BulkStatus = z.enum(["running", "completed"]);

export const Bulk = z
  .object({
    id: z.string().openapi({ example: "bk_3c59dc048e8850243be8079a5c74d079" }),
    action: BulkAction,
    status: BulkStatus.openapi({ description: "`running` while pages of the filter remain; `completed` once every matched execution was dealt with." }),
    filter: BulkFilter.openapi({ description: "The filter as frozen at creation: `created_before` is always set." }),
    matched: z.number().int().openapi({ description: "Executions the filter matched so far (final once `completed`)." }),
    done: z.number().int().openapi({ description: "Executions the action was applied to (one audit row each, naming the bulk)." }),
    skipped: z
      .number()
      .int()
      .openapi({ description: "Executions that could not take the action (already ended for cancel, not failed or timed out for retry, gone): nothing changed." }),
    failed: z.number().int().openapi({ description: "Executions that could not be reached after repeated tries; their state is unknown to the bulk." }),
    created_at: Timestamp,
    finished_at: Timestamp.optional(),
  })
  .openapi("Bulk", { description: "A bulk action and its progress: `matched` = `done` + `skipped` + `failed` once `completed`." });
export type Bulk = z.infer<typeof Bulk>;

export const BulkIdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "bk_3c59dc048e8850243be8079a5c74d079" }),
});

// ---- RPC of the bulk's Durable Object

export const BulkTenant = z.string().min(1);

/** A new bulk, as the Worker hands it to its object: the filter already frozen. */
export const CreateBulkArgs = z.object({
  id: z.string().regex(BULK_ID_PATTERN),
  tenant: BulkTenant,
  action: BulkAction,
  filter: BulkFilter,
  /** SHA-256 (hex) of what identifies the request; another request under the same id is refused. */
  requestHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The API key that asked: the actor of every audit row the bulk writes. */
  actor: z.string().min(1),
  requestId: z.string().min(1),
  createdAt: z.number().int(),
});
export type CreateBulkArgs = z.infer<typeof CreateBulkArgs>;

export type CreateBulkResult = { kind: "created" | "replay"; bulk: Bulk } | { kind: "request_differs" };
