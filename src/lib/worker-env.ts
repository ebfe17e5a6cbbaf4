/**
 * What steps may reach of the Worker's environment, read in one place for the execution object and
 * for dry runs (services/dry-run.ts), so both resolve secrets and outbound settings the same way.
 */

/** `secrets.NAME`: only Worker secrets named SECRET_<NAME> are reachable from a definition; nothing else in env is. */
export function workerSecret(env: Env, name: string): string | undefined {
  const value = (env as unknown as Record<string, unknown>)[`SECRET_${name}`];
  return typeof value === "string" ? value : undefined;
}

/** ALLOWED_PRIVATE_HOSTS as `host:port` pairs, lowercase. */
export function allowedPrivateHosts(env: Env): string[] {
  return (env.ALLOWED_PRIVATE_HOSTS ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

/** Where llm steps' calls go (LLM_BASE_URL, LLM_API_KEY, the AI binding) and their default reservation. */
export function llmSettings(env: Env) {
  return {
    baseUrl: env.LLM_BASE_URL ?? "",
    apiKey: env.LLM_API_KEY,
    ai: env.AI,
    defaultMaxTokens: Number(env.LLM_DEFAULT_MAX_TOKENS) || 1024,
  };
}
