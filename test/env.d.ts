import type { D1Migration } from "@cloudflare/vitest-pool-workers";
import type * as MainModule from "../src/index";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
    interface GlobalProps {
      mainModule: typeof MainModule;
    }
  }
}
