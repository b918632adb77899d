-- Guardian Fleet schema, migration 0011: whether each worker's view of the Redis cache is stale.
-- Every worker reports about once a second (and at once on a change); a stale cache is one a worker
-- could not update (Redis unreachable from it, or re-syncing after Redis came back). `guardian api`
-- answers state reads from the database while any worker that reported in the last 10 s is stale —
-- Redis may answer the API and still be behind. A worker that stops stops reporting: its row ages out.
CREATE TABLE IF NOT EXISTS guardian_cache_status (
    worker_id   text        PRIMARY KEY,
    stale       boolean     NOT NULL,
    since       timestamptz NOT NULL DEFAULT now(),
    reported_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE guardian_cache_status IS 'Per worker: is its Redis cache stale (since when), reported about every second; rows older than 10 s are ignored.';
