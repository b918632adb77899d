-- Guardian Fleet schema, migration 0005: dead letters.
-- A message that can never be stored because of itself (malformed JSON, a v1 violation, oversized,
-- a value PostgreSQL refuses) is recorded here — in the same transaction as the rest of its batch —
-- and produced to the dead-letter topic, so its partition never stalls and nothing vanishes silently.
-- (topic, partition, kafka_offset) is unique: a redelivered batch records its dead letters once.
CREATE TABLE IF NOT EXISTS guardian_dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    kafka_key       bytea,
    raw_value       bytea       NOT NULL,
    reason          text        NOT NULL,
    error_code      text        NOT NULL,
    error_message   text        NOT NULL,
    worker          text        NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT guardian_dead_letters_origin UNIQUE (topic, kafka_partition, kafka_offset)
);
CREATE INDEX IF NOT EXISTS guardian_dead_letters_time ON guardian_dead_letters (dead_lettered_at DESC);
COMMENT ON TABLE guardian_dead_letters IS 'Messages that could not be stored because of themselves, with the reason and their origin; also produced to the dead-letter topic.';
