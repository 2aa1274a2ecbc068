-- otp-store PostgreSQL schema, version 5: the web sign-in (see
-- sqlite_v5.sql): the login password's hash and the latest login's time.
ALTER TABLE otp_users ADD COLUMN login_password TEXT;
ALTER TABLE otp_users ADD COLUMN last_login BIGINT;
