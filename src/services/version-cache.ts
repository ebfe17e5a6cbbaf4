/**
 * Registered workflow versions kept per isolate, so a start does not fetch and parse its definition
 * again. Safe to keep for the isolate's life: a version, once registered, never changes (the
 * registry only inserts versions; archiving marks the workflow, not the version, and is read from
 * D1 on every start). Which version is the latest is not kept here: every start reads it from D1.
 *
 * Entries are frozen (they are shared by every request of the isolate) and bounded by count and by
 * definition size; the least recently used go first.
 */
import type { WorkflowDefinition } from "../schemas/definition";

export interface CachedVersion {
  definition: WorkflowDefinition;
  hash: string;
}

/** At most this many versions, and this many characters of definition text, per isolate. */
const MAX_VERSIONS = 512;
const MAX_CHARS = 8 * 1024 * 1024;

const versions = new Map<string, CachedVersion & { chars: number }>();
/** The highest version kept of each workflow: what a start of "the latest" may already hold. */
const highest = new Map<string, number>();
let chars = 0;

const workflowKey = (tenant: string, workflowId: string) => `${tenant}\n${workflowId}`;
const versionKey = (tenant: string, workflowId: string, version: number) => `${tenant}\n${workflowId}\n${version}`;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function cachedVersion(tenant: string, workflowId: string, version: number): CachedVersion | null {
  const key = versionKey(tenant, workflowId, version);
  const hit = versions.get(key);
  if (!hit) return null;
  versions.delete(key); // most recently used last
  versions.set(key, hit);
  return hit;
}

/** The version of `workflowId` a start should say it holds: `version` when given and kept, else the highest kept. */
export function heldVersion(tenant: string, workflowId: string, version: number | undefined): number | null {
  if (version !== undefined) return versions.has(versionKey(tenant, workflowId, version)) ? version : null;
  return highest.get(workflowKey(tenant, workflowId)) ?? null;
}

/** Keeps a version read from the registry; `definitionText` is its stored canonical JSON. */
export function keepVersion(tenant: string, workflowId: string, version: number, definitionText: string, hash: string): CachedVersion {
  const entry = { definition: deepFreeze(JSON.parse(definitionText) as WorkflowDefinition), hash, chars: definitionText.length };
  if (entry.chars > MAX_CHARS / 8) return entry; // a huge one is used, not kept
  const key = versionKey(tenant, workflowId, version);
  const old = versions.get(key);
  if (old) chars -= old.chars;
  versions.delete(key);
  versions.set(key, entry);
  chars += entry.chars;
  const wf = workflowKey(tenant, workflowId);
  if ((highest.get(wf) ?? 0) < version) highest.set(wf, version);
  for (const [k, v] of versions) {
    if (versions.size <= MAX_VERSIONS && chars <= MAX_CHARS) break;
    versions.delete(k);
    chars -= v.chars;
    const [t = "", w = "", n = ""] = k.split("\n");
    if (highest.get(workflowKey(t, w)) === Number(n)) highest.delete(workflowKey(t, w));
  }
  return entry;
}
