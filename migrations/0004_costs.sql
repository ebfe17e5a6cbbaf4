-- Costs (SPEC §7). The usage ledger lives in each execution's Durable Object; its records reach
-- D1 through the outbox, under their unique key (execution, step, item, attempt, call), so a record
-- is counted once however often a flush is retried. The placeholder step_costs table never had a
-- writer and goes.
DROP INDEX IF EXISTS step_costs_by_workflow;
DROP TABLE IF EXISTS step_costs;

CREATE TABLE usage_records (
  tenant        TEXT NOT NULL,
  execution_id  TEXT NOT NULL,
  workflow_id   TEXT NOT NULL,
  step_id       TEXT NOT NULL,
  item          INTEGER NOT NULL DEFAULT -1,  -- index of a map item; -1: not in a map (a key column cannot be NULL)
  attempt       INTEGER NOT NULL,
  call          INTEGER NOT NULL,             -- 1-based, per attempt: each model tried is a call
  model         TEXT,                         -- NULL: a step's declared cost_usd
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd      REAL,                         -- NULL: no price known for the model
  price         TEXT,                         -- JSON price the cost was computed with (never rewritten)
  time          INTEGER NOT NULL,
  PRIMARY KEY (tenant, execution_id, step_id, item, attempt, call)
) WITHOUT ROWID;
CREATE INDEX usage_by_time     ON usage_records (tenant, time);
CREATE INDEX usage_by_workflow ON usage_records (tenant, workflow_id, time);

-- Prices per tenant, over the deployment's defaults (the PRICES variable).
CREATE TABLE prices (
  tenant              TEXT NOT NULL,
  model               TEXT NOT NULL,
  input_usd_per_mtok  REAL NOT NULL,
  output_usd_per_mtok REAL NOT NULL,
  updated_by          TEXT,
  updated_at          INTEGER NOT NULL,
  PRIMARY KEY (tenant, model)
) WITHOUT ROWID;

-- Token totals beside cost_usd, so listings show Execution.cost without reading the ledger.
ALTER TABLE executions ADD COLUMN input_tokens INTEGER;
ALTER TABLE executions ADD COLUMN output_tokens INTEGER;
