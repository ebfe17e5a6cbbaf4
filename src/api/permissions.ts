/**
 * Roles and what they may do: one table. A route names the permission it needs (see `guard`);
 * nothing else decides access.
 */
import type { Role } from "../schemas/api-keys";

export type { Role };

export const PERMISSIONS = [
  "workflows:read",
  "workflows:write",
  "executions:read",
  "executions:operate", // start, cancel, pause, resume, retry
  "executions:decide", // approve, answer
  "executions:signal", // signals for event steps
  "api_keys:manage",
  "audit:read",
  "prices:read",
  "prices:write", // a tenant's own model prices
  "budgets:read",
  "budgets:write", // shared budgets: create, change the limit, delete
  "telemetry:read", // summaries and workflow stats
  "concurrency:read", // a concurrency key's holders and queue
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: PERMISSIONS,
  operator: ["workflows:read", "workflows:write", "executions:read", "executions:operate", "prices:read", "budgets:read", "telemetry:read", "concurrency:read", "executions:signal"],
  approver: ["workflows:read", "executions:read", "executions:decide", "executions:signal", "prices:read", "budgets:read", "telemetry:read"],
  viewer: ["workflows:read", "executions:read", "prices:read", "budgets:read", "telemetry:read"],
};

export function can(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

/** The tenant whose admins manage every tenant (the bootstrap key belongs to it). */
export const PLATFORM_TENANT = "default";
export const BOOTSTRAP_KEY_ID = "bootstrap";

/** Who is calling: set by authentication, read by every handler to scope its work. */
export interface Principal {
  tenant: string;
  role: Role;
  keyId: string;
  /** The key's requests per minute; null or absent: the deployment's default. */
  rateLimitPerMinute?: number | null;
}

export function isPlatformAdmin(p: Principal): boolean {
  return p.role === "admin" && p.tenant === PLATFORM_TENANT;
}
