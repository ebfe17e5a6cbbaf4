/**
 * The end-to-end suite: the real `wrangler dev` (started by global-setup.ts through `npm start`'s
 * script), driven over HTTP, WebSocket and SSE from Node. Worker and Durable Objects are separate
 * isolates here, as deployed, so every value that crosses RPC is structured-cloned for real.
 *
 * One file, so that one record of the operations answered spans every scenario: the last block
 * proves that each operation of /openapi.json was exercised with a success and an error.
 */
import { describe, expect, it } from "vitest";
import { getContract } from "./helpers/client";
import "./scenarios/outputs";
import "./scenarios/workflows";
import "./scenarios/executions";
import "./scenarios/people";
import "./scenarios/keys-audit";
import "./scenarios/examples";
import "./scenarios/defects";
import "./scenarios/prices";
import "./scenarios/costs";
import "./scenarios/budgets";
import "./scenarios/telemetry";
import "./scenarios/concurrency";
import "./scenarios/signals";
import "./scenarios/callbacks";
import "./scenarios/child-workflows";
import "./scenarios/map";
import "./scenarios/inbox";
import "./scenarios/redrive";
import "./scenarios/bulk";
import "./scenarios/dry-run";
import "./scenarios/client";

describe("the published contract", () => {
  it("every operation of /openapi.json was answered with a success and with an error", async () => {
    const contract = await getContract();
    const missing: string[] = [];
    for (const op of contract.operations) {
      const statuses = [...(contract.seen.get(`${op.method} ${op.template}`) ?? [])];
      if (!statuses.some((s) => s < 400)) missing.push(`${op.method} ${op.template}: no success`);
      const documentsErrors = Object.keys(op.responses).some((s) => s.startsWith("4"));
      if (documentsErrors && !statuses.some((s) => s >= 400)) missing.push(`${op.method} ${op.template}: no error`);
    }
    expect(missing, missing.join("\n")).toEqual([]);
  });
});
