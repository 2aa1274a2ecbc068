//! The SQLite store: one file, WAL mode, migrations, a small pool of
//! connections, and every write in one `BEGIN IMMEDIATE` transaction.
//!
//! Here: the [`SqliteStore`] type and how SQLite's errors become the
//! policy's. The rest, by concern: `options` (durability and the other
//! opening options), `open` (creating, opening, migrating and classifying
//! a file), `inspect` (a file, its log and its journal checked from their
//! bytes before SQLite reads them), `private_file` (a new file created
//! private; links beside it refused), `pool` (the connection pool),
//! `data_keys` (the store's data keys: made or unwrapped at open,
//! plaintext sealed on upgrade, rekey), `rows` (rows to records), `write`
//! (what every write shares: its transaction, the audit chain, the locks)
//! and `store` (the [`Store`] implementation).

use core::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[cfg(doc)]
use otp_exchange::Store;
use otp_exchange::{StoreError, SwitchError};
use rusqlite::{Connection, ErrorCode};

use crate::OpenError;
use crate::seal::{DataKeys, SecretSealer};

mod batch;
mod data_keys;
mod inspect;
mod open;
mod options;
mod pool;
mod private_file;
mod rows;
mod store;
mod write;

pub use open::{SQLITE_APPLICATION_ID, SQLITE_SCHEMA_VERSION};
pub use options::{Durability, SqliteOptions};

/// A [`Store`] in one SQLite file.
///
/// Several threads share one store (it keeps a small pool of
/// connections); several processes may open the same file: SQLite's file
/// locks serialise their writes, and each write is one `BEGIN IMMEDIATE`
/// transaction, so compare-and-set holds across processes too.
///
/// # Examples
///
/// ```
/// use otp_exchange::{Action, AuditEntry, AuditKey, Authority, Store, UserId, UserRecord};
/// let dir = std::env::temp_dir().join(format!("otp-store-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// std::fs::create_dir_all(&dir)?;
/// let sealer: std::sync::Arc<dyn otp_store::SecretSealer> =
///     std::sync::Arc::new(otp_store::StaticSealer::new("k1", [9; 32]));
/// let store = otp_store::SqliteStore::open(dir.join("bank.db"), sealer.clone())?;
/// let key = AuditKey::new([7; 32]);
/// let id = UserId::parse("W0001")?;
/// let audit = AuditEntry::new(1_601_512_200, "branch", Some(&id), Action::UserUpdate);
/// store.put_user(&UserRecord::new(id, "しんきん太郎", Authority::Administrator), &audit, &key)?;
/// drop(store);
/// let again = otp_store::SqliteStore::open(dir.join("bank.db"), sealer)?;
/// assert_eq!(again.users(0, 5)?.total, 1);
/// # drop(again);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore {
    path: PathBuf,
    options: SqliteOptions,
    idle: Mutex<Vec<Connection>>,
    sealer: Arc<dyn SecretSealer>,
    keys: DataKeys,
    /// Group commit of the login path's writes (see `batch`).
    group: batch::Batcher,
    /// What the tests observe of each batch.
    #[cfg(test)]
    hook: Mutex<Option<batch::Hook>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("sealer", &self.sealer)
            .field("keys", &self.keys)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

fn open_err(e: &rusqlite::Error) -> OpenError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => OpenError::NotADatabase(e.to_string()),
        Some(ErrorCode::DatabaseCorrupt) => OpenError::Corrupt(e.to_string()),
        _ => OpenError::Unavailable(e.to_string()),
    }
}

/// A backend error as the policy sees it. SQLite's messages name no
/// parameter values, so no secret can leak through them.
pub(crate) fn db_err(e: &rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable(
            "the database stayed locked by another writer past the busy timeout; try again".into(),
        ),
        Some(ErrorCode::NotADatabase) => StoreError::Corrupt(format!(
            "the file is no longer an SQLite database ({e}); restore it from a backup"
        )),
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt(format!(
            "the database file is damaged ({e}); restore it from a backup"
        )),
        Some(ErrorCode::ConstraintViolation) => StoreError::Duplicate(e.to_string()),
        Some(_) => StoreError::Unavailable(e.to_string()),
        None => match e {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => {
                StoreError::Corrupt(format!("a stored value has the wrong type: {e}"))
            }
            _ => StoreError::Unavailable(e.to_string()),
        },
    }
}

fn to_store(e: rusqlite::Error) -> StoreError {
    db_err(&e)
}

fn to_switch(e: rusqlite::Error) -> SwitchError {
    SwitchError::Store(db_err(&e))
}
