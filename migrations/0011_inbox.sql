-- The inbox (SPEC §10): what executions wait for a person (or a caller) to do. Written by each
-- execution's outbox (one row per execution, kind and step; reopened when a wait opens again),
-- read by GET /v1/inbox newest first, filtered by status, kind or workflow.
CREATE TABLE inbox (
  tenant       TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('approval', 'answers', 'event', 'budget')),
  step_id      TEXT NOT NULL DEFAULT '', -- '' for the execution's own gate
  workflow_id  TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'done')),
  outcome      TEXT CHECK (outcome IS NULL OR outcome IN ('approved', 'rejected', 'answered', 'received', 'raised', 'expired', 'cancelled')),
  summary      TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  expires_at   TEXT,
  decided_by   TEXT,
  decided_at   INTEGER,
  PRIMARY KEY (tenant, execution_id, kind, step_id)
);
CREATE INDEX inbox_by_status ON inbox (tenant, status, requested_at DESC, execution_id DESC, kind DESC, step_id DESC);
CREATE INDEX inbox_by_requested ON inbox (tenant, requested_at DESC, execution_id DESC, kind DESC, step_id DESC);
