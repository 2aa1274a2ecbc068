-- otp-store PostgreSQL schema, version 8: keypad (signing) tokens (see
-- sqlite_v8.sql): a keypad token's OCRA suite (NULL: button-only) and
-- its signing state, apart from the login state.
ALTER TABLE otp_tokens
    ADD COLUMN suite TEXT CHECK (suite IS NULL OR length(suite) BETWEEN 1 AND 46),
    ADD COLUMN sign_floor BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN sign_drift BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN sign_failures BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN sign_locked BOOLEAN NOT NULL DEFAULT FALSE;
