-- Guardian Fleet schema, migration 0009: tokens of the query API (`guardian api`).
-- `guardian api token create --name NAME --scope read|operate` prints a token once; only the SHA-256
-- of its secret part is stored. A token is `gft_<token_id>_<secret>`: the id finds the row, the
-- secret's hash is compared in constant time. Revoked tokens keep their row (revoked_at) for audit.
CREATE TABLE IF NOT EXISTS guardian_api_tokens (
    name          text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    scope         text        NOT NULL CHECK (scope IN ('read', 'operate')),
    token_id      text        NOT NULL UNIQUE,
    secret_sha256 bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
COMMENT ON TABLE guardian_api_tokens IS 'Bearer tokens of guardian api: name, scope (read | operate), SHA-256 of the secret; revoked_at set by guardian api token revoke.';

