-- otp-store PostgreSQL schema, version 4: token secrets sealed at rest
-- (see sqlite_v4.sql). The upgrade from version 3 seals every plaintext
-- secret in the migration's transaction; the old row versions stay in the
-- table's dead tuples until VACUUM, which otp-store runs after the
-- upgrade commits (and PostgreSQL's write-ahead log keeps them until it
-- is recycled: see docs/security.md).
CREATE TABLE otp_store_identity (
    id BYTEA NOT NULL
);
CREATE TABLE otp_data_keys (
    id      BIGINT PRIMARY KEY,
    kek_id  TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    created BIGINT NOT NULL
);
ALTER TABLE otp_tokens ADD COLUMN data_key BIGINT;
