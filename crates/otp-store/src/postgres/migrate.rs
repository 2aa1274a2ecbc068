//! The schema of a PostgreSQL store: created in an empty database or
//! upgraded from an older one (one server at a time, under an advisory
//! lock), refused when foreign or newer.

use otp_exchange::StoreError;
use postgres::GenericClient;
use postgres::error::SqlState;

use super::data_keys::seal_plaintext;
use super::{PgStore, open_err, pg_text};
use crate::OpenError;
use crate::seal::DataKeys;

/// The schema version this build writes; older databases are upgraded
/// when connected to, newer ones refused with [`OpenError::NewerSchema`].
pub const PG_SCHEMA_VERSION: u32 = 8;

const MIGRATIONS: [&str; 8] = [
    include_str!("../../sql/postgres_v1.sql"),
    include_str!("../../sql/postgres_v2.sql"),
    include_str!("../../sql/postgres_v3.sql"),
    include_str!("../../sql/postgres_v4.sql"),
    include_str!("../../sql/postgres_v5.sql"),
    include_str!("../../sql/postgres_v6.sql"),
    include_str!("../../sql/postgres_v7.sql"),
    include_str!("../../sql/postgres_v8.sql"),
];

/// The schema version from which token secrets are sealed.
const SEALED_SINCE: u32 = 4;

impl PgStore {
    /// The schema version of the database.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the database cannot be read.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let mut c = self.conn()?;
        read_version(c.client()).map_err(StoreError::from)
    }

    /// Creates or upgrades the schema and loads (or makes) the data keys.
    pub(super) fn migrate(&self) -> Result<DataKeys, OpenError> {
        let mut c = self
            .pool
            .get()
            .map_err(|e| OpenError::Unavailable(format!("no PostgreSQL connection: {e}")))?;
        if let Some(schema) = &self.options.schema {
            // Two servers creating the same schema at once may race; the
            // loser's error is harmless, the schema exists.
            if let Err(e) = c.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                && e.code() != Some(&SqlState::UNIQUE_VIOLATION)
            {
                return Err(open_err(&e));
            }
        }
        let mut tx = c.transaction().map_err(|e| open_err(&e))?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(hashtext('otp-store migrations ' || current_schema()))",
        )
        .map_err(|e| open_err(&e))?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('otp_schema_version') IS NOT NULL", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| open_err(&e))?;
        let from = if exists {
            read_version(&mut tx)?
        } else {
            let others: i64 = tx
                .query_one(
                    "SELECT count(*) FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_name LIKE 'otp\\_%'",
                    &[],
                )
                .and_then(|r| r.try_get(0))
                .map_err(|e| open_err(&e))?;
            if others > 0 {
                return Err(OpenError::Foreign(format!(
                    "the schema has {others} otp_ tables but no otp_schema_version: not made by otp-store"
                )));
            }
            tx.batch_execute(
                "CREATE TABLE otp_schema_version (version BIGINT NOT NULL);
                 INSERT INTO otp_schema_version (version) VALUES (0);",
            )
            .map_err(|e| open_err(&e))?;
            0
        };
        if from > PG_SCHEMA_VERSION {
            return Err(OpenError::NewerSchema {
                found: from,
                supported: PG_SCHEMA_VERSION,
            });
        }
        for (version, sql) in (1u32..).zip(MIGRATIONS) {
            if version > from {
                tx.batch_execute(sql).map_err(|e| open_err(&e))?;
                tx.execute(
                    "UPDATE otp_schema_version SET version = $1",
                    &[&i64::from(version)],
                )
                .map_err(|e| open_err(&e))?;
            }
        }
        let keys = self.data_keys(&mut tx)?;
        // Only the upgrade seals plaintext: afterwards a row without a data
        // key was written behind the store's back and is refused.
        let sealed = if from < SEALED_SINCE {
            seal_plaintext(&mut tx, &keys)?
        } else {
            0
        };
        tx.commit().map_err(|e| open_err(&e))?;
        if sealed > 0 {
            // The plaintext row versions are dead tuples now: reclaim them.
            c.batch_execute("VACUUM FULL otp_tokens")
                .map_err(|e| open_err(&e))?;
        }
        Ok(keys)
    }
}

fn read_version(c: &mut impl GenericClient) -> Result<u32, OpenError> {
    let rows = c
        .query("SELECT version FROM otp_schema_version", &[])
        .map_err(|e| {
            OpenError::Corrupt(format!(
                "otp_schema_version cannot be read: {}",
                pg_text(&e)
            ))
        })?;
    let v: i64 = rows
        .first()
        .ok_or_else(|| OpenError::Corrupt("otp_schema_version is empty".into()))?
        .try_get(0)
        .map_err(|e| OpenError::Corrupt(format!("otp_schema_version: {e}")))?;
    u32::try_from(v).map_err(|_| OpenError::Corrupt(format!("the schema version {v} is not valid")))
}
