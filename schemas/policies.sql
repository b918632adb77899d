-- Guardian Fleet storage policies, applied by `guardian migrate` on every run after the versioned
-- migrations, with the current settings (guardian.retention, guardian.compress_after,
-- guardian.chunk_interval, guardian.partitions_ahead). Idempotent.
DO $policies$
DECLARE
    retention      constant interval := current_setting('guardian.retention')::interval;
    compress_after constant interval := current_setting('guardian.compress_after')::interval;
    chunk          constant interval := current_setting('guardian.chunk_interval')::interval;
    ahead          constant interval := current_setting('guardian.partitions_ahead')::interval;
    mode           text;
BEGIN
    IF retention < interval '24 hours' THEN
        RAISE EXCEPTION 'retention % is under the 24 hour minimum (audit trail)', retention;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        mode := 'timescaledb';
        PERFORM set_chunk_time_interval('guardian_events', chunk);  -- applies to chunks created from now on
        IF NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                       WHERE hypertable_name = 'guardian_events' AND compression_enabled) THEN
            ALTER TABLE guardian_events SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'symbol',
                timescaledb.compress_orderby = 'ts DESC, seq DESC');
        END IF;
        PERFORM remove_compression_policy('guardian_events', if_exists => TRUE);
        PERFORM add_compression_policy('guardian_events', compress_after => compress_after);
        PERFORM remove_retention_policy('guardian_events', if_exists => TRUE);
        PERFORM add_retention_policy('guardian_events', drop_after => retention);
    ELSE
        mode := 'postgresql';
        PERFORM guardian_ensure_partitions(now() - retention, now() + ahead, chunk);
        PERFORM guardian_drop_partitions_before(now() - retention);
    END IF;
    INSERT INTO guardian_settings (key, value) VALUES
        ('storage_mode', mode), ('retention', retention::text), ('compress_after', compress_after::text),
        ('chunk_interval', chunk::text), ('partitions_ahead', ahead::text)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
END
$policies$;
