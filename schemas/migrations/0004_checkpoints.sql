-- Guardian Fleet schema, migration 0004: durable checkpoints.
-- Every batch write records, in the same transaction as its rows, the next offset per partition
-- it made durable. This is the newest durable state in TimescaleDB: when Kafka's committed offsets
-- are unusable (out of range, group lost), the fleet resumes from here instead of skipping ahead.
CREATE TABLE IF NOT EXISTS guardian_checkpoints (
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
