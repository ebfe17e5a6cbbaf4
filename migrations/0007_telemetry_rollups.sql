-- Telemetry rollups (SPEC §7): daily sums of the index, kept by triggers in the same transaction that
-- writes an `executions` or `usage_records` row, so that a telemetry read over 92 days of a busy
-- tenant reads a few thousand rollup rows instead of every execution. A read combines the whole UTC
-- days of its range from here with the raw rows of the partial days at its two ends, so every figure
-- stays exact (src/store/telemetry.ts).
--
-- Why triggers rather than rollup rows of their own in the outbox: a rollup is a function of the
-- index rows, and a trigger applies it exactly when a row changes. A retried flush, a row re-sent at
-- the same version, or an older version the guard ignores changes nothing, so nothing is counted twice.
--
-- Invariants:
-- - `day` is the row's time (executions: created_at; usage records: time) ÷ 86,400,000, rounded down.
-- - An index row's created_at and workflow_id never change (the upsert does not set them).
-- - Every change of an executions row goes through `execution_contributions`: −1 × the old row, +1 ×
--   the new one. The INSTEAD OF trigger on that view is the one place that knows what a row adds.
-- - The ended statuses (durations) are the state machine's terminal ones; test/store/telemetry-rollups
--   checks this list against the engine's.
-- - Rows that fall to zero stay; reads ignore them.
-- - Cost: an ended execution writes one execution_rollups row per index write that changes it, one
--   duration row, and one step_rollups row per step it ran; a usage record writes one usage_rollups row.

CREATE TABLE execution_rollups (
  tenant           TEXT NOT NULL,
  day              INTEGER NOT NULL,
  workflow_id      TEXT NOT NULL,
  executions       INTEGER NOT NULL DEFAULT 0,
  pending_approval INTEGER NOT NULL DEFAULT 0,
  queued           INTEGER NOT NULL DEFAULT 0,
  running          INTEGER NOT NULL DEFAULT 0,
  waiting          INTEGER NOT NULL DEFAULT 0,
  paused           INTEGER NOT NULL DEFAULT 0,
  completed        INTEGER NOT NULL DEFAULT 0,
  partial          INTEGER NOT NULL DEFAULT 0,
  failed           INTEGER NOT NULL DEFAULT 0,
  cancelled        INTEGER NOT NULL DEFAULT 0,
  timed_out        INTEGER NOT NULL DEFAULT 0,
  rejected         INTEGER NOT NULL DEFAULT 0,
  total_usd        REAL NOT NULL DEFAULT 0,
  input_tokens     INTEGER NOT NULL DEFAULT 0,
  output_tokens    INTEGER NOT NULL DEFAULT 0,
  timed            INTEGER NOT NULL DEFAULT 0,  -- ended executions that started
  duration_sum     INTEGER NOT NULL DEFAULT 0,  -- the sum of their durations, ms
  PRIMARY KEY (tenant, day, workflow_id)
) WITHOUT ROWID;
CREATE INDEX execution_rollups_by_workflow ON execution_rollups (tenant, workflow_id, day);

-- Duration histograms: `n` ended executions (step_id '') or step runs of the day whose duration fell
-- in the bucket whose middle is `ms` (see duration_buckets); per step also its runs (attempts > 0)
-- and failures (ended `failed`), on the row of its duration's bucket (ms −1: no duration recorded).
CREATE TABLE duration_rollups (
  tenant      TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  day         INTEGER NOT NULL,
  step_id     TEXT NOT NULL,
  ms          INTEGER NOT NULL,
  n           INTEGER NOT NULL DEFAULT 0,
  runs        INTEGER NOT NULL DEFAULT 0,
  failures    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, workflow_id, day, step_id, ms)
) WITHOUT ROWID;

-- Duration buckets: exact below 50 ms, then each 8 % wider than the one before, so a duration read
-- back as its bucket's middle (`value`) is within 4 % of the true one. Percentiles over 92 days then
-- merge at most about 60 buckets per step and day for durations spread over a factor of 100, however
-- many executions ran; exact values would make a histogram about as long as the list of executions
-- (and 4 % buckets took twice as long to merge over 92 days at the bench's 1,000,000 executions).
CREATE TABLE duration_buckets (
  lo    INTEGER PRIMARY KEY,  -- the bucket holds lo ≤ ms < the next bucket's lo
  value INTEGER NOT NULL      -- its middle, what reads report
);
INSERT INTO duration_buckets (lo, value)
WITH RECURSIVE bounds(lo) AS (
  SELECT 0
  UNION ALL
  SELECT CASE WHEN lo < 50 THEN lo + 1 ELSE CAST(lo * 1.08 AS INTEGER) END FROM bounds WHERE lo < 100000000000
)
SELECT lo, (lo + COALESCE(LEAD(lo) OVER (ORDER BY lo), lo + 1) - 1) / 2 FROM bounds;

-- The usage ledger by model ('' for a step's declared cost) and step.
CREATE TABLE usage_rollups (
  tenant        TEXT NOT NULL,
  day           INTEGER NOT NULL,
  workflow_id   TEXT NOT NULL,
  model         TEXT NOT NULL,
  step_id       TEXT NOT NULL,
  calls         INTEGER NOT NULL DEFAULT 0,
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  total_usd     REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, day, workflow_id, model, step_id)
) WITHOUT ROWID;
CREATE INDEX usage_rollups_by_workflow ON usage_rollups (tenant, workflow_id, day);

-- ---------------------------------------------------------------------------------------------
-- executions → rollups

CREATE VIEW execution_contributions AS
  SELECT 0 AS sign, tenant, workflow_id, created_at, status, cost_usd, input_tokens, output_tokens, started_at, ended_at, steps
  FROM executions WHERE 0;

CREATE TRIGGER execution_contribution INSTEAD OF INSERT ON execution_contributions
BEGIN
  INSERT INTO execution_rollups (tenant, day, workflow_id, executions, pending_approval, queued, running, waiting, paused,
                                 completed, partial, failed, cancelled, timed_out, rejected, total_usd, input_tokens,
                                 output_tokens, timed, duration_sum)
  SELECT NEW.tenant, NEW.created_at / 86400000, NEW.workflow_id, NEW.sign,
         NEW.sign * (NEW.status = 'pending_approval'), NEW.sign * (NEW.status = 'queued'), NEW.sign * (NEW.status = 'running'),
         NEW.sign * (NEW.status = 'waiting'), NEW.sign * (NEW.status = 'paused'), NEW.sign * (NEW.status = 'completed'),
         NEW.sign * (NEW.status = 'partial'), NEW.sign * (NEW.status = 'failed'), NEW.sign * (NEW.status = 'cancelled'),
         NEW.sign * (NEW.status = 'timed_out'), NEW.sign * (NEW.status = 'rejected'),
         NEW.sign * COALESCE(NEW.cost_usd, 0), NEW.sign * COALESCE(NEW.input_tokens, 0), NEW.sign * COALESCE(NEW.output_tokens, 0),
         NEW.sign * (d.ms IS NOT NULL), NEW.sign * COALESCE(d.ms, 0)
  FROM (SELECT CASE WHEN NEW.status IN ('completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected')
                    THEN NEW.ended_at - NEW.started_at END AS ms) AS d
  WHERE true
  ON CONFLICT (tenant, day, workflow_id) DO UPDATE SET
    executions = executions + excluded.executions,
    pending_approval = pending_approval + excluded.pending_approval, queued = queued + excluded.queued,
    running = running + excluded.running, waiting = waiting + excluded.waiting, paused = paused + excluded.paused,
    completed = completed + excluded.completed, partial = partial + excluded.partial, failed = failed + excluded.failed,
    cancelled = cancelled + excluded.cancelled, timed_out = timed_out + excluded.timed_out, rejected = rejected + excluded.rejected,
    total_usd = total_usd + excluded.total_usd, input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens, timed = timed + excluded.timed,
    duration_sum = duration_sum + excluded.duration_sum;

  -- The execution's own duration (step_id '') and, once it carries them, its steps' outcomes.
  INSERT INTO duration_rollups (tenant, workflow_id, day, step_id, ms, n, runs, failures)
  SELECT NEW.tenant, NEW.workflow_id, NEW.created_at / 86400000, o.step_id,
         CASE WHEN o.n = 0 THEN -1 ELSE (SELECT value FROM duration_buckets WHERE lo <= o.ms ORDER BY lo DESC LIMIT 1) END,
         NEW.sign * o.n, NEW.sign * o.runs, NEW.sign * o.failures
  FROM (SELECT '' AS step_id, NEW.ended_at - NEW.started_at AS ms, 1 AS n, 0 AS runs, 0 AS failures
        WHERE NEW.status IN ('completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected')
          AND NEW.ended_at - NEW.started_at >= 0
        UNION ALL
        SELECT json_extract(value, '$.id'), json_extract(value, '$.duration_ms'),
               COALESCE(json_extract(value, '$.duration_ms') >= 0, 0), COALESCE(json_extract(value, '$.attempts') > 0, 0),
               COALESCE(json_extract(value, '$.status') = 'failed', 0)
        FROM json_each(CASE WHEN json_valid(NEW.steps) THEN NEW.steps END)
        WHERE json_extract(value, '$.id') IS NOT NULL) AS o
  WHERE true
  ON CONFLICT (tenant, workflow_id, day, step_id, ms) DO UPDATE SET
    n = n + excluded.n, runs = runs + excluded.runs, failures = failures + excluded.failures;
END;

CREATE TRIGGER executions_rollup_insert AFTER INSERT ON executions
BEGIN
  INSERT INTO execution_contributions
  VALUES (1, NEW.tenant, NEW.workflow_id, NEW.created_at, NEW.status, NEW.cost_usd, NEW.input_tokens, NEW.output_tokens,
          NEW.started_at, NEW.ended_at, NEW.steps);
END;

-- A row re-sent with the same figures changes no rollup, so the trigger skips it.
CREATE TRIGGER executions_rollup_update AFTER UPDATE ON executions
WHEN OLD.status IS NOT NEW.status OR OLD.cost_usd IS NOT NEW.cost_usd OR OLD.input_tokens IS NOT NEW.input_tokens
  OR OLD.output_tokens IS NOT NEW.output_tokens OR OLD.started_at IS NOT NEW.started_at OR OLD.ended_at IS NOT NEW.ended_at
  OR OLD.steps IS NOT NEW.steps
BEGIN
  INSERT INTO execution_contributions
  VALUES (-1, OLD.tenant, OLD.workflow_id, OLD.created_at, OLD.status, OLD.cost_usd, OLD.input_tokens, OLD.output_tokens,
          OLD.started_at, OLD.ended_at, OLD.steps);
  INSERT INTO execution_contributions
  VALUES (1, NEW.tenant, NEW.workflow_id, NEW.created_at, NEW.status, NEW.cost_usd, NEW.input_tokens, NEW.output_tokens,
          NEW.started_at, NEW.ended_at, NEW.steps);
END;

CREATE TRIGGER executions_rollup_delete AFTER DELETE ON executions
BEGIN
  INSERT INTO execution_contributions
  VALUES (-1, OLD.tenant, OLD.workflow_id, OLD.created_at, OLD.status, OLD.cost_usd, OLD.input_tokens, OLD.output_tokens,
          OLD.started_at, OLD.ended_at, OLD.steps);
END;

-- ---------------------------------------------------------------------------------------------
-- usage_records → usage_rollups (records are only ever inserted, under their unique key: an ignored
-- duplicate fires nothing)

CREATE TRIGGER usage_rollup_insert AFTER INSERT ON usage_records
BEGIN
  INSERT INTO usage_rollups (tenant, day, workflow_id, model, step_id, calls, input_tokens, output_tokens, total_usd)
  VALUES (NEW.tenant, NEW.time / 86400000, NEW.workflow_id, COALESCE(NEW.model, ''), NEW.step_id, 1, NEW.input_tokens,
          NEW.output_tokens, COALESCE(NEW.cost_usd, 0))
  ON CONFLICT (tenant, day, workflow_id, model, step_id) DO UPDATE SET
    calls = calls + 1, input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens, total_usd = total_usd + excluded.total_usd;
END;

-- Rows indexed before this migration.
INSERT INTO execution_contributions
SELECT 1, tenant, workflow_id, created_at, status, cost_usd, input_tokens, output_tokens, started_at, ended_at, steps FROM executions;
INSERT INTO usage_rollups (tenant, day, workflow_id, model, step_id, calls, input_tokens, output_tokens, total_usd)
SELECT tenant, time / 86400000, workflow_id, COALESCE(model, ''), step_id, COUNT(*), SUM(input_tokens), SUM(output_tokens), TOTAL(cost_usd)
FROM usage_records GROUP BY 1, 2, 3, 4, 5;
