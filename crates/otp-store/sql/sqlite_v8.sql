-- otp-store SQLite schema, version 8: keypad (signing) tokens.
--
-- `suite` is a keypad token's RFC 6287 OCRA suite (NULL: a button-only
-- token, as every token before this version). `sign_*` is its signing
-- state, apart from the login state (`floor`, `drift`, `failures`,
-- `locked`): the replay floor and drift of its signatures over
-- transactions, moved by the same compare-and-set as a login's state.
-- Integers that are u64 in Rust are stored as their i64 bit pattern, as
-- in version 1.
ALTER TABLE tokens ADD COLUMN suite TEXT CHECK (suite IS NULL OR length(suite) BETWEEN 1 AND 46);
ALTER TABLE tokens ADD COLUMN sign_floor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN sign_drift INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN sign_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN sign_locked INTEGER NOT NULL DEFAULT 0 CHECK (sign_locked IN (0, 1));
