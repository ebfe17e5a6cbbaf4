import { z } from "@hono/zod-openapi";
import { PageQuery, Timestamp, page } from "./pages";

export const ROLES = ["admin", "operator", "approver", "viewer"] as const;
export const Role = z.enum(ROLES).openapi({
  description: "admin: everything; operator: register workflows, start/cancel/pause/resume/retry; approver: approve and answer; viewer: read.",
});
export type Role = z.infer<typeof Role>;

export const TenantId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "lowercase letters, digits, '_' and '-', starting with a letter or digit, at most 64")
  .openapi({ example: "acme" });

/** The most requests per minute a key may be given. */
export const MAX_RATE_LIMIT_PER_MINUTE = 100_000;

export const CreateApiKeyBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).openapi({ example: "ci-deployer" }),
    role: Role,
    tenant: TenantId.optional().openapi({
      description:
        "Tenant of the new key; defaults to the caller's. Only admins of the platform tenant `default` may name another tenant; a tenant's first key creates it.",
    }),
    rate_limit_per_minute: z
      .number()
      .int()
      .min(1)
      .max(MAX_RATE_LIMIT_PER_MINUTE)
      .optional()
      .openapi({
        description: `The key's request rate: at most this many requests in any minute (a burst of as many allowed), beyond it 429 \`RATE_LIMITED\`. Default: the deployment's (\`RATE_LIMIT_PER_MINUTE\`). 1 to ${MAX_RATE_LIMIT_PER_MINUTE}.`,
        example: 600,
      }),
  })
  .openapi("CreateApiKey");
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBody>;

export const ApiKey = z
  .object({
    id: z.string().openapi({ example: "key_3f9a0c1b2d4e5f60" }),
    name: z.string(),
    role: Role,
    tenant: z.string(),
    key_prefix: z.string().openapi({ description: "The key's first characters, to recognise it.", example: "stp_Xk3vQ9" }),
    created_by: z.string().nullable(),
    created_at: Timestamp,
    last_used_at: Timestamp.nullable(),
    revoked_at: Timestamp.nullable(),
    rate_limit_per_minute: z.number().int().nullable().openapi({ description: "Requests per minute; null: the deployment's default.", example: 600 }),
  })
  .openapi("ApiKey");
export type ApiKey = z.infer<typeof ApiKey>;

export const CreatedApiKey = ApiKey.extend({
  key: z.string().openapi({ description: "The secret. Shown only in this response; store it now." }),
}).openapi("CreatedApiKey");

export const ApiKeyPage = page(ApiKey, "ApiKeyPage");

export const ListApiKeysQuery = PageQuery.extend({
  tenant: TenantId.optional().openapi({ description: "Platform admins only: list another tenant's keys." }),
  include_revoked: z.enum(["true", "false"]).optional().openapi({ description: "Also list revoked keys (default false)." }),
});

export const ApiKeyIdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "key_3f9a0c1b2d4e5f60" }),
});

export const CurrentApiKey = z
  .object({
    id: z.string().openapi({ description: "The key's id (`bootstrap` for the deployment's admin key).", example: "key_3f9a0c1b2d4e5f60" }),
    name: z.string().nullable().openapi({ description: "The key's name; null for the bootstrap key." }),
    role: Role,
    tenant: z.string(),
    permissions: z.array(z.string()).openapi({
      description: "What the key's role may do, e.g. `executions:operate`: a client shows only the controls these allow.",
      example: ["workflows:read", "executions:read", "executions:decide"],
    }),
  })
  .openapi("CurrentApiKey");
export type CurrentApiKey = z.infer<typeof CurrentApiKey>;
