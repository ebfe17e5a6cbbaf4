/**
 * Counts the SQLite rows an object writes — the unit Durable Object storage is billed in — so an
 * execution can report what it cost to run (the `execution.usage` log line; the benchmark reads it).
 * A write statement without RETURNING runs to completion inside `exec`, so its cursor's
 * `rowsWritten` is final when `exec` returns. Reads are not counted: their cursors are consumed
 * later, and rows read cost a thousandth of rows written.
 */
/** Durable Object SQLite binds at most 100 parameters per statement (local workerd does not enforce it). */
export const MAX_BOUND_PARAMETERS = 100;

export class MeteredSql {
  rowsWritten = 0;

  constructor(private readonly sql: SqlStorage) {}

  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> {
    // Enforced here so that tests fail the way production would.
    if (bindings.length > MAX_BOUND_PARAMETERS) throw new Error(`${bindings.length} bound parameters: at most ${MAX_BOUND_PARAMETERS} per statement`);
    const cursor = this.sql.exec<T>(query, ...bindings);
    this.rowsWritten += cursor.rowsWritten;
    return cursor;
  }
}

/** The part of `SqlStorage` the object's stores use. */
export type Sql = Pick<SqlStorage, "exec">;

/**
 * `INSERT … VALUES (…), (…) …` for many rows, in as few statements as the bound-parameter limit
 * allows. `tuple` is one row's placeholders (literals may stand in it), `rows` each row's bound
 * values, all of the same length; `tail` follows the VALUES list (e.g. an ON CONFLICT clause).
 */
export function insertRows(sql: Sql, head: string, tuple: string, rows: readonly (readonly unknown[])[], tail = ""): void {
  if (rows.length === 0) return;
  const perStatement = Math.floor(MAX_BOUND_PARAMETERS / rows[0]!.length);
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    sql.exec(`${head} VALUES ${chunk.map(() => tuple).join(", ")} ${tail}`, ...chunk.flat());
  }
}
