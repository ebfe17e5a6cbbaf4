/**
 * The usage ledger is counted once: its records are written in the transaction that ends their
 * attempt and reach D1 through the outbox under a unique key, so a flush that D1 refused, a flush
 * D1 applied whose reply was lost, and an eviction before the outbox was cleared never lose a
 * record or count one twice.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/lib/digest";
import { call, tenantWithKeys } from "../helpers/api";
import { start } from "../helpers/executions";
import { advanceAndRunAlarm, d1FailingBatches, d1LosingReplies, inObject, stubOf } from "../helpers/objects";

interface Ledger {
  total_usd: number;
  input_tokens: number;
  output_tokens: number;
  items: { step_id: string; attempt: number; call: number; cost_usd: number | null }[];
}

describe("ledger", () => {
  it("D1's sum equals the object's exactly, through refused flushes, lost replies and an eviction", async () => {
    const t = await tenantWithKeys("ledger-once");
    const key = `ledger-${Math.random()}`;
    const id = `ex_${(await sha256Hex(`idempotency\n${t.tenant}\n${key}`)).slice(0, 32)}`;
    await inObject(id, (o) => {
      o.deps.d1 = d1FailingBatches(env.DB, 1_000); // D1 down while the execution runs
    });
    const schema = { type: "object", required: ["n"], properties: { n: { type: "number" } } };
    const definition = {
      id: "ledger",
      steps: [
        { id: "a", type: "llm", model: "standin-small", prompt: "first" },
        // A 429 then a 500 before the model that answers: three calls in one attempt.
        { id: "b", type: "llm", model: "standin-429", fallback_models: ["standin-500", "standin-large"], prompt: "second", needs: ["a"] },
        // Two failed attempts, each billed, then the step is tolerated.
        { id: "c", type: "llm", model: "standin-wrong-schema", prompt: "third", output_schema: schema, retry: { max_attempts: 2, initial_interval_ms: 0 }, on_error: "continue" },
        { id: "d", type: "transform", expression: "1", cost_usd: 0.01, needs: ["b"] },
      ],
    };
    const res = await start(t.operator, { definition }, { idempotencyKey: key, wait: 10 });
    expect(res.body.status).toBe("partial");

    const ledger = (await call<Ledger>("GET", `/v1/executions/${id}/costs`, { key: t.viewer })).body;
    expect(ledger.items.map((i) => `${i.step_id}/${i.attempt}/${i.call}`).sort()).toEqual(["a/1/1", "b/1/1", "b/1/2", "b/1/3", "c/1/1", "c/2/1", "d/1/1"]);
    expect(ledger.total_usd).toBeGreaterThan(0.01);

    const inD1 = () =>
      env.DB.prepare("SELECT COUNT(*) AS n, SUM(cost_usd) AS usd, SUM(input_tokens) AS input, SUM(output_tokens) AS output FROM usage_records WHERE tenant = ?1 AND execution_id = ?2")
        .bind(t.tenant, id)
        .first<{ n: number; usd: number | null; input: number | null; output: number | null }>();
    expect((await inD1())!.n).toBe(0); // nothing reached D1 yet

    // Evicted with its outbox full: what the attempts ended with is in storage, not in memory.
    expect(await inObject(id, (o) => o.runtime.outbox.pending())).toBeGreaterThan(0);
    await evictDurableObject(stubOf(id));

    // D1 comes back to a new instance, but the replies of its first three batches are lost: each
    // flush is applied, looks failed to the object, which keeps its outbox rows and sends them again.
    // (The proxy wraps the object's own binding: alarms run in the object's context.)
    const lost = { count: 0 };
    await inObject(id, (o) => {
      o.deps.d1 = d1LosingReplies(o.deps.env.DB, 3, lost);
    });
    await advanceAndRunAlarm(id, 120_000);
    expect(lost.count).toBe(1);
    expect((await inD1())!.n).toBe(7); // applied once already
    for (let i = 0; i < 3 && (await inObject(id, (o) => o.runtime.outbox.pending())) > 0; i++) await advanceAndRunAlarm(id, 120_000);
    expect(lost.count).toBe(3);
    expect(await inObject(id, (o) => o.runtime.outbox.pending())).toBe(0);

    const d1 = (await inD1())!;
    expect(d1.n).toBe(7);
    expect(d1.usd).toBeCloseTo(ledger.total_usd, 10);
    expect({ input: d1.input, output: d1.output }).toEqual({ input: ledger.input_tokens, output: ledger.output_tokens });
    const indexed = await env.DB.prepare("SELECT cost_usd, input_tokens, output_tokens FROM executions WHERE tenant = ?1 AND id = ?2").bind(t.tenant, id).first();
    expect(indexed).toEqual({ cost_usd: ledger.total_usd, input_tokens: ledger.input_tokens, output_tokens: ledger.output_tokens });
    // The listing shows the same cost.
    const listed = await call<{ items: { id: string; cost: unknown }[] }>("GET", "/v1/executions", { key: t.viewer });
    expect(listed.body.items.find((e) => e.id === id)?.cost).toEqual({ total_usd: ledger.total_usd, input_tokens: ledger.input_tokens, output_tokens: ledger.output_tokens });
  }, 30_000);
});
