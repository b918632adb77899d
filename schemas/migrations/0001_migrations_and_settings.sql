-- Guardian Fleet schema, migration 0001: settings the fleet reads back.
-- Applied by `guardian migrate` (in a transaction, recorded in guardian_schema_migrations).
CREATE TABLE IF NOT EXISTS guardian_settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE guardian_settings IS 'Storage settings last applied by guardian migrate (storage mode, chunk interval, retention, compression).';
