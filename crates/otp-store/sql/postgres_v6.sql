-- otp-store PostgreSQL schema, version 6: the OTP usage mode (see
-- sqlite_v6.sql): each user's mode, and the user a software token waiting
-- for its first code was minted for.
ALTER TABLE otp_users ADD COLUMN usage_mode TEXT NOT NULL DEFAULT 'hardware_token'
    CHECK (usage_mode IN ('hardware_token', 'software_token', 'not_used'));
ALTER TABLE otp_tokens ADD COLUMN reserved_for TEXT
    CHECK (reserved_for IS NULL OR status = 'unassigned');
