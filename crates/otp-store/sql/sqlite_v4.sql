-- otp-store SQLite schema, version 4: token secrets sealed at rest.
--
-- `store_identity` holds the store's random identity (associated data of
-- every sealed value, so a sealed secret copied into another store does
-- not open). `data_keys` holds the data keys, each wrapped under a
-- key-encryption key (`kek_id`) that is never in the database.
-- `tokens.secret` holds `AES-256-GCM(data key, secret)` and
-- `tokens.data_key` the data key's id. The upgrade from version 3 seals
-- every plaintext secret in the same transaction (in Rust: it needs the
-- key); after it, a row without a data key is refused as corrupt.
CREATE TABLE store_identity (
    id BLOB NOT NULL
) STRICT;
CREATE TABLE data_keys (
    id      INTEGER PRIMARY KEY NOT NULL,
    kek_id  TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created INTEGER NOT NULL
) STRICT;
ALTER TABLE tokens ADD COLUMN data_key INTEGER;
