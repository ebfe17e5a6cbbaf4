-- Stepline D1 index. D1 is never the source of truth for an execution: the execution Durable
-- Object owns that state and flushes index rows here (version-guarded upserts). Registry, keys and
-- audit do live here. Times are epoch milliseconds (INTEGER) so keyset pagination sorts cheaply.

CREATE TABLE tenants (
  id         TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);

-- The platform tenant: the bootstrap ADMIN_API_KEY belongs to it.
INSERT INTO tenants (id, created_at) VALUES ('default', 0);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  tenant       TEXT NOT NULL REFERENCES tenants(id),
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'approver', 'viewer')),
  key_hash     TEXT NOT NULL UNIQUE,          -- hex SHA-256 of the secret; the secret is never stored
  key_prefix   TEXT NOT NULL,                 -- first characters, to help people recognise a key
  created_by   TEXT,                          -- key id of the admin that created it
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);
CREATE INDEX api_keys_tenant_created ON api_keys (tenant, created_at DESC, id DESC);

CREATE TABLE workflows (
  tenant         TEXT NOT NULL,
  id             TEXT NOT NULL,
  latest_version INTEGER NOT NULL,
  archived_at    INTEGER,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
);

CREATE TABLE workflow_versions (
  tenant      TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  version     INTEGER NOT NULL CHECK (version >= 1),
  hash        TEXT NOT NULL,                  -- hex SHA-256 of the canonical JSON of the definition
  name        TEXT NOT NULL,
  description TEXT,
  definition  TEXT NOT NULL,                  -- canonical JSON
  created_by  TEXT,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant, workflow_id, version)
);

-- Index of executions, written only by the execution Durable Object's outbox.
-- state_version lets an upsert move a row only forward (stale or replayed flushes are ignored).
CREATE TABLE executions (
  tenant           TEXT NOT NULL,
  id               TEXT NOT NULL,
  workflow_id      TEXT NOT NULL,
  workflow_version INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending_approval', 'queued', 'running', 'waiting', 'paused',
                     'completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected')),
  labels           TEXT NOT NULL DEFAULT '{}',  -- JSON object
  error_code       TEXT,
  cost_usd         REAL NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  ended_at         INTEGER,
  state_version    INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
);
-- Keyset pagination, newest first, for each filter the listing serves.
CREATE INDEX executions_by_created  ON executions (tenant, created_at DESC, id DESC);
CREATE INDEX executions_by_status   ON executions (tenant, status, created_at DESC, id DESC);
CREATE INDEX executions_by_workflow ON executions (tenant, workflow_id, created_at DESC, id DESC);

-- One row per label, so `label=key:value` is an index range, not a JSON scan.
CREATE TABLE execution_labels (
  tenant       TEXT NOT NULL,
  key          TEXT NOT NULL,
  value        TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  execution_id TEXT NOT NULL,
  PRIMARY KEY (tenant, key, value, created_at, execution_id)
);

-- Per-step costs (llm tokens, http calls) for cost reports and telemetry.
CREATE TABLE step_costs (
  tenant        TEXT NOT NULL,
  execution_id  TEXT NOT NULL,
  step_id       TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  workflow_id   TEXT NOT NULL,
  kind          TEXT NOT NULL,                -- 'llm', 'http', ...
  model         TEXT,
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd      REAL NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant, execution_id, step_id, attempt)
);
CREATE INDEX step_costs_by_workflow ON step_costs (tenant, workflow_id, created_at);

-- Idempotency-Key records (kept 24 h): the request hash tells a replay from a reuse with another body.
CREATE TABLE idempotency_keys (
  tenant       TEXT NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)
);

-- Audit log: every write, every key change, every denied attempt. tenant is NULL when the caller
-- could not be identified (missing or unknown key).
CREATE TABLE audit_log (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT NOT NULL UNIQUE,
  time       INTEGER NOT NULL,
  tenant     TEXT,
  actor      TEXT,                            -- api key id ('bootstrap' for ADMIN_API_KEY)
  action     TEXT NOT NULL,
  target     TEXT,
  result     TEXT NOT NULL CHECK (result IN ('success', 'failure', 'denied')),
  status     INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  detail     TEXT                             -- JSON, never secrets
);
CREATE INDEX audit_by_tenant ON audit_log (tenant, seq DESC);
CREATE INDEX audit_by_actor  ON audit_log (tenant, actor, seq DESC);
CREATE INDEX audit_by_action ON audit_log (tenant, action, seq DESC);
CREATE INDEX audit_by_time   ON audit_log (tenant, time DESC);
