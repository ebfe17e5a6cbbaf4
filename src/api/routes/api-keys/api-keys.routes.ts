import { createRoute } from "@hono/zod-openapi";
import { ApiKey, ApiKeyIdParam, CurrentApiKey, ApiKeyPage, CreateApiKeyBody, CreatedApiKey, ListApiKeysQuery } from "../../../schemas/api-keys";
import { guard } from "../../middleware/guard";
import { TAGS, jsonContent, jsonRequest, problems } from "../../openapi";
import { SECURITY } from "../../router";

const tags = [TAGS.apiKeys];

export const createApiKey = createRoute({
  method: "post",
  path: "/api-keys",
  operationId: "createApiKey",
  tags,
  summary: "Create an API key (the secret is shown once)",
  security: SECURITY,
  middleware: guard({ permission: "api_keys:manage", action: "api_key.create" }),
  request: { body: jsonRequest(CreateApiKeyBody) },
  responses: { 201: jsonContent(CreatedApiKey, "The key, with its secret"), ...problems(400, 413, 415) },
});

export const listApiKeys = createRoute({
  method: "get",
  path: "/api-keys",
  operationId: "listApiKeys",
  tags,
  summary: "List API keys (never their secrets)",
  security: SECURITY,
  middleware: guard({ permission: "api_keys:manage", action: "api_key.list" }),
  request: { query: ListApiKeysQuery },
  responses: { 200: jsonContent(ApiKeyPage, "A page of keys, newest first"), ...problems(400) },
});

export const revokeApiKey = createRoute({
  method: "delete",
  path: "/api-keys/{id}",
  operationId: "revokeApiKey",
  tags,
  summary: "Revoke an API key (effective within 5 seconds)",
  description:
    "Revokes the key and answers it. Its requests are refused (401) within 5 seconds: each isolate of the Worker keeps a key it authenticated for up to 5 s (`PRINCIPAL_TTL_MS`), and the one that revokes it forgets it at once. Stream tokens the key minted stop working when a stream is next opened.",
  security: SECURITY,
  middleware: guard({ permission: "api_keys:manage", action: "api_key.revoke" }),
  request: { params: ApiKeyIdParam },
  responses: { 200: jsonContent(ApiKey, "The revoked key"), ...problems(400, 404) },
});

export const getCurrentApiKey = createRoute({
  method: "get",
  path: "/api-keys/current",
  operationId: "getCurrentApiKey",
  tags,
  summary: "The calling key: its role, tenant and permissions",
  description: "Any valid key may read its own record. The dashboard asks it at sign-in to show only the controls the key's role allows.",
  security: SECURITY,
  middleware: guard({ permission: null, action: "api_key.read_current" }),
  responses: { 200: jsonContent(CurrentApiKey, "The calling key"), ...problems() },
});
