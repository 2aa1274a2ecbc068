-- otp-store SQLite schema, version 5: the web sign-in.
--
-- users.login_password holds the login password's Argon2id hash (PHC
-- string, like approval_password and transfer_password); users.last_login
-- the Unix time of the user's latest successful login (written in the
-- transaction that commits the login's code; `u64` as its i64 bit
-- pattern). Both are empty for every user of an older file.
ALTER TABLE users ADD COLUMN login_password TEXT;
ALTER TABLE users ADD COLUMN last_login INTEGER;
