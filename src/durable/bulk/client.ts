/**
 * The Worker's side of a bulk action's Durable Object: one object per bulk id (`getByName`), which
 * alone runs the bulk, page by page, in its alarm. Imports nothing but schemas.
 */
import type { Bulk, CreateBulkArgs, CreateBulkResult } from "../../schemas/bulk";

export type { Bulk, CreateBulkArgs, CreateBulkResult };

export interface BulkRpc {
  /**
   * Records the bulk and arms its first page. The same id again answers the bulk it already is
   * (`replay`, nothing new is done) or, when the request that made it differs, `request_differs`.
   */
  create(args: CreateBulkArgs): Promise<CreateBulkResult>;
  /** The bulk as `tenant` sees it; null for an unknown id or another tenant's bulk. */
  get(tenant: string): Promise<Bulk | null>;
}

/** The bulk's object, by its id. */
export function bulkRpc(env: Env, id: string): BulkRpc {
  return env.BULK.getByName(id) as unknown as BulkRpc;
}
