-- Guardian Fleet schema, migration 0012: one-minute rollups per symbol for `guardian api`'s
-- /v1/symbols/{symbol}/rollups. With TimescaleDB: a continuous aggregate with real-time aggregation
-- (materialized_only = false: the minutes not materialized yet are computed from the raw rows at
-- query time, so a rollup is never behind the table) refreshed every minute over the last two days.
-- Buckets of whole minutes are summed from it; others, and plain PostgreSQL, GROUP BY the raw rows.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       AND to_regclass('guardian_events_1m') IS NULL THEN
        CREATE MATERIALIZED VIEW guardian_events_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT symbol,
               time_bucket(interval '1 minute', ts) AS bucket,
               count(*) AS events,
               count(*) FILTER (WHERE decision = 'deny') AS denies,
               count(*) FILTER (WHERE kind = 'risk_breach') AS breaches,
               count(*) FILTER (WHERE kind = 'circuit_breaker') AS circuit_breakers,
               max(exposure) AS exposure_max,
               last(realized_pnl, ts) FILTER (WHERE realized_pnl IS NOT NULL) AS realized_pnl_last,
               max(ts) FILTER (WHERE realized_pnl IS NOT NULL) AS realized_pnl_ts
        FROM guardian_events
        GROUP BY symbol, time_bucket(interval '1 minute', ts)
        WITH NO DATA;
        PERFORM add_continuous_aggregate_policy('guardian_events_1m',
            start_offset => interval '2 days', end_offset => interval '1 minute', schedule_interval => interval '1 minute');
        CREATE INDEX IF NOT EXISTS guardian_events_1m_symbol_bucket ON guardian_events_1m (symbol, bucket);
        COMMENT ON VIEW guardian_events_1m IS 'One-minute rollups per symbol (continuous aggregate, real-time): events, denies, breaches, circuit breakers, max exposure, last realized PnL.';
    END IF;
END
$migration$;
