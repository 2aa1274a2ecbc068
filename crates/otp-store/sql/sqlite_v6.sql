-- otp-store SQLite schema, version 6: the OTP usage mode (利用形態).
--
-- users.usage_mode holds the user's mode: 'hardware_token' (the manual's
-- case, and every user of an older file), 'software_token' (an
-- authenticator app) or 'not_used' (no one-time password, where the
-- bank's policy allows it). tokens.reserved_for names the user a software
-- token was minted for while its enrollment waits for the first code: such
-- a token has status 'unassigned' and is bound only to that user, only by
-- that enrollment; NULL for every other token (and for every token of an
-- older file).
ALTER TABLE users ADD COLUMN usage_mode TEXT NOT NULL DEFAULT 'hardware_token'
    CHECK (usage_mode IN ('hardware_token', 'software_token', 'not_used'));
ALTER TABLE tokens ADD COLUMN reserved_for TEXT
    CHECK (reserved_for IS NULL OR status = 'unassigned');
