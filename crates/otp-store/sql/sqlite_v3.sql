-- otp-store SQLite schema, version 3: the policy's one lock authority and
-- the keyed audit chain.
--
-- users.id_lock holds the whole ID lock (both attempt counters, the lock,
-- the unlock count, the binding's generation) as one canonical text, `v1 <codes.failures>
-- <codes.pending> <codes.pending_since> <passwords.failures>
-- <passwords.pending> <passwords.pending_since> <locked 0|1> <unlock_day>
-- <unlocks> <binding>`, so that a compare-and-set on the lock compares one column.
-- An older lock's failures were code failures.
ALTER TABLE users ADD COLUMN id_lock TEXT NOT NULL DEFAULT '';
UPDATE users SET id_lock = 'v1 ' || lock_failures || ' 0 0 0 0 0 ' || locked || ' 0 0 0';
ALTER TABLE users DROP COLUMN lock_failures;
ALTER TABLE users DROP COLUMN locked;

-- Version-2 audit records are stored as their explicit bytes (what the MAC
-- covers) in `body`, with '' in `entry`; version-1 records keep their JSON
-- in `entry` and have no body.
ALTER TABLE audit ADD COLUMN body BLOB;

-- The head of the chain (the last record's number and MAC), updated in the
-- transaction of every append, so that removing the last records shows.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (
    1,
    coalesce((SELECT seq FROM audit ORDER BY seq DESC LIMIT 1), 0),
    coalesce((SELECT hash FROM audit ORDER BY seq DESC LIMIT 1), zeroblob(32))
);
