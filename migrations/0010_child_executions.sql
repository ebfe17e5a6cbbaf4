-- Child executions (SPEC §9): the execution and `workflow` step that started one, for listings
-- filtered by `parent_id` (served by their own index, newest first like every listing).
ALTER TABLE executions ADD COLUMN parent_id TEXT;
ALTER TABLE executions ADD COLUMN parent_step_id TEXT;
CREATE INDEX executions_by_parent ON executions (tenant, parent_id, created_at DESC, id DESC) WHERE parent_id IS NOT NULL;
