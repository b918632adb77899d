-- Guardian Fleet schema, migration 0010: alerts posted to chat webhooks (`guardian api` with
-- GUARDIAN_ALERT_WEBHOOK_URL). One row per target and alert once the target acknowledged it (2xx):
-- an alert is posted at least once and, across restarts and retries, not again. `target` is a
-- digest of the webhook URL, never the URL itself (a Slack webhook URL is a secret).
CREATE TABLE IF NOT EXISTS guardian_alert_deliveries (
    target       text        NOT NULL,
    alert_id     text        NOT NULL,
    alert_type   text        NOT NULL,
    attempts     integer     NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, alert_id)
);
COMMENT ON TABLE guardian_alert_deliveries IS 'Alerts a chat webhook acknowledged: target (digest of the URL), alert id, type, attempts; pruned after 7 days by guardian api.';
