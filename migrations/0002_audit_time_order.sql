-- The audit log is listed newest first by `time` (keyset on time, seq): rows that an execution's
-- Durable Object hands to its outbox reach D1 after later rows, so insertion order (seq) is not
-- chronological. Replace the seq-ordered indexes with time-ordered ones.
DROP INDEX IF EXISTS audit_by_tenant;
DROP INDEX IF EXISTS audit_by_actor;
DROP INDEX IF EXISTS audit_by_action;
DROP INDEX IF EXISTS audit_by_time;
CREATE INDEX audit_by_time   ON audit_log (tenant, time DESC, seq DESC);
CREATE INDEX audit_by_actor  ON audit_log (tenant, actor, time DESC, seq DESC);
CREATE INDEX audit_by_action ON audit_log (tenant, action, time DESC, seq DESC);
