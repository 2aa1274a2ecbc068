-- otp-store PostgreSQL schema, version 2: the usage history looks records
-- up by user and time, and expired nonces are swept by time.
CREATE INDEX otp_audit_by_target ON otp_audit (target, at);
CREATE INDEX otp_nonces_by_expiry ON otp_nonces (expires_at);
