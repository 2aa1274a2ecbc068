-- otp-store SQLite schema, version 1.
-- Integers that are u64 in Rust (replay floor, times) are stored as their
-- two's-complement i64 bit pattern; equality (compare-and-set) is exact.
CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    authority         TEXT NOT NULL CHECK (authority IN ('administrator', 'general')),
    token             TEXT,
    lock_failures     INTEGER NOT NULL DEFAULT 0,
    locked            INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    approval_password TEXT,
    transfer_password TEXT
) STRICT;
-- One token is never bound to two users.
CREATE UNIQUE INDEX users_token ON users (token) WHERE token IS NOT NULL;

CREATE TABLE tokens (
    serial       TEXT PRIMARY KEY NOT NULL,
    seed_serial  TEXT NOT NULL,
    manufacturer TEXT NOT NULL,
    model        TEXT NOT NULL,
    issuer       TEXT,
    key_id       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('totp', 'hotp')),
    step_seconds INTEGER NOT NULL,
    t0           INTEGER NOT NULL,
    algorithm    TEXT NOT NULL,
    digits       INTEGER NOT NULL,
    counter      INTEGER NOT NULL,
    time_drift   INTEGER NOT NULL,
    secret       BLOB NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('unassigned', 'assigned', 'revoked')),
    assigned_to  TEXT,
    floor        INTEGER NOT NULL,
    drift        INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    locked       INTEGER NOT NULL CHECK (locked IN (0, 1)),
    CHECK ((status = 'assigned') = (assigned_to IS NOT NULL))
) STRICT;

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at        INTEGER NOT NULL,
    target    TEXT,
    entry     TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;

CREATE TABLE nonces (
    nonce      BLOB PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
