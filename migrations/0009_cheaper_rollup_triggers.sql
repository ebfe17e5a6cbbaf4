-- Telemetry rollups (0007) with fewer row writes: a change of an index row is applied as one delta,
-- not as −old then +new. execution_rollups takes one upsert per changed row (two before), and the
-- duration histograms are touched only when what they count changes (an execution's duration or
-- its steps' outcomes), not when a cost is re-sent on an ended row (which rewrote every step's row
-- twice). The figures are the same; test/store/telemetry-rollups checks them against a scan.

DROP TRIGGER executions_rollup_insert;
DROP TRIGGER executions_rollup_update;
DROP TRIGGER executions_rollup_delete;
DROP TRIGGER execution_contribution;
DROP VIEW execution_contributions;

-- (`IS`, not `=`: the missing side's status is NULL, and 0 × NULL would be NULL.)
-- One change of one index row: the old values (`had` = 0 when it is new) and the new ones (`has` = 0
-- when it is deleted). Key columns (tenant, workflow_id, created_at) never change.
CREATE VIEW execution_changes AS
  SELECT tenant, workflow_id, created_at,
         0 AS had, status AS old_status, cost_usd AS old_cost_usd, input_tokens AS old_input_tokens,
         output_tokens AS old_output_tokens, started_at AS old_started_at, ended_at AS old_ended_at, steps AS old_steps,
         0 AS has, status AS new_status, cost_usd AS new_cost_usd, input_tokens AS new_input_tokens,
         output_tokens AS new_output_tokens, started_at AS new_started_at, ended_at AS new_ended_at, steps AS new_steps
  FROM executions WHERE 0;

CREATE TRIGGER execution_change INSTEAD OF INSERT ON execution_changes
BEGIN
  INSERT INTO execution_rollups (tenant, day, workflow_id, executions, pending_approval, queued, running, waiting, paused,
                                 completed, partial, failed, cancelled, timed_out, rejected, total_usd, input_tokens,
                                 output_tokens, timed, duration_sum)
  SELECT NEW.tenant, NEW.created_at / 86400000, NEW.workflow_id, NEW.has - NEW.had,
         NEW.has * (NEW.new_status IS 'pending_approval') - NEW.had * (NEW.old_status IS 'pending_approval'),
         NEW.has * (NEW.new_status IS 'queued') - NEW.had * (NEW.old_status IS 'queued'),
         NEW.has * (NEW.new_status IS 'running') - NEW.had * (NEW.old_status IS 'running'),
         NEW.has * (NEW.new_status IS 'waiting') - NEW.had * (NEW.old_status IS 'waiting'),
         NEW.has * (NEW.new_status IS 'paused') - NEW.had * (NEW.old_status IS 'paused'),
         NEW.has * (NEW.new_status IS 'completed') - NEW.had * (NEW.old_status IS 'completed'),
         NEW.has * (NEW.new_status IS 'partial') - NEW.had * (NEW.old_status IS 'partial'),
         NEW.has * (NEW.new_status IS 'failed') - NEW.had * (NEW.old_status IS 'failed'),
         NEW.has * (NEW.new_status IS 'cancelled') - NEW.had * (NEW.old_status IS 'cancelled'),
         NEW.has * (NEW.new_status IS 'timed_out') - NEW.had * (NEW.old_status IS 'timed_out'),
         NEW.has * (NEW.new_status IS 'rejected') - NEW.had * (NEW.old_status IS 'rejected'),
         NEW.has * COALESCE(NEW.new_cost_usd, 0) - NEW.had * COALESCE(NEW.old_cost_usd, 0),
         NEW.has * COALESCE(NEW.new_input_tokens, 0) - NEW.had * COALESCE(NEW.old_input_tokens, 0),
         NEW.has * COALESCE(NEW.new_output_tokens, 0) - NEW.had * COALESCE(NEW.old_output_tokens, 0),
         NEW.has * (d.new_ms IS NOT NULL) - NEW.had * (d.old_ms IS NOT NULL),
         NEW.has * COALESCE(d.new_ms, 0) - NEW.had * COALESCE(d.old_ms, 0)
  FROM (SELECT CASE WHEN NEW.new_status IN ('completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected')
                    THEN NEW.new_ended_at - NEW.new_started_at END AS new_ms,
               CASE WHEN NEW.old_status IN ('completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected')
                    THEN NEW.old_ended_at - NEW.old_started_at END AS old_ms) AS d
  WHERE NOT (NEW.had AND NEW.has AND NEW.old_status IS NEW.new_status AND NEW.old_cost_usd IS NEW.new_cost_usd
             AND NEW.old_input_tokens IS NEW.new_input_tokens AND NEW.old_output_tokens IS NEW.new_output_tokens
             AND NEW.old_started_at IS NEW.new_started_at AND NEW.old_ended_at IS NEW.new_ended_at)
  ON CONFLICT (tenant, day, workflow_id) DO UPDATE SET
    executions = executions + excluded.executions,
    pending_approval = pending_approval + excluded.pending_approval, queued = queued + excluded.queued,
    running = running + excluded.running, waiting = waiting + excluded.waiting, paused = paused + excluded.paused,
    completed = completed + excluded.completed, partial = partial + excluded.partial, failed = failed + excluded.failed,
    cancelled = cancelled + excluded.cancelled, timed_out = timed_out + excluded.timed_out, rejected = rejected + excluded.rejected,
    total_usd = total_usd + excluded.total_usd, input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens, timed = timed + excluded.timed,
    duration_sum = duration_sum + excluded.duration_sum;

  -- The histograms: the old row's entries out and the new row's in, only when they differ (an
  -- ended execution's duration, and its steps' outcomes, are written once).
  INSERT INTO duration_rollups (tenant, workflow_id, day, step_id, ms, n, runs, failures)
  SELECT NEW.tenant, NEW.workflow_id, NEW.created_at / 86400000, o.step_id,
         CASE WHEN o.n = 0 THEN -1 ELSE (SELECT value FROM duration_buckets WHERE lo <= o.ms ORDER BY lo DESC LIMIT 1) END,
         o.sign * o.n, o.sign * o.runs, o.sign * o.failures
  FROM (SELECT v.sign, '' AS step_id, v.ms, 1 AS n, 0 AS runs, 0 AS failures
        FROM (SELECT 1 AS sign, NEW.new_status AS status, NEW.new_ended_at - NEW.new_started_at AS ms WHERE NEW.has
              UNION ALL SELECT -1, NEW.old_status, NEW.old_ended_at - NEW.old_started_at WHERE NEW.had) AS v
        WHERE v.status IN ('completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected') AND v.ms >= 0
        UNION ALL
        SELECT v.sign, json_extract(s.value, '$.id'), json_extract(s.value, '$.duration_ms'),
               COALESCE(json_extract(s.value, '$.duration_ms') >= 0, 0), COALESCE(json_extract(s.value, '$.attempts') > 0, 0),
               COALESCE(json_extract(s.value, '$.status') = 'failed', 0)
        FROM (SELECT 1 AS sign, NEW.new_steps AS steps WHERE NEW.has UNION ALL SELECT -1, NEW.old_steps WHERE NEW.had) AS v,
             json_each(CASE WHEN json_valid(v.steps) THEN v.steps END) AS s
        WHERE json_extract(s.value, '$.id') IS NOT NULL) AS o
  WHERE NOT (NEW.had AND NEW.has AND NEW.old_steps IS NEW.new_steps
             AND (NEW.old_status IN ('completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected'))
                 IS (NEW.new_status IN ('completed', 'partial', 'failed', 'cancelled', 'timed_out', 'rejected'))
             AND NEW.old_ended_at - NEW.old_started_at IS NEW.new_ended_at - NEW.new_started_at)
  ON CONFLICT (tenant, workflow_id, day, step_id, ms) DO UPDATE SET
    n = n + excluded.n, runs = runs + excluded.runs, failures = failures + excluded.failures;
END;

CREATE TRIGGER executions_rollup_insert AFTER INSERT ON executions
BEGIN
  INSERT INTO execution_changes
  VALUES (NEW.tenant, NEW.workflow_id, NEW.created_at,
          0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          1, NEW.status, NEW.cost_usd, NEW.input_tokens, NEW.output_tokens, NEW.started_at, NEW.ended_at, NEW.steps);
END;

CREATE TRIGGER executions_rollup_update AFTER UPDATE ON executions
BEGIN
  INSERT INTO execution_changes
  VALUES (NEW.tenant, NEW.workflow_id, NEW.created_at,
          1, OLD.status, OLD.cost_usd, OLD.input_tokens, OLD.output_tokens, OLD.started_at, OLD.ended_at, OLD.steps,
          1, NEW.status, NEW.cost_usd, NEW.input_tokens, NEW.output_tokens, NEW.started_at, NEW.ended_at, NEW.steps);
END;

CREATE TRIGGER executions_rollup_delete AFTER DELETE ON executions
BEGIN
  INSERT INTO execution_changes
  VALUES (OLD.tenant, OLD.workflow_id, OLD.created_at,
          1, OLD.status, OLD.cost_usd, OLD.input_tokens, OLD.output_tokens, OLD.started_at, OLD.ended_at, OLD.steps,
          0, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
END;
