//! What the test files share: temporary directories, fresh stores for
//! each backend, and a wrapper that keeps a store's resources (its
//! directory, its PostgreSQL schema) alive as long as the store.
#![allow(dead_code, reason = "each test file uses part of it")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use otp_core::TokenState;
use otp_exchange::{
    AuditEntry, AuditRecord, IdLock, Store, StoreError, Switch, SwitchError, TokenEntry, UserId,
    UserPage, UserRecord,
};
use otp_store::{SqliteOptions, SqliteStore};
use otp_token::SerialNumber;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A unique number in this process.
pub fn unique() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "otp-store-test-{}-{}-{nanos}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store with what must outlive it (dropped after the store).
pub struct Held<S> {
    pub store: S,
    _guard: Box<dyn Send + Sync>,
}

impl<S> Held<S> {
    pub fn new(store: S, guard: impl Send + Sync + 'static) -> Self {
        Self {
            store,
            _guard: Box::new(guard),
        }
    }
}

impl<S: core::fmt::Debug> core::fmt::Debug for Held<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.store.fmt(f)
    }
}

impl<S: Store> Store for Held<S> {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.store.user(id)
    }
    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        self.store.users(offset, limit)
    }
    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.store.put_user(user)
    }
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        self.store.token(serial)
    }
    fn add_tokens(&self, tokens: Vec<TokenEntry>) -> Result<(), StoreError> {
        self.store.add_tokens(tokens)
    }
    fn update_token_state(
        &self,
        serial: &SerialNumber,
        expected: &TokenState,
        new: &TokenState,
    ) -> Result<bool, StoreError> {
        self.store.update_token_state(serial, expected, new)
    }
    fn record_verification(
        &self,
        serial: &SerialNumber,
        expected: &TokenState,
        new: &TokenState,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.store.record_verification(serial, expected, new, audit)
    }
    fn update_lock(
        &self,
        user: &UserId,
        expected: &IdLock,
        new: &IdLock,
    ) -> Result<bool, StoreError> {
        self.store.update_lock(user, expected, new)
    }
    fn switch(&self, change: &Switch) -> Result<AuditRecord, SwitchError> {
        self.store.switch(change)
    }
    fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        self.store.append_audit(entry)
    }
    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit(user, from, to)
    }
    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit_chain()
    }
    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.store.consume_nonce(nonce, expires_at, now)
    }
}

/// A fresh SQLite store in its own temporary directory. Tests use
/// `Durability::Normal`: process crashes lose nothing either way, and
/// the suite runs faster without an fsync per commit.
pub fn sqlite() -> Held<SqliteStore> {
    sqlite_with(SqliteOptions::default().with_durability(otp_store::Durability::Normal))
}

pub fn sqlite_with(options: SqliteOptions) -> Held<SqliteStore> {
    let dir = TempDir::new();
    let store = SqliteStore::open_with(dir.path().join("bank.db"), options).unwrap();
    Held::new(store, dir)
}

/// The URL of the test PostgreSQL server, or a panic saying how to start one.
pub fn pg_url() -> String {
    match std::env::var("OTP_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "OTP_TEST_PG_URL is not set: the PostgreSQL tests need a server. Start a throwaway one with \
             `eval \"$(bash scripts/pg-test-server.sh start)\"` (it installs Debian's postgresql if \
             needed and prints the export line), then run `cargo test -p otp-store -- --ignored`"
        ),
    }
}

#[cfg(feature = "postgres")]
pub mod pg {
    use otp_store::{PgOptions, PgStore};

    use super::{Held, pg_url, unique};

    /// Drops a test schema when the store is done with it.
    pub struct DropSchema {
        url: String,
        schema: String,
    }

    impl Drop for DropSchema {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
            }
        }
    }

    /// A fresh schema name for one test.
    pub fn schema() -> String {
        format!("otp_test_{}_{}", std::process::id(), unique())
    }

    /// A store on `schema` (created if missing), with a pool of `size`.
    pub fn store_on(schema: &str, size: u32) -> PgStore {
        PgStore::connect(
            &pg_url(),
            PgOptions::default()
                .with_schema(schema)
                .with_pool_size(size),
        )
        .unwrap()
    }

    /// A fresh PostgreSQL store in its own schema, dropped afterwards.
    pub fn fresh() -> Held<PgStore> {
        let schema = schema();
        let store = store_on(&schema, 4);
        Held::new(
            store,
            DropSchema {
                url: pg_url(),
                schema,
            },
        )
    }

    /// A guard that drops `schema` (for tests that open several pools).
    pub fn drop_later(schema: &str) -> DropSchema {
        DropSchema {
            url: pg_url(),
            schema: schema.to_owned(),
        }
    }
}
