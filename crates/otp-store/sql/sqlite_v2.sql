-- otp-store SQLite schema, version 2: the usage history (利用履歴照会)
-- looks records up by user and time, and expired nonces are swept by time.
CREATE INDEX audit_by_target ON audit (target, at);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);
