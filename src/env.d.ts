// Bindings a deployment may leave out: `wrangler types` lists only what wrangler.toml and .dev.vars
// name, and these are optional by design. (Declared on the base both `Env` and `Cloudflare.Env` extend.)
interface __BaseEnv_Env {
  /** Bearer token of the OpenAI-compatible endpoint at LLM_BASE_URL (a secret). */
  LLM_API_KEY?: string;
  /** Workers AI, for llm steps whose model is `@cf/…` (add an `[ai]` binding to use it). */
  AI?: Ai;
}
