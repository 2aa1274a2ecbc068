-- otp-store PostgreSQL schema, version 7: the JSON API's keys (see
-- sqlite_v7.sql): id, label, scope, SHA-256 of the secret, creation,
-- revocation and last use.
CREATE TABLE otp_api_keys (
    id           TEXT PRIMARY KEY CHECK (length(id) = 16),
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('validate', 'admin')),
    secret_hash  BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
