-- Guardian Fleet schema, migration 0002: the events table.
--
-- With the timescaledb extension: a hypertable on ts (chunk interval from the setting
-- guardian.chunk_interval). Without it: the same table range-partitioned by ts, with a default
-- partition for rows outside the partitions the fleet creates ahead of time (see 0003).
--
-- (event_id, ts) is unique, so a redelivered event is a no-op under INSERT … ON CONFLICT DO NOTHING.
DO $migration$
DECLARE
    columns constant text := $cols$
        ts              timestamptz      NOT NULL,
        symbol          text             NOT NULL,
        seq             bigint           NOT NULL,
        event_id        uuid             NOT NULL,
        kind            text             NOT NULL,
        decision        text,
        reason          text,
        side            text,
        qty             double precision,
        price           double precision,
        position        double precision,
        exposure        double precision,
        realized_pnl    double precision,
        unrealized_pnl  double precision,
        latency_us      bigint,
        attrs           jsonb,
        kafka_partition integer          NOT NULL,
        kafka_offset    bigint           NOT NULL,
        ingested_at     timestamptz      NOT NULL DEFAULT now(),
        CONSTRAINT guardian_events_event_key UNIQUE (event_id, ts)
    $cols$;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE format('CREATE TABLE IF NOT EXISTS guardian_events (%s)', columns);
        PERFORM create_hypertable('guardian_events', 'ts',
            chunk_time_interval => current_setting('guardian.chunk_interval')::interval,
            if_not_exists => TRUE);
    ELSE
        EXECUTE format('CREATE TABLE IF NOT EXISTS guardian_events (%s) PARTITION BY RANGE (ts)', columns);
        CREATE TABLE IF NOT EXISTS guardian_events_default PARTITION OF guardian_events DEFAULT;
    END IF;
END
$migration$;

CREATE INDEX IF NOT EXISTS guardian_events_symbol_ts ON guardian_events (symbol, ts DESC);

COMMENT ON TABLE guardian_events IS 'Risk-guardian events, contract v1, one row per event_id; kafka_partition/kafka_offset record where each came from.';
