-- otp-store PostgreSQL schema, version 1 (the same ideas as SQLite's).
-- u64 values (replay floor, times) are stored as their two's-complement
-- BIGINT bit pattern; equality (compare-and-set) is exact.
CREATE TABLE otp_users (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    authority         TEXT NOT NULL CHECK (authority IN ('administrator', 'general')),
    token             TEXT UNIQUE,
    lock_failures     BIGINT NOT NULL DEFAULT 0,
    locked            BOOLEAN NOT NULL DEFAULT FALSE,
    approval_password TEXT,
    transfer_password TEXT
);

CREATE TABLE otp_tokens (
    serial       TEXT PRIMARY KEY,
    seed_serial  TEXT NOT NULL,
    manufacturer TEXT NOT NULL,
    model        TEXT NOT NULL,
    issuer       TEXT,
    key_id       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('totp', 'hotp')),
    step_seconds BIGINT NOT NULL,
    t0           BIGINT NOT NULL,
    algorithm    TEXT NOT NULL,
    digits       BIGINT NOT NULL,
    counter      BIGINT NOT NULL,
    time_drift   BIGINT NOT NULL,
    secret       BYTEA NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('unassigned', 'assigned', 'revoked')),
    assigned_to  TEXT,
    floor        BIGINT NOT NULL,
    drift        BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    locked       BOOLEAN NOT NULL,
    CHECK ((status = 'assigned') = (assigned_to IS NOT NULL))
);

CREATE TABLE otp_audit (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    target    TEXT,
    entry     TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
-- The head of the chain: one row, locked (FOR UPDATE) by every append so
-- that servers append one after another.
CREATE TABLE otp_audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO otp_audit_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE otp_nonces (
    nonce      BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
