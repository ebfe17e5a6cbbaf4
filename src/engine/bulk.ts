/**
 * What a bulk action (SPEC §10) decides about one execution, in pure code: whether a call that may
 * have been cut off already landed, and the audit row a call carries.
 */
import type { AuditRow } from "../schemas/audit";
import type { BulkAction } from "../schemas/bulk";
import type { Execution } from "../schemas/executions";
import { parseRfc3339 } from "../lib/time";

/** The bulk as the rows it writes need it. */
export interface BulkIdentity {
  id: string;
  tenant: string;
  action: BulkAction;
  actor: string;
  requestId: string;
}

/**
 * The bulk called `action` on this execution before, and its object was cut off before it recorded
 * the answer: did that call land? Decided from the execution as it is now, so that the action is
 * never applied twice.
 * - cancel: the execution is cancelled (a second cancel would be refused anyway).
 * - retry: the execution is no longer the ended run the listing showed (`listedEndedAt`): it runs
 *   again, or ended again later. Retrying it now would start a second run, so it counts as done.
 */
export function bulkActionLanded(action: BulkAction, now: Pick<Execution, "status" | "ended_at">, listedEndedAt: number | null): boolean {
  switch (action) {
    case "cancel":
      return now.status === "cancelled";
    case "retry": {
      const endedAt = now.ended_at === undefined ? null : parseRfc3339(now.ended_at);
      return endedAt === null || endedAt !== listedEndedAt;
    }
  }
}

/**
 * The audit row of the bulk's action on one execution: the shape the single-execution route writes
 * (`execution.cancel` / `execution.retry`, target the execution, the caller's key as actor, the
 * bulk request's id), with `detail.bulk_id` naming the bulk. Handed to the execution's command, so
 * it is stored in the same transaction as the change, and only when the change happens.
 */
export function bulkAuditRow(bulk: BulkIdentity, executionId: string, auditId: string, now: number): AuditRow {
  return {
    id: auditId,
    time: now,
    tenant: bulk.tenant,
    actor: bulk.actor,
    action: `execution.${bulk.action}`,
    target: executionId,
    result: "success",
    status: 200,
    requestId: bulk.requestId,
    detail: { bulk_id: bulk.id },
  };
}
