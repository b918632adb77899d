-- Guardian Fleet schema, migration 0003: partition maintenance for plain PostgreSQL (no TimescaleDB).
-- The fleet calls these functions (guardian migrate, and every worker periodically); with
-- TimescaleDB they are never called: chunks, compression and retention are TimescaleDB's jobs.

CREATE TABLE IF NOT EXISTS guardian_partitions (
    name        text PRIMARY KEY,
    range_start timestamptz NOT NULL,
    range_end   timestamptz NOT NULL
);

-- Creates the missing partitions covering [p_from, p_to), aligned to p_interval since the epoch.
-- Returns how many it created. A range that the default partition already holds rows for cannot
-- become a partition: it is skipped with a warning (its rows stay, safely, in the default partition).
CREATE OR REPLACE FUNCTION guardian_ensure_partitions(p_from timestamptz, p_to timestamptz, p_interval interval)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    step   double precision := extract(epoch FROM p_interval);
    start  timestamptz;
    stop   timestamptz;
    pname  text;
    made   integer := 0;
BEGIN
    IF step < 60 THEN
        RAISE EXCEPTION 'partition interval % is too small (minimum 1 minute)', p_interval;
    END IF;
    -- One maintainer at a time across the fleet.
    PERFORM pg_advisory_xact_lock(hashtext('guardian_partitions'));
    start := to_timestamp(floor(extract(epoch FROM p_from) / step) * step);
    WHILE start < p_to LOOP
        stop := start + p_interval;
        pname := 'guardian_events_p' || to_char(start AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MI');
        IF NOT EXISTS (SELECT 1 FROM guardian_partitions WHERE name = pname) THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF guardian_events FOR VALUES FROM (%L) TO (%L)', pname, start, stop);
                INSERT INTO guardian_partitions (name, range_start, range_end) VALUES (pname, start, stop);
                made := made + 1;
            EXCEPTION WHEN check_violation OR invalid_object_definition OR duplicate_table THEN
                RAISE WARNING 'partition % [%, %) not created: %', pname, start, stop, SQLERRM;
            END;
        END IF;
        start := stop;
    END LOOP;
    RETURN made;
END
$fn$;

-- Drops the partitions that end at or before p_before (retention). Returns how many it dropped.
CREATE OR REPLACE FUNCTION guardian_drop_partitions_before(p_before timestamptz)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    p       record;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('guardian_partitions'));
    FOR p IN SELECT name FROM guardian_partitions WHERE range_end <= p_before ORDER BY range_start LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I', p.name);
        DELETE FROM guardian_partitions WHERE name = p.name;
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END
$fn$;
