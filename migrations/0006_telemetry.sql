-- Telemetry (SPEC §7): an ended execution's index row carries its steps' outcomes, a JSON array in
-- definition order of { id, status, attempts, duration_ms } (duration_ms: ended_at − started_at,
-- null when the step never ended), written with the row the object already sends when it ends —
-- no row of its own per step. NULL while the execution runs, and on rows indexed before this.
ALTER TABLE executions ADD COLUMN steps TEXT;
