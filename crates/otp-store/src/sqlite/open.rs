//! Opening an SQLite store: the file checked, created private or opened,
//! WAL mode set, the schema created or migrated, the file classified as
//! otp-store's (or refused as foreign or newer), and the integrity checks.

use std::path::Path;
use std::sync::{Arc, Mutex};

use otp_exchange::StoreError;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension as _};

use super::data_keys::seal_plaintext;
use super::inspect::inspect_files;
use super::private_file::{create_private, refuse_linked_companions};
use super::{Durability, SqliteOptions, SqliteStore, open_err};
use crate::OpenError;
use crate::seal::{DataKeys, SecretSealer};

/// The schema version this build writes; older files are upgraded when
/// opened, newer ones refused with [`OpenError::NewerSchema`].
pub const SQLITE_SCHEMA_VERSION: u32 = 8;

/// SQLite's `application_id` header field for otp-store files: `OTPS`.
pub const SQLITE_APPLICATION_ID: i32 = 0x4f54_5053;

/// The migrations, in order: entry `i` takes a file from version `i` to
/// version `i + 1`.
const MIGRATIONS: [&str; 8] = [
    include_str!("../../sql/sqlite_v1.sql"),
    include_str!("../../sql/sqlite_v2.sql"),
    include_str!("../../sql/sqlite_v3.sql"),
    include_str!("../../sql/sqlite_v4.sql"),
    include_str!("../../sql/sqlite_v5.sql"),
    include_str!("../../sql/sqlite_v6.sql"),
    include_str!("../../sql/sqlite_v7.sql"),
    include_str!("../../sql/sqlite_v8.sql"),
];

/// The schema version from which token secrets are sealed.
const SEALED_SINCE: u32 = 4;

impl SqliteStore {
    /// Opens (or creates) the store in `path` with the default options.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: a file that is empty, not a database, damaged
    /// (including cut short: [`OpenError::Truncated`]), beside a
    /// write-ahead log that is not its own ([`OpenError::BadWal`]),
    /// another application's, or from a newer otp-store is refused and
    /// left as it is.
    pub fn open(path: impl AsRef<Path>, sealer: Arc<dyn SecretSealer>) -> Result<Self, OpenError> {
        Self::open_with(path, SqliteOptions::default(), sealer)
    }

    /// Opens (or creates) the store in `path`: checks the file, sets WAL
    /// mode, creates the schema in a new file and upgrades an older one.
    ///
    /// An existing file is checked before SQLite reads it: its header
    /// (magic string, page size), its length (a whole number of pages,
    /// and the page count the header records unless a write-ahead log
    /// with commits or a hot rollback journal beside it accounts for the
    /// difference) and the header of its write-ahead log (`<path>-wal`).
    /// Then, unless [`SqliteOptions::integrity_check`] is off, SQLite's
    /// `PRAGMA quick_check` runs. A file refused by any of these is left
    /// byte-for-byte as it was, with its log, and no log is created
    /// beside it (only a `-shm` index may be left beside a log that had
    /// none: it holds no data).
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_store::{OpenError, SqliteOptions, SqliteStore, StaticSealer};
    /// let sealer: std::sync::Arc<dyn otp_store::SecretSealer> =
    ///     std::sync::Arc::new(StaticSealer::new("k1", [9; 32]));
    /// let path = std::env::temp_dir().join(format!("otp-store-doc-open-{}.db", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let options = SqliteOptions::default().with_create_if_missing(false);
    /// assert!(matches!(SqliteStore::open_with(&path, options, sealer.clone()), Err(OpenError::Missing(_))));
    /// std::fs::write(&path, b"not a database, just text that is long enough to have a header")?;
    /// assert!(matches!(SqliteStore::open(&path, sealer.clone()), Err(OpenError::NotADatabase(_))));
    /// std::fs::write(&path, b"")?;
    /// assert!(matches!(SqliteStore::open(&path, sealer), Err(OpenError::EmptyFile(_))));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
        sealer: Arc<dyn SecretSealer>,
    ) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        let creating = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                return Err(OpenError::Unavailable(format!("{shown} is a directory")));
            }
            Ok(m) if m.len() == 0 => return Err(OpenError::EmptyFile(shown)),
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !options.create_if_missing {
                    return Err(OpenError::Missing(shown));
                }
                true
            }
            Err(e) => return Err(OpenError::Unavailable(format!("{shown}: {e}"))),
        };
        // Before SQLite touches the file: SQLite itself opens a file cut
        // by less than a page, and ignores a log it cannot read.
        refuse_linked_companions(&path)?;
        let had_log = if creating {
            create_private(&path)?;
            false
        } else {
            inspect_files(&path)?
        };
        let mut store = Self {
            path,
            options,
            idle: Mutex::new(Vec::new()),
            sealer,
            keys: DataKeys::empty(),
            group: super::batch::Batcher::new(super::batch::BATCH_CAP),
            #[cfg(test)]
            hook: Mutex::new(None),
        };
        let mut conn = store.connect(creating)?;
        if had_log {
            // Closing the last connection checkpoints the log into the
            // file and deletes it: a refused file must keep both as they
            // are. (Without a log, closing removes the empty log and
            // index that opening created, and writes nothing.)
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                .map_err(|e| open_err(&e))?;
        }
        let (keys, sealed_plaintext) = store.prepare(&mut conn, creating)?;
        store.keys = keys;
        if sealed_plaintext {
            // The upgrade sealed plaintext secrets: rewrite the file so no
            // page (nor the log) keeps an old copy of one.
            conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(|e| open_err(&e))?;
        }
        if had_log {
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
                .map_err(|e| open_err(&e))?;
        }
        store.give_back(conn);
        Ok(store)
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the store was opened with.
    #[must_use]
    pub const fn options(&self) -> &SqliteOptions {
        &self.options
    }

    /// The schema version of the file (after opening, always
    /// [`SQLITE_SCHEMA_VERSION`]).
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the file cannot be read.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let conn = self.conn()?;
        read_version(&conn).map_err(StoreError::from)
    }

    /// Runs SQLite's full `PRAGMA integrity_check`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] with SQLite's first findings when the file
    /// is damaged.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let conn = self.conn()?;
        check(&conn, "integrity_check").map_err(StoreError::from)
    }

    pub(super) fn connect(&self, create: bool) -> Result<Connection, OpenError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| open_err(&e))?;
        conn.busy_timeout(self.options.busy_timeout)
            .map_err(|e| open_err(&e))?;
        let sync = match self.options.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(|e| open_err(&e))?;
        // Freed space is overwritten with zeros, so a rewritten row leaves
        // no old copy of itself in the file.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(|e| open_err(&e))?;
        Ok(conn)
    }

    /// Checks, upgrades and creates the schema; loads (or, in a new file,
    /// makes) the data keys. `true` when plaintext secrets were sealed.
    fn prepare(
        &self,
        conn: &mut Connection,
        creating: bool,
    ) -> Result<(DataKeys, bool), OpenError> {
        // Reading the header is the first touch of the file: a file that
        // is not a database fails here. Everything up to WAL mode only
        // reads, so a file that is refused is left exactly as it was.
        self.classify(conn)?;
        if !creating && self.options.integrity_check {
            check(conn, "quick_check")?;
        }
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| open_err(&e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenError::Unavailable(format!(
                "the file system refused WAL mode (journal mode is {mode})"
            )));
        }
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| open_err(&e))?;
        // Again under the write lock: another process may have created
        // or upgraded the schema meanwhile.
        let from = match self.classify(&tx)? {
            Some(version) => version,
            None => {
                tx.execute_batch(
                    "CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
                     INSERT INTO schema_version (version) VALUES (0);",
                )
                .map_err(|e| open_err(&e))?;
                tx.pragma_update(None, "application_id", SQLITE_APPLICATION_ID)
                    .map_err(|e| open_err(&e))?;
                0
            }
        };
        for (version, sql) in (1u32..).zip(MIGRATIONS) {
            if version > from {
                tx.execute_batch(sql).map_err(|e| open_err(&e))?;
                tx.execute("UPDATE schema_version SET version = ?1", [version])
                    .map_err(|e| open_err(&e))?;
            }
        }
        let keys = self.data_keys(&tx)?;
        // Only the upgrade seals plaintext: afterwards a row without a data
        // key was written behind the store's back and is refused.
        let sealed = if from < SEALED_SINCE {
            seal_plaintext(&tx, &keys)?
        } else {
            0
        };
        tx.commit().map_err(|e| open_err(&e))?;
        Ok((keys, sealed > 0))
    }

    /// `Some(version)` for an otp-store file, `None` for an empty
    /// database (nothing to lose); an error for anything else.
    fn classify(&self, conn: &Connection) -> Result<Option<u32>, OpenError> {
        let app_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| open_err(&e))?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| open_err(&e))?;
        if app_id == SQLITE_APPLICATION_ID {
            let version = read_version(conn)?;
            if version > SQLITE_SCHEMA_VERSION {
                return Err(OpenError::NewerSchema {
                    found: version,
                    supported: SQLITE_SCHEMA_VERSION,
                });
            }
            Ok(Some(version))
        } else if app_id == 0 && tables == 0 {
            Ok(None)
        } else {
            Err(OpenError::Foreign(format!(
                "{} has application ID {app_id:#x} and {tables} tables, and is not an otp-store file",
                self.path.display()
            )))
        }
    }
}

fn check(conn: &Connection, pragma: &str) -> Result<(), OpenError> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA {pragma}(10)"))
        .map_err(|e| open_err(&e))?;
    let findings: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(Iterator::collect)
        .map_err(|e| match open_err(&e) {
            OpenError::Unavailable(m) => OpenError::Corrupt(m),
            other => other,
        })?;
    if findings.len() == 1 && findings.first().is_some_and(|f| f == "ok") {
        Ok(())
    } else {
        Err(OpenError::Corrupt(format!(
            "{pragma} found: {}",
            findings.join("; ")
        )))
    }
}

fn read_version(conn: &Connection) -> Result<u32, OpenError> {
    let v: Option<i64> = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .optional()
        .map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => open_err(&e),
            _ => OpenError::Corrupt(format!("the schema_version table cannot be read: {e}")),
        })?;
    let v = v.ok_or_else(|| OpenError::Corrupt("the schema_version table is empty".into()))?;
    u32::try_from(v).map_err(|_| OpenError::Corrupt(format!("the schema version {v} is not valid")))
}
