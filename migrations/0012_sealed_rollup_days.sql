-- Fewer D1 rows per execution (issue 16): telemetry rollups built once per day instead of once per
-- execution, and labels stored by their key (at the end).
--
-- Until now the triggers of 0007/0009 rolled every index write up as it happened: an ended 20-step
-- execution wrote 22 rollup rows (its day's execution_rollups row, its own duration bucket, one bucket per
-- step; 23 when it opened the day's row, with its index entry), two thirds of the D1 rows it cost. But reads only take *whole* UTC days from the rollups
-- (the partial days at a range's ends are read raw), so a day's rollups are not needed before a read
-- asks for that whole day. From here on:
--
-- - A tenant's day is *sealed* when its row is in `rollup_days`. Until then it has no rollup rows at
--   all, and reads take its executions and usage records raw (exact, like the partial days).
-- - A read that covers whole days which are over (src/store/telemetry-seal.ts: a day ends, then a
--   grace period passes) seals them first, in the same D1 batch: it builds the day's execution,
--   duration and usage rollups from the raw rows in bulk and inserts the day's `rollup_days` row.
--   Each seal statement builds only the days not yet in `rollup_days`, and the batch is one
--   transaction, so two reads sealing the same day at once build it once.
-- - The triggers below only fire for rows of sealed days: an execution that ends (or is re-costed,
--   or a usage record that arrives) after its day was sealed adds its change as before (0009's
--   `execution_changes`). A row written before the seal is in the bulk build and fired nothing; a
--   row written after it fires exactly once per change. D1 runs one transaction at a time, so every
--   write falls on one side of the seal: nothing is counted twice or missed.
-- - Re-sent rows, retried flushes and stale versions change nothing, as before (the version guard
--   and 0009's "only what changed" rule are unchanged).
--
-- Invariants: a (tenant, day) with rollup rows is sealed; a sealed day's rollups equal a scan of its
-- rows. A day is a row's `created_at` (executions) or `time` (usage records) ÷ 86,400,000.

CREATE TABLE rollup_days (
  tenant    TEXT NOT NULL,
  day       INTEGER NOT NULL,
  sealed_at INTEGER NOT NULL,  -- epoch ms; 0: sealed by this migration (rolled up by the triggers since 0007)
  PRIMARY KEY (tenant, day)
) WITHOUT ROWID;

-- Every day that has rollups so far was kept complete by the triggers: it is sealed, and the triggers
-- go on keeping it. (Each row of those days made a rollup row, so the rollup tables list those days.)
INSERT OR IGNORE INTO rollup_days (tenant, day, sealed_at)
SELECT tenant, day, 0 FROM execution_rollups
UNION SELECT tenant, day, 0 FROM duration_rollups
UNION SELECT tenant, day, 0 FROM usage_rollups;

DROP TRIGGER executions_rollup_insert;
DROP TRIGGER executions_rollup_update;
DROP TRIGGER executions_rollup_delete;
DROP TRIGGER usage_rollup_insert;

-- The same triggers as 0009's (and 0007's for usage), for rows of sealed days only.
CREATE TRIGGER executions_rollup_insert AFTER INSERT ON executions
WHEN EXISTS (SELECT 1 FROM rollup_days WHERE tenant = NEW.tenant AND day = NEW.created_at / 86400000)
BEGIN
  INSERT INTO execution_changes
  VALUES (NEW.tenant, NEW.workflow_id, NEW.created_at,
          0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          1, NEW.status, NEW.cost_usd, NEW.input_tokens, NEW.output_tokens, NEW.started_at, NEW.ended_at, NEW.steps);
END;

CREATE TRIGGER executions_rollup_update AFTER UPDATE ON executions
WHEN EXISTS (SELECT 1 FROM rollup_days WHERE tenant = NEW.tenant AND day = NEW.created_at / 86400000)
BEGIN
  INSERT INTO execution_changes
  VALUES (NEW.tenant, NEW.workflow_id, NEW.created_at,
          1, OLD.status, OLD.cost_usd, OLD.input_tokens, OLD.output_tokens, OLD.started_at, OLD.ended_at, OLD.steps,
          1, NEW.status, NEW.cost_usd, NEW.input_tokens, NEW.output_tokens, NEW.started_at, NEW.ended_at, NEW.steps);
END;

CREATE TRIGGER executions_rollup_delete AFTER DELETE ON executions
WHEN EXISTS (SELECT 1 FROM rollup_days WHERE tenant = OLD.tenant AND day = OLD.created_at / 86400000)
BEGIN
  INSERT INTO execution_changes
  VALUES (OLD.tenant, OLD.workflow_id, OLD.created_at,
          1, OLD.status, OLD.cost_usd, OLD.input_tokens, OLD.output_tokens, OLD.started_at, OLD.ended_at, OLD.steps,
          0, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
END;

CREATE TRIGGER usage_rollup_insert AFTER INSERT ON usage_records
WHEN EXISTS (SELECT 1 FROM rollup_days WHERE tenant = NEW.tenant AND day = NEW.time / 86400000)
BEGIN
  INSERT INTO usage_rollups (tenant, day, workflow_id, model, step_id, calls, input_tokens, output_tokens, total_usd)
  VALUES (NEW.tenant, NEW.time / 86400000, NEW.workflow_id, COALESCE(NEW.model, ''), NEW.step_id, 1, NEW.input_tokens,
          NEW.output_tokens, COALESCE(NEW.cost_usd, 0))
  ON CONFLICT (tenant, day, workflow_id, model, step_id) DO UPDATE SET
    calls = calls + 1, input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens, total_usd = total_usd + excluded.total_usd;
END;

-- ---------------------------------------------------------------------------------------------
-- execution_labels without a rowid. Its rows are small and only ever found by their primary key, but
-- as a rowid table each label was two b-tree entries (the row, and the key's automatic index), so two
-- billed D1 rows per label of every execution. Stored by its key it is one. Rebuilt once; nothing
-- (view, trigger) refers to it.
CREATE TABLE execution_labels_by_key (
  tenant       TEXT NOT NULL,
  key          TEXT NOT NULL,
  value        TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  execution_id TEXT NOT NULL,
  PRIMARY KEY (tenant, key, value, created_at, execution_id)
) WITHOUT ROWID;
INSERT INTO execution_labels_by_key (tenant, key, value, created_at, execution_id)
SELECT tenant, key, value, created_at, execution_id FROM execution_labels;
DROP TABLE execution_labels;
ALTER TABLE execution_labels_by_key RENAME TO execution_labels;
