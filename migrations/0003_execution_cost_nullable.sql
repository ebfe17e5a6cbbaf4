-- An execution's index row has no cost (NULL) until its costs are recorded: the 0 written so far
-- claimed that it cost nothing. SQLite drops a column's NOT NULL only by rebuilding the table; the
-- rows written before this migration carry that placeholder 0, which becomes NULL.
CREATE TABLE executions_rebuilt (
  tenant           TEXT NOT NULL,
  id               TEXT NOT NULL,
  workflow_id      TEXT NOT NULL,
  workflow_version INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending_approval', 'queued', 'running', 'waiting', 'paused',
                     'completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected')),
  labels           TEXT NOT NULL DEFAULT '{}',  -- JSON object
  error_code       TEXT,
  cost_usd         REAL,                        -- NULL: no cost recorded (yet)
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  ended_at         INTEGER,
  state_version    INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
);
INSERT INTO executions_rebuilt (tenant, id, workflow_id, workflow_version, status, labels, error_code, cost_usd,
                                created_at, started_at, ended_at, state_version, updated_at)
  SELECT tenant, id, workflow_id, workflow_version, status, labels, error_code, NULLIF(cost_usd, 0),
         created_at, started_at, ended_at, state_version, updated_at
  FROM executions;
DROP TABLE executions;
ALTER TABLE executions_rebuilt RENAME TO executions;
CREATE INDEX executions_by_created  ON executions (tenant, created_at DESC, id DESC);
CREATE INDEX executions_by_status   ON executions (tenant, status, created_at DESC, id DESC);
CREATE INDEX executions_by_workflow ON executions (tenant, workflow_id, created_at DESC, id DESC);
