-- Shared budgets (SPEC §7): a tenant's or a workflow's spending limit per UTC day or month. Each
-- budget's Durable Object (BudgetObject) holds its books — spending, reservations, waiters — and
-- is the source of truth for them; this table is the index: listings, and which budgets apply to
-- an execution when it starts. max_usd here is a copy of the object's, for reading.
CREATE TABLE budgets (
  tenant      TEXT NOT NULL,
  id          TEXT NOT NULL,                 -- bu_<32 hex>: the object's name
  scope       TEXT NOT NULL CHECK (scope IN ('tenant', 'workflow')),
  workflow_id TEXT,                          -- set exactly when scope = 'workflow'
  period      TEXT NOT NULL CHECK (period IN ('day', 'month')),
  max_usd     REAL NOT NULL CHECK (max_usd > 0),
  on_exceed   TEXT NOT NULL CHECK (on_exceed IN ('pause', 'fail', 'warn')),
  created_by  TEXT,                          -- key id of the admin who created it
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  deleted_at  INTEGER,                       -- NULL: live
  PRIMARY KEY (tenant, id),
  CHECK ((scope = 'workflow') = (workflow_id IS NOT NULL))
) WITHOUT ROWID;
-- Keyset pagination of a tenant's live budgets, newest first.
CREATE INDEX budgets_by_created ON budgets (tenant, created_at DESC, id DESC) WHERE deleted_at IS NULL;
-- "Which budgets apply": the tenant's tenant-wide budgets and those of one workflow.
CREATE INDEX budgets_applicable ON budgets (tenant, scope, workflow_id) WHERE deleted_at IS NULL;
