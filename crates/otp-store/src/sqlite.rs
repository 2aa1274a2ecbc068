//! The SQLite store: one file, WAL mode, migrations, a small pool of
//! connections, and every write in one `BEGIN IMMEDIATE` transaction.

use core::fmt;
use core::time::Duration;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use otp_exchange::{
    AuditEntry, AuditHead, AuditKey, AuditRecord, LockChange, Store, StoreError, Switch,
    SwitchError, TokenEntry, TokenStatus, UserId, UserPage, UserRecord, Verification,
};
use otp_provision::SerialNumber;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension as _, Transaction, params};
use zeroize::Zeroizing;

use crate::OpenError;
use crate::codec::{
    AuditCols, AuditRow, StateCols, TokenRead, TokenRow, UserRow, authority_text, corrupt,
    encode_lock, next_after, time_key,
};
use crate::seal::{DataKeyRow, DataKeys, NewDataKey, Rekeyed, SecretSealer};

/// The schema version this build writes; older files are upgraded when
/// opened, newer ones refused with [`OpenError::NewerSchema`].
pub const SQLITE_SCHEMA_VERSION: u32 = 4;

/// SQLite's `application_id` header field for otp-store files: `OTPS`.
pub const SQLITE_APPLICATION_ID: i32 = 0x4f54_5053;

/// The migrations, in order: entry `i` takes a file from version `i` to
/// version `i + 1`.
const MIGRATIONS: [&str; 4] = [
    include_str!("../sql/sqlite_v1.sql"),
    include_str!("../sql/sqlite_v2.sql"),
    include_str!("../sql/sqlite_v3.sql"),
    include_str!("../sql/sqlite_v4.sql"),
];

/// The schema version from which token secrets are sealed.
const SEALED_SINCE: u32 = 4;

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
    /// Idle connections kept open for reuse: default 8.
    pub max_idle_connections: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(10),
            create_if_missing: true,
            integrity_check: true,
            max_idle_connections: 8,
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
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("sealer", &self.sealer)
            .field("keys", &self.keys)
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

    fn connect(&self, create: bool) -> Result<Connection, OpenError> {
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

    /// The store's identity and data keys, unwrapped; in a store without
    /// either, new ones (inside `tx`, which holds the write lock).
    fn data_keys(&self, tx: &Transaction<'_>) -> Result<DataKeys, OpenError> {
        let store_id: Option<Vec<u8>> = tx
            .query_row("SELECT id FROM store_identity", [], |r| r.get(0))
            .optional()
            .map_err(|e| open_err(&e))?;
        let store_id = match store_id {
            Some(id) => id,
            None => {
                let mut id = vec![0u8; 16];
                getrandom::fill(&mut id).map_err(|e| OpenError::Unavailable(e.to_string()))?;
                tx.execute("INSERT INTO store_identity (id) VALUES (?1)", [&id])
                    .map_err(|e| open_err(&e))?;
                id
            }
        };
        let mut rows = read_data_keys(tx).map_err(|e| open_err(&e))?;
        if rows.is_empty() {
            let new = NewDataKey::generate(&*self.sealer, &store_id, 1)
                .map_err(|e| OpenError::Unavailable(e.to_string()))?;
            insert_data_key(tx, 1, &new).map_err(|e| open_err(&e))?;
            rows.push((1, new.kek_id.clone(), new.wrapped.clone()));
        }
        DataKeys::unwrap_all(&*self.sealer, store_id, &rows).map_err(OpenError::SealingKey)
    }

    /// Reads the data keys again (another process rotated them).
    fn reload_keys(&self, conn: &Connection) -> Result<(), StoreError> {
        let rows = read_data_keys(conn).map_err(to_store)?;
        self.keys.reload(&*self.sealer, &rows)
    }

    /// Re-seals every token secret under a new data key, wrapped under the
    /// sealer's current key-encryption key, then removes the data keys no
    /// row uses any more. Runs in batches of `batch` rows, each its own
    /// short transaction, so verifications go on meanwhile (every row
    /// opens under its old or its new key throughout); safe to run again
    /// after an interruption.
    ///
    /// After a key-encryption key rotation ([`KeyFileSealer::rotate`]),
    /// this moves every data key off the old KEK; then the old KEK can be
    /// retired ([`SqliteStore::kek_ids`] shows which are still in use).
    ///
    /// [`KeyFileSealer::rotate`]: crate::KeyFileSealer::rotate
    ///
    /// # Errors
    ///
    /// [`StoreError`] from the database or the sealer; what was committed
    /// before stays (a later run goes on from there).
    pub fn rekey(&self, batch: usize) -> Result<Rekeyed, StoreError> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let new_id = {
            let tx = write_tx(&mut conn).map_err(to_store)?;
            let id: i64 = tx
                .query_row("SELECT coalesce(max(id), 0) + 1 FROM data_keys", [], |r| {
                    r.get(0)
                })
                .map_err(to_store)?;
            let new = NewDataKey::generate(&*self.sealer, self.keys.store_id(), id)?;
            insert_data_key(&tx, id, &new).map_err(to_store)?;
            tx.commit().map_err(to_store)?;
            self.keys.insert(id, &new)?;
            id
        };
        let mut resealed = 0u64;
        loop {
            let tx = write_tx(&mut conn).map_err(to_store)?;
            let rows: Vec<(String, Vec<u8>, Option<i64>)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT serial, secret, data_key FROM tokens WHERE data_key IS NOT ?1 LIMIT ?2",
                    )
                    .map_err(to_store)?;
                stmt.query_map(params![new_id, batch], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(to_store)?
                .collect::<Result<_, _>>()
                .map_err(to_store)?
            };
            if rows.is_empty() {
                break;
            }
            for (serial, sealed, old) in rows {
                let secret = self
                    .keys
                    .open_reloading(old, &serial, &sealed, || self.reload_keys(&tx))?;
                let again = self.keys.seal(new_id, &serial, &secret)?;
                tx.execute(
                    "UPDATE tokens SET secret = ?1, data_key = ?2 WHERE serial = ?3 AND data_key = ?4",
                    params![again, new_id, serial, old],
                )
                .map_err(to_store)?;
                resealed += 1;
            }
            tx.commit().map_err(to_store)?;
        }
        let tx = write_tx(&mut conn).map_err(to_store)?;
        let retired = tx
            .execute(
                "DELETE FROM data_keys WHERE id <> ?1
                 AND NOT EXISTS (SELECT 1 FROM tokens WHERE tokens.data_key = data_keys.id)",
                [new_id],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(to_store)?;
        self.reload_keys(&conn)?;
        Ok(Rekeyed {
            data_key: new_id,
            resealed,
            retired: u64::try_from(retired).unwrap_or(u64::MAX),
        })
    }

    /// The ids of the key-encryption keys that wrap this store's data
    /// keys: a KEK not listed may be retired.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the database cannot be read.
    pub fn kek_ids(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        Ok(read_data_keys(&conn)
            .map_err(to_store)?
            .into_iter()
            .map(|(_, kek, _)| kek)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect())
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

    fn conn(&self) -> Result<Pooled<'_>, StoreError> {
        let reused = self.lock_idle()?.pop();
        let conn = match reused {
            Some(c) => c,
            None => self.connect(false).map_err(StoreError::from)?,
        };
        Ok(Pooled {
            store: self,
            conn: Some(conn),
        })
    }

    fn lock_idle(&self) -> Result<MutexGuard<'_, Vec<Connection>>, StoreError> {
        self.idle.lock().map_err(|_| {
            StoreError::Unavailable("the SQLite connection pool's lock is poisoned".into())
        })
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.options.max_idle_connections
        {
            idle.push(conn);
        }
    }
}

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The length of the SQLite database header.
const DB_HEADER: u64 = 100;
/// The write-ahead log's magic numbers: checksums over little-endian
/// words (the low bit clear) or big-endian words (set).
const WAL_MAGIC: [u32; 2] = [0x377f_0682, 0x377f_0683];
/// The only write-ahead log format version.
const WAL_VERSION: u32 = 3_007_000;
/// The lengths of the log's header and of each frame's header.
const WAL_HEADER: usize = 32;
const WAL_FRAME_HEADER: usize = 24;
/// How many times the files are read again when they changed while being
/// checked (another process writing to them).
const INSPECT_ATTEMPTS: usize = 3;

/// `path` with `suffix` appended: `bank.db` → `bank.db-wal`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// What may change while the files are checked: lengths and modification
/// times of the file, its log and its rollback journal.
type Stamp = [Option<(u64, Option<std::time::SystemTime>)>; 3];

fn stamp(path: &Path) -> Stamp {
    let of = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    [
        of(path),
        of(&beside(path, "-wal")),
        of(&beside(path, "-journal")),
    ]
}

/// Checks an existing file, its log and its journal from their bytes,
/// without SQLite. Returns whether a log exists beside the file.
///
/// Another process may be writing to the files meanwhile: a check during
/// which they changed is done again, so that a live file is judged on
/// one state of it.
fn inspect_files(path: &Path) -> Result<bool, OpenError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = stamp(path);
        let result = inspect_once(path);
        if attempts >= INSPECT_ATTEMPTS || stamp(path) == before {
            return result;
        }
    }
}

fn inspect_once(path: &Path) -> Result<bool, OpenError> {
    let shown = path.display().to_string();
    let unavailable = |e: std::io::Error| OpenError::Unavailable(format!("{shown}: {e}"));
    let file = std::fs::File::open(path).map_err(unavailable)?;
    let len = file.metadata().map_err(unavailable)?.len();
    let mut head = Vec::new();
    file.take(DB_HEADER)
        .read_to_end(&mut head)
        .map_err(unavailable)?;
    if head.get(..SQLITE_MAGIC.len()) != Some(SQLITE_MAGIC.as_slice()) {
        return Err(OpenError::NotADatabase(format!(
            "{shown} does not begin with the SQLite header string"
        )));
    }
    let page_size = match be_u16(&head, 16) {
        Some(1) => 65_536,
        Some(n) if n >= 512 && n.is_power_of_two() => u32::from(n),
        _ => {
            return Err(OpenError::NotADatabase(format!(
                "{shown} has no valid page size in its header"
            )));
        }
    };
    // The in-header page count is valid only when the change counter
    // (offset 24) equals the version-valid-for number (offset 92), and
    // when it is not 0 (files written before SQLite 3.7.0).
    let counted = match (be_u32(&head, 24), be_u32(&head, 28), be_u32(&head, 92)) {
        (Some(change), Some(pages), Some(valid_for)) if change == valid_for && pages != 0 => {
            u64::from(pages).checked_mul(u64::from(page_size))
        }
        _ => None,
    };
    let truncated = || OpenError::Truncated {
        path: shown.clone(),
        len,
        page_size,
        expected: counted,
    };
    if len % u64::from(page_size) != 0 {
        return Err(truncated());
    }
    let wal_path = beside(path, "-wal");
    let log = inspect_wal(&wal_path, page_size)?;
    // A log with commits holds the file's newest pages (and its true
    // length) until a checkpoint; a hot rollback journal holds the pages
    // to put back. Either may account for a file whose length is not yet
    // (or no longer) what its header records.
    let journal = std::fs::metadata(beside(path, "-journal")).is_ok_and(|m| m.len() > 0);
    if let Some(expected) = counted
        && expected != len
        && log != Log::Commits
        && !journal
    {
        return Err(truncated());
    }
    Ok(log != Log::Absent)
}

/// What the write-ahead log beside a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Log {
    /// No log.
    Absent,
    /// A log with no committed transaction that SQLite would replay
    /// (empty, or only frames of an earlier generation or of a
    /// transaction that never committed).
    NoCommits,
    /// At least one committed transaction.
    Commits,
}

/// SQLite's log checksum over `data` (a whole number of 8-byte words),
/// continuing from `(s0, s1)`.
fn wal_checksum(big_endian: bool, data: &[u8], (mut s0, mut s1): (u32, u32)) -> (u32, u32) {
    let word = |w: &[u8]| {
        let b: [u8; 4] = w.try_into().unwrap_or_default();
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    for pair in data.chunks_exact(8) {
        let (a, b) = pair.split_at(4);
        s0 = s0.wrapping_add(word(a)).wrapping_add(s1);
        s1 = s1.wrapping_add(word(b)).wrapping_add(s0);
    }
    (s0, s1)
}

/// Checks the log's header against the database's page size, then reads
/// its frames up to the first commit that SQLite would replay.
fn inspect_wal(wal_path: &Path, page_size: u32) -> Result<Log, OpenError> {
    let shown = wal_path.display().to_string();
    let unavailable = |e: std::io::Error| OpenError::Unavailable(format!("{shown}: {e}"));
    let bad = |reason: String| OpenError::BadWal {
        path: shown.clone(),
        reason,
    };
    let file = match std::fs::File::open(wal_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Log::Absent),
        Err(e) => return Err(unavailable(e)),
    };
    let len = file.metadata().map_err(unavailable)?.len();
    if len == 0 {
        // SQLite leaves a 0-byte log after a checkpoint that truncates it.
        return Ok(Log::NoCommits);
    }
    let mut reader = std::io::BufReader::new(file);
    let mut header = [0u8; WAL_HEADER];
    reader.read_exact(&mut header).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            bad(format!(
                "{len} bytes, shorter than the {WAL_HEADER}-byte log header"
            ))
        } else {
            unavailable(e)
        }
    })?;
    let field = |at| be_u32(&header, at).unwrap_or_default();
    let magic = field(0);
    if !WAL_MAGIC.contains(&magic) {
        return Err(bad(format!("bad magic number {magic:#010x}")));
    }
    let version = field(4);
    if version != WAL_VERSION {
        return Err(bad(format!("unknown log format version {version}")));
    }
    let wal_page_size = field(8);
    if wal_page_size != page_size {
        return Err(bad(format!(
            "its page size is {wal_page_size} bytes, the database's {page_size}"
        )));
    }
    let big_endian = magic & 1 == 1;
    let mut sum = wal_checksum(big_endian, header.get(..24).unwrap_or_default(), (0, 0));
    if sum != (field(24), field(28)) {
        return Err(bad("its header checksum does not verify".into()));
    }
    let salts = (field(16), field(20));
    // Frames: SQLite replays them up to the last valid commit frame; one
    // is enough to know the log holds commits.
    let page = usize::try_from(page_size).map_err(|_| bad("page size too large".into()))?;
    let mut frame = vec![0u8; WAL_FRAME_HEADER.saturating_add(page)];
    loop {
        match reader.read_exact(&mut frame) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(Log::NoCommits);
            }
            Err(e) => return Err(unavailable(e)),
        }
        let at = |i| be_u32(&frame, i).unwrap_or_default();
        let (page_no, commit) = (at(0), at(4));
        if page_no == 0 || (at(8), at(12)) != salts {
            return Ok(Log::NoCommits);
        }
        sum = wal_checksum(big_endian, frame.get(..8).unwrap_or_default(), sum);
        sum = wal_checksum(
            big_endian,
            frame.get(WAL_FRAME_HEADER..).unwrap_or_default(),
            sum,
        );
        if sum != (at(16), at(20)) {
            return Ok(Log::NoCommits);
        }
        if commit != 0 {
            return Ok(Log::Commits);
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

/// A connection borrowed from the pool, given back on drop.
struct Pooled<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl core::ops::Deref for Pooled<'_> {
    type Target = Connection;
    #[allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "the connection is taken only in Drop"
    )]
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl core::ops::DerefMut for Pooled<'_> {
    #[allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "the connection is taken only in Drop"
    )]
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.store.give_back(c);
        }
    }
}

const USER_COLS: &str = "id, name, authority, token, id_lock, approval_password, transfer_password";
const TOKEN_COLS: &str = "serial, seed_serial, manufacturer, model, issuer, key_id, kind, step_seconds, t0, algorithm, digits, counter, time_drift, secret, status, assigned_to, floor, drift, failures, locked, data_key";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        name: r.get(1)?,
        authority: r.get(2)?,
        token: r.get(3)?,
        id_lock: r.get(4)?,
        approval_password: r.get(5)?,
        transfer_password: r.get(6)?,
    })
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRead> {
    Ok(TokenRead {
        serial: r.get(0)?,
        seed_serial: r.get(1)?,
        manufacturer: r.get(2)?,
        model: r.get(3)?,
        issuer: r.get(4)?,
        key_id: r.get(5)?,
        kind: r.get(6)?,
        step_seconds: r.get(7)?,
        t0: r.get(8)?,
        algorithm: r.get(9)?,
        digits: r.get(10)?,
        counter: r.get(11)?,
        time_drift: r.get(12)?,
        sealed: r.get(13)?,
        data_key: r.get(20)?,
        status: r.get(14)?,
        assigned_to: r.get(15)?,
        state: StateCols {
            floor: r.get(16)?,
            drift: r.get(17)?,
            failures: r.get(18)?,
            locked: r.get(19)?,
        },
    })
}

fn read_data_keys(conn: &Connection) -> rusqlite::Result<Vec<DataKeyRow>> {
    let mut stmt = conn.prepare_cached("SELECT id, kek_id, wrapped FROM data_keys ORDER BY id")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

fn insert_data_key(tx: &Transaction<'_>, id: i64, key: &NewDataKey) -> rusqlite::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    tx.execute(
        "INSERT INTO data_keys (id, kek_id, wrapped, created) VALUES (?1, ?2, ?3, ?4)",
        params![id, key.kek_id, key.wrapped, now],
    )?;
    Ok(())
}

/// Seals every plaintext secret (a file upgraded from version 3) under
/// the newest data key. Returns how many.
fn seal_plaintext(tx: &Transaction<'_>, keys: &DataKeys) -> Result<u64, OpenError> {
    let key = keys.current().map_err(OpenError::from_store)?;
    let rows: Vec<(String, Zeroizing<Vec<u8>>)> = {
        let mut stmt = tx
            .prepare("SELECT serial, secret FROM tokens WHERE data_key IS NULL")
            .map_err(|e| open_err(&e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, Zeroizing::new(r.get(1)?))))
            .map_err(|e| open_err(&e))?
            .collect::<Result<_, _>>()
            .map_err(|e| open_err(&e))?
    };
    let mut sealed = 0u64;
    for (serial, secret) in rows {
        let s = keys
            .seal(key, &serial, &secret)
            .map_err(OpenError::from_store)?;
        tx.execute(
            "UPDATE tokens SET secret = ?1, data_key = ?2 WHERE serial = ?3",
            params![s, key, serial],
        )
        .map_err(|e| open_err(&e))?;
        sealed += 1;
    }
    Ok(sealed)
}

/// Creates a new database file: mode 0600, never through a link, never
/// over anything already there (SQLite would create it with the umask's
/// mode, and its `-wal` and `-shm` take the file's mode).
fn create_private(path: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    // In a folder others may write to, another user could remove the file
    // and put a link or a file of theirs in its place; the sticky bit
    // (as on /tmp) stops them.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode();
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(OpenError::Unavailable(format!(
                "{} is writable by group or others (mode {:04o}) and not sticky: refusing to create the database there",
                dir.display(),
                mode & 0o7777
            )));
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .open(path)
        .map(drop)
        .map_err(|e| OpenError::Unavailable(format!("{}: {e}", path.display())))
}

/// Refuses a `-wal`, `-shm` or `-journal` beside the file that is a link:
/// SQLite would follow it and write the database's pages elsewhere.
fn refuse_linked_companions(path: &Path) -> Result<(), OpenError> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let p = beside(path, suffix);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(OpenError::Unavailable(format!(
                "{} is a symbolic link: refused (SQLite would write the database through it)",
                p.display()
            )));
        }
    }
    Ok(())
}

fn write_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// Appends to the chain inside `tx`, which holds the write lock: reads the
/// stored head, seals the entry after it under `key`, inserts the record
/// and moves the head, all in `tx`.
fn append(
    tx: &Transaction<'_>,
    entry: &AuditEntry,
    key: &AuditKey,
) -> Result<AuditRecord, StoreError> {
    let (seq, hash): (i64, Vec<u8>) = tx
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(to_store)?
        .ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
    let (seq, prev) = next_after(seq, &hash)?;
    let record = entry.clone().seal(seq, prev, key);
    let c = AuditCols::encode(&record);
    tx.prepare_cached(
        "INSERT INTO audit (seq, at, target, entry, body, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.seq,
            c.at,
            c.target,
            c.entry,
            c.body,
            c.prev_hash,
            c.hash
        ])
    })
    .map_err(|e| match e.sqlite_error_code() {
        // The head names a record that is not the last one.
        Some(ErrorCode::ConstraintViolation) => {
            corrupt("the audit chain's head is behind its records")
        }
        _ => db_err(&e),
    })?;
    tx.prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")
        .and_then(|mut s| s.execute(params![c.seq, c.hash]))
        .map_err(to_store)?;
    Ok(record)
}

fn token_status(
    tx: &Transaction<'_>,
    serial: &SerialNumber,
) -> rusqlite::Result<Option<(String, Option<String>)>> {
    tx.query_row(
        "SELECT status, assigned_to FROM tokens WHERE serial = ?1",
        [serial.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// The stored lock text of each change's user (`None`: no such user).
fn current_locks(
    tx: &Transaction<'_>,
    changes: &[LockChange],
) -> rusqlite::Result<Vec<Option<String>>> {
    let mut stmt = tx.prepare_cached("SELECT id_lock FROM users WHERE id = ?1")?;
    changes
        .iter()
        .map(|c| stmt.query_row([c.user().as_str()], |r| r.get(0)).optional())
        .collect()
}

/// Whether every change's user exists with the lock it expects.
fn locks_match(changes: &[LockChange], current: &[Option<String>]) -> bool {
    changes.len() == current.len()
        && changes
            .iter()
            .zip(current)
            .all(|(c, now)| now.as_deref() == Some(encode_lock(c.expected()).as_str()))
}

/// Writes every change's new lock, in order (checked by the caller in the
/// same transaction).
fn apply_locks(tx: &Transaction<'_>, changes: &[LockChange]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached("UPDATE users SET id_lock = ?1 WHERE id = ?2")?;
    for c in changes {
        stmt.execute(params![encode_lock(c.new_lock()), c.user().as_str()])?;
    }
    Ok(())
}

const AUDIT_COLS: &str = "seq, at, target, entry, body, prev_hash, hash";

fn read_audit(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(to_store)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok(AuditRow {
                seq: r.get(0)?,
                at: r.get(1)?,
                target: r.get(2)?,
                entry: r.get(3)?,
                body: r.get(4)?,
                prev_hash: r.get(5)?,
                hash: r.get(6)?,
            })
        })
        .map_err(to_store)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(to_store)?.decode()?);
    }
    Ok(out)
}

impl Store for SqliteStore {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))
            .map_err(to_store)?;
        stmt.query_row([id.as_str()], user_row)
            .optional()
            .map_err(to_store)?
            .map(UserRow::decode)
            .transpose()
    }

    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(to_store)?;
        let total: i64 = tx
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .map_err(to_store)?;
        let mut users = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {USER_COLS} FROM users ORDER BY id LIMIT ?1 OFFSET ?2"
                ))
                .map_err(to_store)?;
            let rows = stmt
                .query_map(
                    params![
                        i64::try_from(limit).unwrap_or(i64::MAX),
                        i64::try_from(offset).unwrap_or(i64::MAX)
                    ],
                    user_row,
                )
                .map_err(to_store)?;
            for row in rows {
                users.push(row.map_err(to_store)?.decode()?);
            }
        }
        tx.finish().map_err(to_store)?;
        Ok(UserPage {
            users,
            total: usize::try_from(total).map_err(|_| corrupt("the user count is negative"))?,
        })
    }

    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        tx.execute(
            "INSERT INTO users (id, name, authority, token, id_lock, approval_password, transfer_password)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, authority = excluded.authority,
                 approval_password = excluded.approval_password, transfer_password = excluded.transfer_password",
            params![
                user.id.as_str(),
                user.name,
                authority_text(user.authority),
                user.token.as_ref().map(SerialNumber::as_str),
                encode_lock(&user.lock),
                user.approval_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
                user.transfer_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
            ],
        )
        .map_err(to_store)?;
        let record = append(&tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE serial = ?1"
            ))
            .map_err(to_store)?;
        let Some(row) = stmt
            .query_row([serial.as_str()], token_row)
            .optional()
            .map_err(to_store)?
        else {
            return Ok(None);
        };
        let secret = row.secret(&self.keys, || self.reload_keys(&conn))?;
        row.decode(&secret).map(Some)
    }

    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        // Seal under the newest data key, even one another process made.
        let newest: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) FROM data_keys", [], |r| {
                r.get(0)
            })
            .map_err(to_store)?;
        if newest != self.keys.current()? {
            self.reload_keys(&tx)?;
        }
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
                     ON CONFLICT (serial) DO NOTHING"
                ))
                .map_err(to_store)?;
            for t in &tokens {
                let row = TokenRow::encode(t, &self.keys)?;
                let inserted = stmt
                    .execute(params![
                        row.serial,
                        row.seed_serial,
                        row.manufacturer,
                        row.model,
                        row.issuer,
                        row.key_id,
                        row.kind,
                        row.step_seconds,
                        row.t0,
                        row.algorithm,
                        row.digits,
                        row.counter,
                        row.time_drift,
                        row.sealed,
                        row.status,
                        row.assigned_to,
                        row.state.floor,
                        row.state.drift,
                        row.state.failures,
                        row.state.locked,
                        row.data_key,
                    ])
                    .map_err(to_store)?;
                if inserted == 0 {
                    // Dropping the transaction rolls every insert back.
                    return Err(StoreError::Duplicate(format!(
                        "token {}",
                        t.serial.masked()
                    )));
                }
            }
        }
        let record = append(&tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        let user = v.user().as_str();
        let (e, n) = (
            StateCols::encode(v.expected_state()),
            StateCols::encode(v.new_state()),
        );
        // The state moves only if the token is still assigned to the user,
        // the user's token is still this one, the state is as verified and
        // the user's lock as read (the first of `locks`; the others, the
        // operator's, are checked below); the write lock is held until
        // commit.
        let Some(own) = v.locks().iter().find(|c| c.user() == v.user()) else {
            return Ok(false);
        };
        let changed = tx
            .prepare_cached(
                "UPDATE tokens SET floor = ?1, drift = ?2, failures = ?3, locked = ?4
                 WHERE serial = ?5 AND status = 'assigned' AND assigned_to = ?6
                   AND floor = ?7 AND drift = ?8 AND failures = ?9 AND locked = ?10
                   AND EXISTS (SELECT 1 FROM users WHERE id = ?6 AND token = ?5 AND id_lock = ?11)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    n.floor,
                    n.drift,
                    n.failures,
                    n.locked,
                    v.serial().as_str(),
                    user,
                    e.floor,
                    e.drift,
                    e.failures,
                    e.locked,
                    encode_lock(own.expected()),
                ])
            })
            .map_err(to_store)?;
        if changed != 1 {
            // Nothing was written; dropping `tx` ends it.
            return Ok(false);
        }
        let current = current_locks(&tx, v.locks()).map_err(to_store)?;
        if !locks_match(v.locks(), &current) {
            return Ok(false);
        }
        apply_locks(&tx, v.locks()).map_err(to_store)?;
        for entry in v.audit() {
            append(&tx, entry, key)?;
        }
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        let current = current_locks(&tx, changes).map_err(to_store)?;
        if let Some((c, _)) = changes.iter().zip(&current).find(|(_, now)| now.is_none()) {
            return Err(StoreError::NotFound(format!("user {}", c.user())));
        }
        if !locks_match(changes, &current) {
            return Ok(false);
        }
        apply_locks(&tx, changes).map_err(to_store)?;
        for entry in audit {
            append(&tx, entry, key)?;
        }
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_switch)?;
        // Check everything first; change nothing unless all holds (an
        // early return drops `tx`, which rolls back).
        let current: Option<Option<String>> = tx
            .query_row(
                "SELECT token FROM users WHERE id = ?1",
                [change.user().as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(to_switch)?;
        let current = current.ok_or(SwitchError::Conflict)?;
        let current = current.as_deref().map(crate::codec::serial).transpose()?;
        if current.as_ref() != change.expect_current() {
            return Err(SwitchError::Conflict);
        }
        if let Some(old) = change.revoke() {
            let (status, owner) = token_status(&tx, old)
                .map_err(to_switch)?
                .ok_or(SwitchError::Conflict)?;
            if crate::codec::status(&status, owner.as_deref())?
                != TokenStatus::Assigned(change.user().clone())
            {
                return Err(SwitchError::Conflict);
            }
        }
        if let Some((new, _)) = change.bind() {
            let (status, owner) = token_status(&tx, new)
                .map_err(to_switch)?
                .ok_or(SwitchError::Conflict)?;
            if crate::codec::status(&status, owner.as_deref())? != TokenStatus::Unassigned {
                return Err(SwitchError::Conflict);
            }
        }
        let locks = current_locks(&tx, change.locks()).map_err(to_switch)?;
        if !locks_match(change.locks(), &locks) {
            return Err(SwitchError::LockChanged);
        }
        // Apply.
        if let Some(old) = change.revoke() {
            tx.execute(
                "UPDATE tokens SET status = 'revoked', assigned_to = NULL WHERE serial = ?1",
                [old.as_str()],
            )
            .map_err(to_switch)?;
        }
        if let Some((new, state)) = change.bind() {
            let s = StateCols::encode(state);
            tx.execute(
                "UPDATE tokens SET status = 'assigned', assigned_to = ?1,
                     floor = ?2, drift = ?3, failures = ?4, locked = ?5
                 WHERE serial = ?6",
                params![
                    change.user().as_str(),
                    s.floor,
                    s.drift,
                    s.failures,
                    s.locked,
                    new.as_str()
                ],
            )
            .map_err(to_switch)?;
        }
        tx.execute(
            "UPDATE users SET token = ?1 WHERE id = ?2",
            params![
                change.bind().map(|(s, _)| s.as_str()),
                change.user().as_str()
            ],
        )
        .map_err(to_switch)?;
        apply_locks(&tx, change.locks()).map_err(to_switch)?;
        let record = append(&tx, change.audit(), key)?;
        tx.commit().map_err(to_switch)?;
        Ok(record)
    }

    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        let record = append(&tx, entry, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn()?;
        // The SQL filter is on the indexed copies of `target` and `at`
        // (clamped times: a superset); each row read is checked against
        // its record (a copy that does not match is `Corrupt`) and the
        // exact filter follows on the records themselves.
        let records = match user {
            Some(u) => read_audit(
                &conn,
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit
                     WHERE target = ?1 AND at BETWEEN ?2 AND ?3 ORDER BY seq"
                ),
                params![u.as_str(), time_key(from), time_key(to)],
            )?,
            None => read_audit(
                &conn,
                &format!("SELECT {AUDIT_COLS} FROM audit WHERE at BETWEEN ?1 AND ?2 ORDER BY seq"),
                params![time_key(from), time_key(to)],
            )?,
        };
        Ok(records
            .into_iter()
            .filter(|r| user.is_none_or(|u| r.entry.target.as_ref() == Some(u)))
            .filter(|r| (from..=to).contains(&r.entry.at))
            .collect())
    }

    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn()?;
        read_audit(
            &conn,
            &format!("SELECT {AUDIT_COLS} FROM audit ORDER BY seq"),
            [],
        )
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let conn = self.conn()?;
        let (seq, hash): (i64, Vec<u8>) = conn
            .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(to_store)?
            .ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
        crate::codec::audit_head(seq, &hash)
    }

    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        tx.execute("DELETE FROM nonces WHERE expires_at < ?1", [time_key(now)])
            .map_err(to_store)?;
        let inserted = tx
            .execute(
                "INSERT INTO nonces (nonce, expires_at) VALUES (?1, ?2) ON CONFLICT (nonce) DO NOTHING",
                params![nonce.as_slice(), time_key(expires_at)],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        Ok(inserted == 1)
    }
}
