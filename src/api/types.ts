import type { RateDecision } from "../durable/rate-limit/client";
import type { Principal } from "./permissions";

/** What a request carries through the middleware chain. */
export interface AppVariables {
  requestId: string;
  /** Set once the caller is authenticated. */
  principal?: Principal;
  /** Audit action of the matched route (set by `guard` even when the caller is then denied). */
  auditAction?: string;
  /** Audit target when it is not the `{id}` path parameter (e.g. the id of a created resource). */
  auditTarget?: string;
  /** Tenant whose log gets the audit row when it is not the caller's (a platform admin acting on another tenant). */
  auditTenant?: string;
  /** Extra, secret-free detail for the audit row. */
  auditDetail?: Record<string, unknown>;
  maxBodyBytes?: number;
  /** D1 rows the request's queries read, where a route reports it (logged with the request). */
  d1RowsRead?: number;
  /** The request's audit row was handed to the Durable Object that carried it out. */
  auditHandedOff?: boolean;
  /** The caller's API key's rate, as its rate-limit object admitted (or refused) this request. */
  rateLimit?: RateDecision;
}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
