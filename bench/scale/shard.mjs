// Which shard an execution's index rows go to: a hash of "tenant/execution id", mod the shard count
// (docs/SCALE.md, "Sharding the index": the per-hash-range placement). Shared by the simulation
// Worker, which routes with it, and the runner, which checks the spread.

/** FNV-1a, 32 bits: cheap, stable across runtimes, and even enough over random execution ids. */
export function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export const shardOf = (tenant, executionId, shards) => fnv1a(`${tenant}/${executionId}`) % shards;
