//! The PostgreSQL store: the same schema ideas as SQLite's, for banks
//! with several application servers. Token state changes are
//! compare-and-set `UPDATE`s (PostgreSQL re-checks the `WHERE` clause on
//! the newest row version after waiting for a concurrent writer, so two
//! servers can never both move the same floor); the switch locks the rows
//! it reads with `SELECT ... FOR UPDATE`; appends to the audit chain are
//! serialised by a one-row head table.

use core::fmt;
use core::time::Duration;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use otp_exchange::{
    AuditEntry, AuditHead, AuditKey, AuditRecord, LockChange, Store, StoreError, Switch,
    SwitchError, TokenEntry, TokenStatus, UserId, UserPage, UserRecord, Verification,
};
use otp_provision::SerialNumber;
use postgres::error::SqlState;
use postgres::{Client, Config, GenericClient, IsolationLevel, Row};
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::r2d2::{Pool, PooledConnection};
use tokio_postgres_rustls::MakeRustlsConnect;
use zeroize::Zeroizing;

mod tls;
pub use tls::TlsMode;

use crate::OpenError;
use crate::codec::{
    AuditCols, AuditRow, StateCols, TokenRead, TokenRow, UserRow, authority_text, corrupt,
    encode_lock, next_after, time_key,
};
use crate::seal::{DataKeyRow, DataKeys, NewDataKey, Rekeyed, SecretSealer};

/// The schema version this build writes; older databases are upgraded
/// when connected to, newer ones refused with [`OpenError::NewerSchema`].
pub const PG_SCHEMA_VERSION: u32 = 4;

const MIGRATIONS: [&str; 4] = [
    include_str!("../sql/postgres_v1.sql"),
    include_str!("../sql/postgres_v2.sql"),
    include_str!("../sql/postgres_v3.sql"),
    include_str!("../sql/postgres_v4.sql"),
];

/// The schema version from which token secrets are sealed.
const SEALED_SINCE: u32 = 4;

/// How to connect a [`PgStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgOptions {
    /// The PostgreSQL schema (namespace) holding the tables, created if
    /// missing; `None` uses the connection's `search_path` (normally
    /// `public`). Lower-case ASCII letters, digits and `_`, not starting
    /// with a digit.
    pub schema: Option<String>,
    /// The most connections the pool opens: default 8.
    pub pool_size: u32,
    /// How long to wait for a connection (to connect, or for a free one
    /// in the pool): default 10 s.
    pub connect_timeout: Duration,
    /// The TLS mode; `None` takes the URL's `sslmode`, else the default
    /// (see [`TlsMode`]: `VerifyFull` off loopback). A URL that says
    /// otherwise is refused.
    pub tls: Option<TlsMode>,
    /// The CA file (PEM) the server's certificate must chain to in the
    /// verifying modes; `None` takes the URL's `sslrootcert`, else the
    /// system's roots. A URL that names another file is refused.
    pub ca_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            schema: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            tls: None,
            ca_file: None,
        }
    }
}

impl PgOptions {
    /// The same options with the tables in `schema`.
    ///
    /// # Examples
    ///
    /// ```
    /// let o = otp_store::PgOptions::default().with_schema("bank1").with_pool_size(4);
    /// assert_eq!((o.schema.as_deref(), o.pool_size), (Some("bank1"), 4));
    /// ```
    #[must_use]
    pub fn with_schema(mut self, schema: &str) -> Self {
        self.schema = Some(schema.to_owned());
        self
    }

    /// The same options with another pool size.
    #[must_use]
    pub const fn with_pool_size(mut self, size: u32) -> Self {
        self.pool_size = size;
        self
    }

    /// The same options with another connection timeout.
    #[must_use]
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The same options with a TLS mode and, for the verifying modes, the
    /// CA file the server's certificate must chain to (`None`: the URL's
    /// `sslrootcert`, else the system's roots).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_store::{PgOptions, TlsMode};
    /// let o = PgOptions::default().with_tls(TlsMode::VerifyFull, Some("/etc/otp/pg-ca.pem".into()));
    /// assert_eq!(o.tls, Some(TlsMode::VerifyFull));
    /// ```
    #[must_use]
    pub fn with_tls(mut self, mode: TlsMode, ca_file: Option<PathBuf>) -> Self {
        self.tls = Some(mode);
        self.ca_file = ca_file;
        self
    }
}

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
    pool: Pool<PostgresConnectionManager<MakeRustlsConnect>>,
    options: PgOptions,
    sealer: Arc<dyn SecretSealer>,
    keys: DataKeys,
    tls: TlsMode,
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

fn valid_schema(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 63
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl PgStore {
    /// Connects to the database at `url` (a `postgresql://` URL or a
    /// `key=value` string), creates the schema in an empty database and
    /// upgrades an older one. Servers starting at once take an advisory
    /// lock, so only one migrates.
    ///
    /// Connections are encrypted and the server authenticated as the
    /// [`TlsMode`] says: the URL's `sslmode` and `sslrootcert` (libpq's
    /// names, all five modes but `allow`) or [`PgOptions::tls`] and
    /// [`PgOptions::ca_file`]; by default `verify-full` for any host
    /// that is not loopback. One connection is made before the pool is
    /// built, so that a refused handshake is reported at once and typed.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidOption`] for a bad URL, schema name or TLS
    /// parameter (or a URL and options that disagree),
    /// [`OpenError::CaFile`] for an unreadable CA file,
    /// [`OpenError::TlsRefused`] when TLS is required but the server does
    /// not offer it, [`OpenError::CertificateUntrusted`] and
    /// [`OpenError::HostNameMismatch`] when its certificate does not
    /// verify, [`OpenError::Unavailable`] when the server cannot be
    /// reached or refuses the login, [`OpenError::Foreign`] when the
    /// schema holds otp tables not made by otp-store,
    /// [`OpenError::NewerSchema`] for a newer schema,
    /// [`OpenError::SealingKey`] when `sealer` does not open the store's
    /// data keys.
    pub fn connect(
        url: &str,
        options: PgOptions,
        sealer: Arc<dyn SecretSealer>,
    ) -> Result<Self, OpenError> {
        let (config, tls) = Self::client_config(url, &options)?;
        drop(
            config
                .connect(tls.connector.clone())
                .map_err(|e| tls::connect_error(&e, pg_text(&e)))?,
        );
        let pool = Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            .build(PostgresConnectionManager::new(config, tls.connector))
            .map_err(|e| OpenError::Unavailable(e.to_string()))?;
        let mut store = Self {
            pool,
            options,
            tls: tls.mode,
            sealer,
            keys: DataKeys::empty(),
        };
        store.keys = store.migrate()?;
        Ok(store)
    }

    /// One connection to `url` with the same options as
    /// [`PgStore::connect`] (TLS, schema, timeout), outside any pool and
    /// without creating or checking tables: for administration and tests.
    ///
    /// # Errors
    ///
    /// As [`PgStore::connect`], but for the schema checks.
    pub fn connect_client(url: &str, options: &PgOptions) -> Result<Client, OpenError> {
        let (config, tls) = Self::client_config(url, options)?;
        config
            .connect(tls.connector)
            .map_err(|e| tls::connect_error(&e, pg_text(&e)))
    }

    fn client_config(url: &str, options: &PgOptions) -> Result<(Config, tls::Tls), OpenError> {
        let (mut config, tls) = tls::configure(url, options.tls, options.ca_file.as_deref())?;
        if let Some(schema) = &options.schema {
            if !valid_schema(schema) {
                return Err(OpenError::InvalidOption(format!(
                    "schema name {schema:?}: use lower-case ASCII letters, digits and _"
                )));
            }
            config.options(&format!("-c search_path={schema}"));
        }
        config.connect_timeout(options.connect_timeout);
        Ok((config, tls))
    }

    /// The TLS mode the store's connections use: the one given, or the
    /// default picked for the URL's hosts (`Require` with a CA file
    /// becomes `VerifyCa`, as in libpq).
    #[must_use]
    pub const fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    /// The options the store was connected with.
    #[must_use]
    pub const fn options(&self) -> &PgOptions {
        &self.options
    }

    /// The schema version of the database.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the database cannot be read.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let mut c = self.conn()?;
        read_version(&mut *c).map_err(StoreError::from)
    }

    fn conn(
        &self,
    ) -> Result<PooledConnection<PostgresConnectionManager<MakeRustlsConnect>>, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(format!("no PostgreSQL connection: {e}")))
    }

    /// Creates or upgrades the schema and loads (or makes) the data keys.
    fn migrate(&self) -> Result<DataKeys, OpenError> {
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

    /// The store's identity and data keys, unwrapped; new ones in a store
    /// without them (inside the migration's transaction and its lock).
    fn data_keys(&self, tx: &mut postgres::Transaction<'_>) -> Result<DataKeys, OpenError> {
        let store_id: Option<Vec<u8>> = tx
            .query_opt("SELECT id FROM otp_store_identity", &[])
            .map_err(|e| open_err(&e))?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(|e| open_err(&e))?;
        let store_id = match store_id {
            Some(id) => id,
            None => {
                let mut id = vec![0u8; 16];
                getrandom::fill(&mut id).map_err(|e| OpenError::Unavailable(e.to_string()))?;
                tx.execute("INSERT INTO otp_store_identity (id) VALUES ($1)", &[&id])
                    .map_err(|e| open_err(&e))?;
                id
            }
        };
        let mut rows = read_data_keys(tx).map_err(OpenError::from_store)?;
        if rows.is_empty() {
            let new = NewDataKey::generate(&*self.sealer, &store_id, 1)
                .map_err(|e| OpenError::Unavailable(e.to_string()))?;
            insert_data_key(tx, 1, &new).map_err(|e| open_err(&e))?;
            rows.push((1, new.kek_id.clone(), new.wrapped.clone()));
        }
        DataKeys::unwrap_all(&*self.sealer, store_id, &rows).map_err(OpenError::SealingKey)
    }

    /// Reads the data keys again (another server rotated them).
    fn reload_keys(&self, c: &mut impl GenericClient) -> Result<(), StoreError> {
        let rows = read_data_keys(c)?;
        self.keys.reload(&*self.sealer, &rows)
    }

    /// Re-seals every token secret under a new data key wrapped under the
    /// sealer's current key-encryption key, in batches of `batch` rows,
    /// then removes the data keys no row uses: as
    /// [`SqliteStore::rekey`](crate::SqliteStore::rekey).
    ///
    /// # Errors
    ///
    /// [`StoreError`] from the database or the sealer; what was committed
    /// before stays.
    pub fn rekey(&self, batch: usize) -> Result<Rekeyed, StoreError> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut c = self.conn()?;
        let new_id = {
            let mut tx = c.transaction().map_err(to_store)?;
            tx.batch_execute("LOCK TABLE otp_data_keys IN EXCLUSIVE MODE")
                .map_err(to_store)?;
            let id: i64 = tx
                .query_one("SELECT coalesce(max(id), 0) + 1 FROM otp_data_keys", &[])
                .map_err(to_store)
                .and_then(|r| col(&r, 0))?;
            let new = NewDataKey::generate(&*self.sealer, self.keys.store_id(), id)?;
            insert_data_key(&mut tx, id, &new).map_err(to_store)?;
            tx.commit().map_err(to_store)?;
            self.keys.insert(id, &new)?;
            id
        };
        let mut resealed = 0u64;
        loop {
            let mut tx = c.transaction().map_err(to_store)?;
            let rows = tx
                .query(
                    "SELECT serial, secret, data_key FROM otp_tokens
                     WHERE data_key IS DISTINCT FROM $1 LIMIT $2 FOR UPDATE",
                    &[&new_id, &batch],
                )
                .map_err(to_store)?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let serial: String = col(r, 0)?;
                let sealed: Vec<u8> = col(r, 1)?;
                let old: Option<i64> = col(r, 2)?;
                let secret = self
                    .keys
                    .open_reloading(old, &serial, &sealed, || self.reload_keys(&mut tx))?;
                let again = self.keys.seal(new_id, &serial, &secret)?;
                tx.execute(
                    "UPDATE otp_tokens SET secret = $1, data_key = $2 WHERE serial = $3 AND data_key = $4",
                    &[&again, &new_id, &serial, &old],
                )
                .map_err(to_store)?;
                resealed += 1;
            }
            tx.commit().map_err(to_store)?;
        }
        // SHARE mode waits for every transaction writing tokens (an import
        // sealing under an old data key it still had cached) and holds new
        // ones off for this one statement, whose snapshot then sees them
        // all: a data key is never deleted under a row that uses it.
        let mut tx = c.transaction().map_err(to_store)?;
        tx.batch_execute("LOCK TABLE otp_tokens IN SHARE MODE")
            .map_err(to_store)?;
        let retired = tx
            .execute(
                "DELETE FROM otp_data_keys WHERE id <> $1
                 AND NOT EXISTS (SELECT 1 FROM otp_tokens WHERE otp_tokens.data_key = otp_data_keys.id)",
                &[&new_id],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        self.reload_keys(&mut *c)?;
        Ok(Rekeyed {
            data_key: new_id,
            resealed,
            retired,
        })
    }

    /// The ids of the key-encryption keys that wrap this store's data
    /// keys: a KEK not listed may be retired.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the database cannot be read.
    pub fn kek_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn()?;
        Ok(read_data_keys(&mut *c)?
            .into_iter()
            .map(|(_, kek, _)| kek)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect())
    }
}

fn read_data_keys(c: &mut impl GenericClient) -> Result<Vec<DataKeyRow>, StoreError> {
    c.query(
        "SELECT id, kek_id, wrapped FROM otp_data_keys ORDER BY id",
        &[],
    )
    .map_err(to_store)?
    .iter()
    .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
    .collect()
}

fn insert_data_key(
    tx: &mut postgres::Transaction<'_>,
    id: i64,
    key: &NewDataKey,
) -> Result<(), postgres::Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    tx.execute(
        "INSERT INTO otp_data_keys (id, kek_id, wrapped, created) VALUES ($1, $2, $3, $4)",
        &[&id, &key.kek_id, &key.wrapped, &now],
    )?;
    Ok(())
}

/// Seals every plaintext secret (a database upgraded from version 3).
fn seal_plaintext(tx: &mut postgres::Transaction<'_>, keys: &DataKeys) -> Result<u64, OpenError> {
    let key = keys.current().map_err(OpenError::from_store)?;
    let rows = tx
        .query(
            "SELECT serial, secret FROM otp_tokens WHERE data_key IS NULL",
            &[],
        )
        .map_err(|e| open_err(&e))?;
    let mut sealed = 0u64;
    for r in &rows {
        let serial: String = r.try_get(0).map_err(|e| open_err(&e))?;
        let secret: Zeroizing<Vec<u8>> = Zeroizing::new(r.try_get(1).map_err(|e| open_err(&e))?);
        let s = keys
            .seal(key, &serial, &secret)
            .map_err(OpenError::from_store)?;
        tx.execute(
            "UPDATE otp_tokens SET secret = $1, data_key = $2 WHERE serial = $3",
            &[&s, &key, &serial],
        )
        .map_err(|e| open_err(&e))?;
        sealed += 1;
    }
    Ok(sealed)
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

fn col<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("a stored value has the wrong type: {e}")))
}

const USER_COLS: &str = "id, name, authority, token, id_lock, approval_password, transfer_password";
const TOKEN_COLS: &str = "serial, seed_serial, manufacturer, model, issuer, key_id, kind, step_seconds, t0, algorithm, digits, counter, time_drift, secret, status, assigned_to, floor, drift, failures, locked, data_key";

fn user_row(r: &Row) -> Result<UserRecord, StoreError> {
    UserRow {
        id: col(r, 0)?,
        name: col(r, 1)?,
        authority: col(r, 2)?,
        token: col(r, 3)?,
        id_lock: col(r, 4)?,
        approval_password: col(r, 5)?,
        transfer_password: col(r, 6)?,
    }
    .decode()
}

fn token_row(r: &Row) -> Result<TokenRead, StoreError> {
    Ok(TokenRead {
        serial: col(r, 0)?,
        seed_serial: col(r, 1)?,
        manufacturer: col(r, 2)?,
        model: col(r, 3)?,
        issuer: col(r, 4)?,
        key_id: col(r, 5)?,
        kind: col(r, 6)?,
        step_seconds: col(r, 7)?,
        t0: col(r, 8)?,
        algorithm: col(r, 9)?,
        digits: col(r, 10)?,
        counter: col(r, 11)?,
        time_drift: col(r, 12)?,
        sealed: col(r, 13)?,
        data_key: col(r, 20)?,
        status: col(r, 14)?,
        assigned_to: col(r, 15)?,
        state: StateCols {
            floor: col(r, 16)?,
            drift: col(r, 17)?,
            failures: col(r, 18)?,
            locked: col(r, 19)?,
        },
    })
}

fn audit_row(r: &Row) -> Result<AuditRecord, StoreError> {
    AuditRow {
        seq: col(r, 0)?,
        at: col(r, 1)?,
        target: col(r, 2)?,
        entry: col(r, 3)?,
        body: col(r, 4)?,
        prev_hash: col(r, 5)?,
        hash: col(r, 6)?,
    }
    .decode()
}

const AUDIT_COLS: &str = "seq, at, target, entry, body, prev_hash, hash";

/// Appends to the chain inside `tx`: the head row is locked until `tx`
/// ends, so appends from every server follow one another; the record is
/// sealed after the head under `key` and the head moved to it.
fn append(
    tx: &mut postgres::Transaction<'_>,
    entry: &AuditEntry,
    key: &AuditKey,
) -> Result<AuditRecord, StoreError> {
    let head = tx
        .query_opt(
            "SELECT seq, hash FROM otp_audit_head WHERE id = 1 FOR UPDATE",
            &[],
        )
        .map_err(to_store)?
        .ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
    let seq: i64 = col(&head, 0)?;
    let prev: Vec<u8> = col(&head, 1)?;
    let (seq, prev) = next_after(seq, &prev)?;
    let record = entry.clone().seal(seq, prev, key);
    let c = AuditCols::encode(&record);
    tx.execute(
        "INSERT INTO otp_audit (seq, at, target, entry, body, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &c.seq,
            &c.at,
            &c.target,
            &c.entry,
            &c.body,
            &c.prev_hash,
            &c.hash,
        ],
    )
    .map_err(|e| match e.code() {
        // The head names a record that is not the last one.
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => {
            corrupt("the audit chain's head is behind its records")
        }
        _ => db_err(&e),
    })?;
    tx.execute(
        "UPDATE otp_audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[&c.seq, &c.hash],
    )
    .map_err(to_store)?;
    Ok(record)
}

/// A user row as locked for a write: its token and its lock text.
struct Locked {
    token: Option<String>,
    id_lock: String,
}

/// Locks the rows of these users (`FOR UPDATE`, in byte order of their
/// IDs: every transaction locks users before tokens, each in a fixed
/// order, so two writers cannot deadlock) and returns them by ID; an
/// unknown ID is absent.
fn lock_users<'a>(
    tx: &mut postgres::Transaction<'_>,
    ids: impl IntoIterator<Item = &'a UserId>,
) -> Result<BTreeMap<String, Locked>, StoreError> {
    let mut ids: Vec<&str> = ids.into_iter().map(UserId::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = BTreeMap::new();
    for id in ids {
        if let Some(row) = tx
            .query_opt(
                "SELECT token, id_lock FROM otp_users WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .map_err(to_store)?
        {
            out.insert(
                id.to_owned(),
                Locked {
                    token: col(&row, 0)?,
                    id_lock: col(&row, 1)?,
                },
            );
        }
    }
    Ok(out)
}

/// Whether every change's user exists with the lock it expects.
fn locks_match(changes: &[LockChange], users: &BTreeMap<String, Locked>) -> bool {
    changes.iter().all(|c| {
        users
            .get(c.user().as_str())
            .is_some_and(|u| u.id_lock == encode_lock(c.expected()))
    })
}

/// Writes every change's new lock, in order (checked by the caller in the
/// same transaction, with the rows locked).
fn apply_locks(
    tx: &mut postgres::Transaction<'_>,
    changes: &[LockChange],
) -> Result<(), StoreError> {
    for c in changes {
        tx.execute(
            "UPDATE otp_users SET id_lock = $1 WHERE id = $2",
            &[&encode_lock(c.new_lock()), &c.user().as_str()],
        )
        .map_err(to_store)?;
    }
    Ok(())
}

impl Store for PgStore {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let mut c = self.conn()?;
        c.query_opt(
            &format!("SELECT {USER_COLS} FROM otp_users WHERE id = $1"),
            &[&id.as_str()],
        )
        .map_err(to_store)?
        .as_ref()
        .map(user_row)
        .transpose()
    }

    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(to_store)?;
        let total: i64 = tx
            .query_one("SELECT count(*) FROM otp_users", &[])
            .map_err(to_store)
            .and_then(|r| col(&r, 0))?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {USER_COLS} FROM otp_users ORDER BY id COLLATE \"C\" LIMIT $1 OFFSET $2"
                ),
                &[
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                    &i64::try_from(offset).unwrap_or(i64::MAX),
                ],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        Ok(UserPage {
            users: rows.iter().map(user_row).collect::<Result<_, _>>()?,
            total: usize::try_from(total).map_err(|_| corrupt("the user count is negative"))?,
        })
    }

    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        tx.execute(
            "INSERT INTO otp_users (id, name, authority, token, id_lock, approval_password, transfer_password)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, authority = excluded.authority,
                 approval_password = excluded.approval_password, transfer_password = excluded.transfer_password",
            &[
                &user.id.as_str(),
                &user.name,
                &authority_text(user.authority),
                &user.token.as_ref().map(SerialNumber::as_str),
                &encode_lock(&user.lock),
                &user.approval_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
                &user.transfer_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
            ],
        )
        .map_err(to_store)?;
        let record = append(&mut tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        let mut c = self.conn()?;
        let Some(row) = c
            .query_opt(
                &format!("SELECT {TOKEN_COLS} FROM otp_tokens WHERE serial = $1"),
                &[&serial.as_str()],
            )
            .map_err(to_store)?
        else {
            return Ok(None);
        };
        let row = token_row(&row)?;
        let secret = row.secret(&self.keys, || self.reload_keys(&mut *c))?;
        row.decode(&secret).map(Some)
    }

    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        // Seal under the newest data key, even one another server made.
        let newest: i64 = tx
            .query_one("SELECT coalesce(max(id), 0) FROM otp_data_keys", &[])
            .map_err(to_store)
            .and_then(|r| col(&r, 0))?;
        if newest != self.keys.current()? {
            self.reload_keys(&mut tx)?;
        }
        let stmt = tx
            .prepare(&format!(
                "INSERT INTO otp_tokens ({TOKEN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
                 ON CONFLICT (serial) DO NOTHING"
            ))
            .map_err(to_store)?;
        for t in &tokens {
            let row = TokenRow::encode(t, &self.keys)?;
            let inserted = tx
                .execute(
                    &stmt,
                    &[
                        &row.serial,
                        &row.seed_serial,
                        &row.manufacturer,
                        &row.model,
                        &row.issuer,
                        &row.key_id,
                        &row.kind,
                        &row.step_seconds,
                        &row.t0,
                        &row.algorithm,
                        &row.digits,
                        &row.counter,
                        &row.time_drift,
                        &row.sealed,
                        &row.status,
                        &row.assigned_to,
                        &row.state.floor,
                        &row.state.drift,
                        &row.state.failures,
                        &row.state.locked,
                        &row.data_key,
                    ],
                )
                .map_err(to_store)?;
            if inserted == 0 {
                // Dropping the transaction rolls every insert back.
                return Err(StoreError::Duplicate(format!(
                    "token {}",
                    t.serial.masked()
                )));
            }
        }
        let record = append(&mut tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        // The user's row first (locked until commit), then the token's:
        // the order every writer follows.
        let users = lock_users(
            &mut tx,
            std::iter::once(v.user()).chain(v.locks().iter().map(LockChange::user)),
        )?;
        let bound = users
            .get(v.user().as_str())
            .is_some_and(|u| u.token.as_deref() == Some(v.serial().as_str()));
        if !bound || !locks_match(v.locks(), &users) {
            // Nothing was written; dropping `tx` rolls it back.
            return Ok(false);
        }
        let (e, n) = (
            StateCols::encode(v.expected_state()),
            StateCols::encode(v.new_state()),
        );
        // The UPDATE locks the token's row: a concurrent writer waits, then
        // re-checks the WHERE on the row as it then is.
        let changed = tx
            .execute(
                "UPDATE otp_tokens SET floor = $1, drift = $2, failures = $3, locked = $4
                 WHERE serial = $5 AND status = 'assigned' AND assigned_to = $6
                   AND floor = $7 AND drift = $8 AND failures = $9 AND locked = $10",
                &[
                    &n.floor,
                    &n.drift,
                    &n.failures,
                    &n.locked,
                    &v.serial().as_str(),
                    &v.user().as_str(),
                    &e.floor,
                    &e.drift,
                    &e.failures,
                    &e.locked,
                ],
            )
            .map_err(to_store)?;
        if changed != 1 {
            return Ok(false);
        }
        apply_locks(&mut tx, v.locks())?;
        for entry in v.audit() {
            append(&mut tx, entry, key)?;
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
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        let users = lock_users(&mut tx, changes.iter().map(LockChange::user))?;
        if let Some(c) = changes
            .iter()
            .find(|c| !users.contains_key(c.user().as_str()))
        {
            return Err(StoreError::NotFound(format!("user {}", c.user())));
        }
        if !locks_match(changes, &users) {
            return Ok(false);
        }
        apply_locks(&mut tx, changes)?;
        for entry in audit {
            append(&mut tx, entry, key)?;
        }
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_switch)?;
        // Lock the users' rows (the user's and every checked lock's), then
        // the tokens' rows in serial order (fixed orders, so two writers
        // cannot deadlock), then check; an early return drops `tx`, which
        // rolls back.
        let users = lock_users(
            &mut tx,
            std::iter::once(change.user()).chain(change.locks().iter().map(LockChange::user)),
        )?;
        let current = users
            .get(change.user().as_str())
            .ok_or(SwitchError::Conflict)?;
        let current = current
            .token
            .as_deref()
            .map(crate::codec::serial)
            .transpose()?;
        if current.as_ref() != change.expect_current() {
            return Err(SwitchError::Conflict);
        }
        let mut serials: Vec<&str> = change
            .revoke()
            .into_iter()
            .chain(change.bind().map(|(s, _)| s))
            .map(SerialNumber::as_str)
            .collect();
        serials.sort_unstable();
        let rows = tx
            .query(
                "SELECT serial, status, assigned_to FROM otp_tokens
                 WHERE serial = ANY($1) ORDER BY serial COLLATE \"C\" FOR UPDATE",
                &[&serials],
            )
            .map_err(to_switch)?;
        let status_of = |s: &SerialNumber| -> Result<Option<TokenStatus>, StoreError> {
            for r in &rows {
                let serial: String = col(r, 0)?;
                if serial == s.as_str() {
                    let status: String = col(r, 1)?;
                    let owner: Option<String> = col(r, 2)?;
                    return crate::codec::status(&status, owner.as_deref()).map(Some);
                }
            }
            Ok(None)
        };
        if let Some(old) = change.revoke()
            && status_of(old)? != Some(TokenStatus::Assigned(change.user().clone()))
        {
            return Err(SwitchError::Conflict);
        }
        if let Some((new, _)) = change.bind()
            && status_of(new)? != Some(TokenStatus::Unassigned)
        {
            return Err(SwitchError::Conflict);
        }
        if !locks_match(change.locks(), &users) {
            return Err(SwitchError::LockChanged);
        }
        if let Some(old) = change.revoke() {
            tx.execute(
                "UPDATE otp_tokens SET status = 'revoked', assigned_to = NULL WHERE serial = $1",
                &[&old.as_str()],
            )
            .map_err(to_switch)?;
        }
        if let Some((new, state)) = change.bind() {
            let s = StateCols::encode(state);
            tx.execute(
                "UPDATE otp_tokens SET status = 'assigned', assigned_to = $1,
                     floor = $2, drift = $3, failures = $4, locked = $5
                 WHERE serial = $6",
                &[
                    &change.user().as_str(),
                    &s.floor,
                    &s.drift,
                    &s.failures,
                    &s.locked,
                    &new.as_str(),
                ],
            )
            .map_err(to_switch)?;
        }
        tx.execute(
            "UPDATE otp_users SET token = $1 WHERE id = $2",
            &[
                &change.bind().map(|(s, _)| s.as_str()),
                &change.user().as_str(),
            ],
        )
        .map_err(to_switch)?;
        apply_locks(&mut tx, change.locks())?;
        let record = append(&mut tx, change.audit(), key)?;
        tx.commit().map_err(to_switch)?;
        Ok(record)
    }

    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        let record = append(&mut tx, entry, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut c = self.conn()?;
        // The indexed copies of `target` and `at` in SQL (clamped times: a
        // superset); each row read is checked against its record (a copy
        // that does not match is `Corrupt`), the exact filter after.
        let rows = match user {
            Some(u) => c.query(
                &format!(
                    "SELECT {AUDIT_COLS} FROM otp_audit
                     WHERE target = $1 AND at BETWEEN $2 AND $3 ORDER BY seq"
                ),
                &[&u.as_str(), &time_key(from), &time_key(to)],
            ),
            None => c.query(
                &format!(
                    "SELECT {AUDIT_COLS} FROM otp_audit WHERE at BETWEEN $1 AND $2 ORDER BY seq"
                ),
                &[&time_key(from), &time_key(to)],
            ),
        }
        .map_err(to_store)?;
        let records = rows.iter().map(audit_row).collect::<Result<Vec<_>, _>>()?;
        Ok(records
            .into_iter()
            .filter(|r| user.is_none_or(|u| r.entry.target.as_ref() == Some(u)))
            .filter(|r| (from..=to).contains(&r.entry.at))
            .collect())
    }

    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let mut c = self.conn()?;
        c.query(
            &format!("SELECT {AUDIT_COLS} FROM otp_audit ORDER BY seq"),
            &[],
        )
        .map_err(to_store)?
        .iter()
        .map(audit_row)
        .collect()
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let mut c = self.conn()?;
        let head = c
            .query_opt("SELECT seq, hash FROM otp_audit_head WHERE id = 1", &[])
            .map_err(to_store)?
            .ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
        let seq: i64 = col(&head, 0)?;
        let hash: Vec<u8> = col(&head, 1)?;
        crate::codec::audit_head(seq, &hash)
    }

    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        tx.execute(
            "DELETE FROM otp_nonces WHERE expires_at < $1",
            &[&time_key(now)],
        )
        .map_err(to_store)?;
        let inserted = tx
            .execute(
                "INSERT INTO otp_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING",
                &[&nonce.as_slice(), &time_key(expires_at)],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        Ok(inserted == 1)
    }
}
