/**
 * The usage ledger in D1: each execution's records, flushed by its Durable Object's outbox. A
 * record's key is (tenant, execution, step, item, attempt, call), and it is inserted OR IGNOREd:
 * a flush retried after D1 applied it, or replayed by an object that was evicted before it
 * deleted its outbox rows, counts nothing twice.
 */
import type { Price } from "../schemas/costs";

/** A ledger record as the outbox carries it to D1. */
export interface UsageIndexRow {
  tenant: string;
  executionId: string;
  workflowId: string;
  stepId: string;
  /** -1: not a map item. */
  item: number;
  attempt: number;
  call: number;
  model: string | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
  price: Price | null;
  time: number;
}

export function usageInsertStatement(db: D1Database, r: UsageIndexRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR IGNORE INTO usage_records (tenant, execution_id, workflow_id, step_id, item, attempt, call, model,
                                            input_tokens, output_tokens, cost_usd, price, time)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)`,
    )
    .bind(
      r.tenant,
      r.executionId,
      r.workflowId,
      r.stepId,
      r.item,
      r.attempt,
      r.call,
      r.model,
      r.inputTokens,
      r.outputTokens,
      r.costUsd,
      r.price === null ? null : JSON.stringify(r.price),
      r.time,
    );
}
