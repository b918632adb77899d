-- Guardian Fleet schema, migration 0006: the operations audit trail.
-- Every `guardian offsets reset --execute`, `guardian replay` and `guardian cache rebuild` records
-- who ran it, when, with what arguments, and what it changed (old and new offsets, counts).
CREATE TABLE IF NOT EXISTS guardian_operations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    operation   text        NOT NULL,
    arguments   text        NOT NULL,
    outcome     text        NOT NULL,
    details     jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS guardian_operations_time ON guardian_operations (at DESC);
COMMENT ON TABLE guardian_operations IS 'Audit trail of offset resets, replays and cache rebuilds: who, when, what, old and new offsets, counts.';
