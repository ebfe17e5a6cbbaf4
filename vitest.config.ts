import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_API_KEY: "test-admin-key-0123456789abcdef",
            STREAM_TOKEN_SECRET: "test-stream-secret-0123456789abcdef",
            ALLOWED_PRIVATE_HOSTS: "127.0.0.1:9999",
            SECRET_API_TOKEN: "tok-stepline-e2e-9f3c7a51d2b84e06",
          },
          // Every outbound fetch of the Worker under test (test code and engine code alike, whatever the
          // URL's host) is answered by the local upstream worker: no test traffic leaves the machine.
          outboundService: "upstream",
          workers: [
            {
              name: "upstream",
              modules: true,
              scriptPath: "./test/upstream/worker.mjs",
              compatibilityDate: "2026-08-15",
            },
          ],
        },
      }),
    ],
    test: {
      setupFiles: ["./test/setup.ts"],
      include: ["test/**/*.test.ts"],
      // The app logs a JSON line per request; show logs only for tests that fail.
      silent: "passed-only" as const,
    },
  };
});
