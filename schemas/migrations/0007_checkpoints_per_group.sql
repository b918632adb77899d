-- Guardian Fleet schema, migration 0007: checkpoints per consumer group.
-- A checkpoint says where *one group* made everything durable. Keyed by topic and partition only, a
-- second group (a canary started at the end of the log) raised the first group's checkpoints past
-- events the first group never stored, and the first group then skipped them for good. Each row now
-- belongs to one group, and records the offset that group last committed to Kafka: a worker skips to
-- the checkpoint only when Kafka's committed offset is that one (so an operator's rewind is kept).
-- Rows written before this migration belong to the default group, guardian-workers; a fleet running
-- under another group name can re-key them: UPDATE guardian_checkpoints SET group_id = 'NAME'.
ALTER TABLE guardian_checkpoints ADD COLUMN IF NOT EXISTS group_id text;
ALTER TABLE guardian_checkpoints ADD COLUMN IF NOT EXISTS committed_offset bigint;
UPDATE guardian_checkpoints SET group_id = 'guardian-workers' WHERE group_id IS NULL;
ALTER TABLE guardian_checkpoints ALTER COLUMN group_id SET NOT NULL;
ALTER TABLE guardian_checkpoints DROP CONSTRAINT IF EXISTS guardian_checkpoints_pkey;
ALTER TABLE guardian_checkpoints ADD PRIMARY KEY (group_id, topic, partition);
COMMENT ON COLUMN guardian_checkpoints.next_offset IS 'the next offset after everything this group made durable';
COMMENT ON COLUMN guardian_checkpoints.committed_offset IS 'the offset this group last committed to Kafka, as of its latest write';
