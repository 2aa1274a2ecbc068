-- otp-store PostgreSQL schema, version 3: the policy's one lock authority
-- and the keyed audit chain.
--
-- otp_users.id_lock holds the whole ID lock (both attempt counters, the
-- lock, the unlock count) as one canonical text, `v1 <codes.failures>
-- <codes.pending> <codes.pending_since> <passwords.failures>
-- <passwords.pending> <passwords.pending_since> <locked 0|1> <unlock_day>
-- <unlocks> <binding>`, so that a compare-and-set on the lock compares one column.
-- An older lock's failures were code failures.
ALTER TABLE otp_users ADD COLUMN id_lock TEXT;
UPDATE otp_users SET id_lock = 'v1 ' || lock_failures::text || ' 0 0 0 0 0 '
    || CASE WHEN locked THEN '1' ELSE '0' END || ' 0 0 0';
ALTER TABLE otp_users ALTER COLUMN id_lock SET NOT NULL;
ALTER TABLE otp_users DROP COLUMN lock_failures, DROP COLUMN locked;

-- Version-2 audit records are stored as their explicit bytes (what the MAC
-- covers) in `body`, with '' in `entry`; version-1 records keep their JSON
-- in `entry` and have no body. otp_audit_head (version 1) already holds
-- the chain's head.
ALTER TABLE otp_audit ADD COLUMN body BYTEA;
