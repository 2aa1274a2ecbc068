//! How to open an SQLite store: [`SqliteOptions`] and the commit
//! [`Durability`].

use core::time::Duration;

#[cfg(doc)]
use otp_exchange::StoreError;

#[cfg(doc)]
use super::SqliteStore;
#[cfg(doc)]
use crate::OpenError;

/// How hard a commit waits for the disk.
///
/// Both are crash-safe for the *process*: a killed server loses nothing
/// that was committed. They differ on a power cut or an operating-system
/// crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// `PRAGMA synchronous = FULL`: every commit waits for `fsync` of the
    /// write-ahead log. A committed verification survives a power cut, so a
    /// replay floor never goes backwards. The default, and the setting a
    /// bank should keep unless the disk has a battery-backed cache.
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`: commits are written to the log but
    /// synced only at checkpoints. The file never corrupts, but a power
    /// cut may roll back the last commits, including a replay floor
    /// (a code accepted just before the cut could be accepted once more
    /// within its 30-second step) and audit records.
    Normal,
}

/// How to open an [`SqliteStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Commit durability (default [`Durability::Full`]).
    pub durability: Durability,
    /// How long a write waits for another writer (another thread or
    /// process) before giving up with [`StoreError::Unavailable`]:
    /// default 10 s.
    pub busy_timeout: Duration,
    /// Create the file (and its schema) if it does not exist: default
    /// `true`. An existing file is never re-initialised.
    pub create_if_missing: bool,
    /// Run `PRAGMA quick_check` on an existing file when opening, so that
    /// a damaged file is refused at start rather than found later:
    /// default `true`. It reads the whole file once.
    ///
    /// Turning it off (for a file too large to read at every start)
    /// weakens the guarantee: the file's length is still checked against
    /// its header at open (see [`OpenError::Truncated`]), but damage
    /// inside the file (a zero-filled or overwritten page) is found only
    /// when that page is read, as a [`StoreError::Corrupt`]. Run
    /// [`SqliteStore::integrity_check`] from a maintenance job instead.
    pub integrity_check: bool,
    /// Idle connections kept open for reuse: default 32. More threads
    /// than this reading at once open connections and drop them again,
    /// each new one parsing the schema and preparing its statements anew
    /// with an empty page cache (with 8, 32 login threads spent more on
    /// that than on their verifications). Each idle connection keeps its
    /// page cache, up to SQLite's `cache_size` (2 MB by default).
    pub max_idle_connections: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(10),
            create_if_missing: true,
            integrity_check: true,
            max_idle_connections: 32,
        }
    }
}

impl SqliteOptions {
    /// The defaults with another durability.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_store::{Durability, SqliteOptions};
    /// let o = SqliteOptions::default().with_durability(Durability::Normal);
    /// assert_eq!(o.durability, Durability::Normal);
    /// ```
    #[must_use]
    pub const fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The same options with another busy timeout.
    #[must_use]
    pub const fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The same options, creating the file if missing or not.
    #[must_use]
    pub const fn with_create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// The same options, with or without the integrity check at open
    /// (see [`SqliteOptions::integrity_check`] for what skipping it
    /// gives up).
    #[must_use]
    pub const fn with_integrity_check(mut self, check: bool) -> Self {
        self.integrity_check = check;
        self
    }
}
