//! The PostgreSQL store: the same schema ideas as SQLite's, for banks
//! with several application servers. Token state changes are
//! compare-and-set `UPDATE`s (PostgreSQL re-checks the `WHERE` clause on
//! the newest row version after waiting for a concurrent writer, so two
//! servers can never both move the same floor); the switch locks the rows
//! it reads with `SELECT ... FOR UPDATE`; appends to the audit chain are
//! serialised by a one-row head table.
//!
//! Here: the [`PgStore`] type and how PostgreSQL's errors become the
//! policy's. The rest, by concern: `options` (how to connect), `tls`
//! (`sslmode`, `sslrootcert` and the rustls connector), `connect` (the
//! first connection and the pool), `pool` (the pooled connections and
//! their prepared statements), `migrate` (the schema created or
//! upgraded under an advisory lock), `data_keys` (the store's data keys:
//! made or unwrapped at connect, plaintext sealed on upgrade, rekey),
//! `rows` (rows to records), `write` (what every write shares: the audit
//! chain and the users' locks), `verify` (`record_verification` in few
//! round trips), `batch` (its group commit) and `store` (the [`Store`]
//! implementation).

use core::fmt;
use std::sync::Arc;

#[cfg(doc)]
use otp_exchange::Store;
use otp_exchange::{StoreError, SwitchError};
use postgres::error::SqlState;
use r2d2_postgres::r2d2::Pool;

use crate::OpenError;
use crate::seal::{DataKeys, SecretSealer};

mod batch;
mod connect;
mod data_keys;
mod migrate;
mod options;
mod pool;
mod rows;
mod store;
mod tls;
mod verify;
mod write;

pub use migrate::PG_SCHEMA_VERSION;
pub use options::PgOptions;
pub use tls::TlsMode;

/// A [`Store`] in a PostgreSQL database, shared by any number of
/// application servers (each with its own `PgStore` and pool).
///
/// # Examples
///
/// ```no_run
/// use otp_store::{KeyFileSealer, PgOptions, PgStore};
/// let sealer = KeyFileSealer::open("/etc/otp/bank.kek")?;
/// let store = PgStore::connect(
///     "postgresql://bank@127.0.0.1:5432/otp",
///     PgOptions::default().with_schema("otp"),
///     std::sync::Arc::new(sealer),
/// )?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PgStore {
    pool: Pool<pool::Manager>,
    options: PgOptions,
    sealer: Arc<dyn SecretSealer>,
    keys: DataKeys,
    tls: TlsMode,
    /// Group commit of `record_verification` (see `batch`).
    group: batch::Batcher,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("options", &self.options)
            .field("sealer", &self.sealer)
            .field("keys", &self.keys)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// A backend error as the policy sees it: the server's message and
/// code, never its `DETAIL` (which may quote a row, secret included).
fn pg_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn db_err(e: &postgres::Error) -> StoreError {
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => StoreError::Duplicate(pg_text(e)),
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            StoreError::Unavailable(format!("{}; try again", pg_text(e)))
        }
        Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
            StoreError::Corrupt(pg_text(e))
        }
        _ => StoreError::Unavailable(pg_text(e)),
    }
}

#[allow(clippy::needless_pass_by_value, reason = "used as map_err(to_store)")]
fn to_store(e: postgres::Error) -> StoreError {
    db_err(&e)
}

#[allow(clippy::needless_pass_by_value, reason = "used as map_err(to_switch)")]
fn to_switch(e: postgres::Error) -> SwitchError {
    SwitchError::Store(db_err(&e))
}

fn open_err(e: &postgres::Error) -> OpenError {
    OpenError::Unavailable(pg_text(e))
}
