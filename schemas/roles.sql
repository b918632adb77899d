-- Guardian Fleet least-privilege roles. Applied by `guardian migrate --create-roles` (as the schema
-- owner), or by a DBA with psql after `guardian migrate`. Idempotent. Creates two group roles (no
-- login); give each service its own login role in one of them:
--   CREATE ROLE guardian_worker_login LOGIN PASSWORD '…' IN ROLE guardian_writer;
--   CREATE ROLE grafana LOGIN PASSWORD '…' IN ROLE guardian_reader;
-- Operations commands (migrate, offsets reset, replay, cache rebuild) run as the owner.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'guardian_writer') THEN
        CREATE ROLE guardian_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'guardian_reader') THEN
        CREATE ROLE guardian_reader NOLOGIN;
    END IF;
    -- A worker's session needs its own temporary staging table (the merge path of a batch write).
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO guardian_writer', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO guardian_reader', current_database());
END
$roles$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO guardian_writer, guardian_reader;

-- guardian_writer: exactly what a worker does. Insert events (COPY, INSERT … ON CONFLICT DO NOTHING)
-- and read them back (re-syncing Redis); record dead letters; upsert and read checkpoints; read the
-- settings and the migration state. No UPDATE or DELETE of history, no DDL.
GRANT SELECT, INSERT ON guardian_events TO guardian_writer;
GRANT SELECT, INSERT ON guardian_dead_letters TO guardian_writer;
GRANT SELECT, INSERT, UPDATE ON guardian_checkpoints TO guardian_writer;
GRANT SELECT ON guardian_settings, guardian_schema_migrations, guardian_partitions TO guardian_writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO guardian_writer;

-- The plain-PostgreSQL fallback creates and drops partitions as time passes (TimescaleDB does this in
-- its own jobs). That is DDL: instead of granting it, the two maintenance functions run with their
-- owner's rights (SECURITY DEFINER, fixed search_path) and only the writer may call them.
ALTER FUNCTION guardian_ensure_partitions(timestamptz, timestamptz, interval) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION guardian_drop_partitions_before(timestamptz) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION guardian_ensure_partitions(timestamptz, timestamptz, interval), guardian_drop_partitions_before(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guardian_ensure_partitions(timestamptz, timestamptz, interval), guardian_drop_partitions_before(timestamptz) TO guardian_writer;

-- guardian_reader: dashboards and analysts, read-only.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO guardian_reader;
