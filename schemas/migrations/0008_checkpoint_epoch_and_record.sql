-- Guardian Fleet schema, migration 0008: checkpoints that a stale writer cannot raise and that are
-- checked against the log before they are honoured.
-- epoch: raised each time `guardian offsets reset` lowers the group's checkpoint. A worker records the
--   epoch it read when it was assigned the partition, and its writes move the checkpoint only while the
--   epoch is still that one: a worker that was thrown out of the group, and whose write lands after the
--   reset, can no longer raise the checkpoint past a rewind again (the GREATEST upsert would have).
-- last_record: a digest of the key and value of the record just before next_offset (the last one the
--   group made durable). Before a worker resumes from a checkpoint it reads that offset from the log;
--   another record there (a topic deleted and recreated, a disaster-recovery cluster whose offsets
--   differ) means the checkpoint describes another log, and it is not honoured.
ALTER TABLE guardian_checkpoints ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE guardian_checkpoints ADD COLUMN IF NOT EXISTS last_record bigint;
COMMENT ON COLUMN guardian_checkpoints.epoch IS 'raised when offsets reset lowers the checkpoint; writes that read an older epoch leave the row alone';
COMMENT ON COLUMN guardian_checkpoints.last_record IS 'FNV-1a 64 digest of key and value of the record at next_offset - 1';
