-- otp-store SQLite schema, version 7: the JSON API's keys.
--
-- One row per API key (`otp bank api-key create`): its public id (16
-- lowercase hex digits), a label, its scope, SHA-256 of its secret (the
-- secret itself is never stored: 32 random bytes need no slow hash),
-- who made it and when, when it was revoked (NULL while valid) and when
-- it was last used (written at most about once a minute per server).
-- Times are u64 as their i64 bit pattern, as in version 1.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('validate', 'admin')),
    secret_hash  BLOB NOT NULL CHECK (length(secret_hash) = 32),
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;
