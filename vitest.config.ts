import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/**
 * Two projects, one `npm test`:
 * - `workers`: every test under test/ except e2e, inside workerd through the real app and real
 *   objects (one isolate: RPC arguments are not structured-cloned here).
 * - `e2e` (after `workers` has finished): Node drives the real `wrangler dev` (started through `npm start`'s script) over HTTP,
 *   WebSocket and SSE, where the Worker and each Durable Object are separate isolates as deployed.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    test: {
      // The app logs a JSON line per request; show logs only for tests that fail.
      silent: "passed-only" as const,
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  ADMIN_API_KEY: "test-admin-key-0123456789abcdef",
                  STREAM_TOKEN_SECRET: "test-stream-secret-0123456789abcdef",
                  // The tests share the bootstrap key across hundreds of requests a minute; the
                  // rate-limit tests give their keys small limits of their own.
                  RATE_LIMIT_PER_MINUTE: "1000000",
                  ALLOWED_PRIVATE_HOSTS: "127.0.0.1:9999",
                  SECRET_API_TOKEN: "tok-stepline-e2e-9f3c7a51d2b84e06",
                  // llm steps call the LLM stand-in (scripts/llm-standin.mjs) that the upstream worker serves
                  // under /llm/; it requires this key.
                  LLM_BASE_URL: "http://127.0.0.1:9999/llm/v1",
                  LLM_API_KEY: "test-llm-key",
                },
                // Every outbound fetch of the Worker under test (test code and engine code alike, whatever the
                // URL's host) is answered by the local upstream worker: no test traffic leaves the machine.
                outboundService: "upstream",
                workers: [
                  {
                    name: "upstream",
                    // Listed module by module (`modules: true` loads the entry alone, without its imports),
                    // named relative to the repository root so the entry's import of
                    // ../../scripts/llm-standin.mjs (the LLM stand-in) resolves.
                    modulesRoot: ".",
                    modules: [
                      { type: "ESModule", path: "./test/upstream/worker.mjs" },
                      { type: "ESModule", path: "./scripts/llm-standin.mjs" },
                    ],
                    compatibilityDate: "2026-08-15",
                    // request.signal aborts when the caller goes away (off by default in workerd), so /slow
                    // and the stand-in's standin-slow models stop early as they would behind a real server.
                    compatibilityFlags: ["enable_request_signal"],
                  },
                ],
              },
            }),
          ],
          test: {
            name: "workers",
            // The workers project runs first, the e2e project after it: a loaded workerd pool beside
            // wrangler dev drops the dev server's connections (see TOOLCHAIN), which flaked the
            // browser tests.
            sequence: { groupOrder: 0 },
            setupFiles: ["./test/setup.ts"],
            include: ["test/**/*.test.ts"],
            exclude: ["test/e2e/**"],
          },
        },
        {
          test: {
            name: "e2e",
            sequence: { groupOrder: 1 },
            environment: "node",
            include: ["test/e2e/**/*.test.ts"],
            globalSetup: ["./test/e2e/global-setup.ts"],
            // One wrangler dev serves every e2e file; files run one at a time so the server is never
            // shared between two files' loads on a 2-core machine.
            fileParallelism: false,
            testTimeout: 60_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
