//! What the test files share: temporary directories, fresh stores for
//! each backend, and a wrapper that keeps a store's resources (its
//! directory, its PostgreSQL schema) alive as long as the store.
#![allow(dead_code, reason = "each test file uses part of it")]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use otp_exchange::{
    AuditEntry, AuditHead, AuditKey, AuditRecord, LockChange, PasswordHash, PasswordKind, Store,
    StoreError, Switch, SwitchError, TokenEntry, UserId, UserPage, UserRecord, Verification,
};
use otp_provision::SerialNumber;
use otp_store::{SqliteOptions, SqliteStore};

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
    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.store.put_user(user, audit, key)
    }
    fn replace_password(
        &self,
        user: &UserId,
        kind: PasswordKind,
        expected: Option<&PasswordHash>,
        new: Option<&PasswordHash>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        self.store
            .replace_password(user, kind, expected, new, audit, key)
    }
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        self.store.token(serial)
    }
    // Forwarded, so that a login's one read is the wrapped store's own
    // (SQLite's one transaction, PostgreSQL's one statement), not two.
    fn user_and_token(
        &self,
        id: &UserId,
    ) -> Result<Option<(UserRecord, Option<TokenEntry>)>, StoreError> {
        self.store.user_and_token(id)
    }
    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.store.add_tokens(tokens, audit, key)
    }
    fn record_verification(
        &self,
        verification: &Verification,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        self.store.record_verification(verification, key)
    }
    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        self.store.update_locks(changes, audit, key)
    }
    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        self.store.switch(change, key)
    }
    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        self.store.append_audit(entry, key)
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
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.store.audit_head()
    }
    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.store.consume_nonce(nonce, expires_at, now)
    }
    fn put_api_key(
        &self,
        record: &otp_exchange::ApiKeyRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.store.put_api_key(record, audit, key)
    }
    fn api_key(&self, id: &str) -> Result<Option<otp_exchange::ApiKeyRecord>, StoreError> {
        self.store.api_key(id)
    }
    fn api_keys(&self) -> Result<Vec<otp_exchange::ApiKeyRecord>, StoreError> {
        self.store.api_keys()
    }
    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        self.store.revoke_api_key(id, at, audit, key)
    }
    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError> {
        self.store.touch_api_key(id, at)
    }
}

/// The audit key of every test bank and store: fixed, so that banks on one
/// store (threads, processes, servers) write one verifiable chain.
pub fn key() -> AuditKey {
    AuditKey::new([0x4b; 32])
}

/// The sealer every test store uses: one fixed key-encryption key, so
/// that a second handle (or a child process) opens the same file.
pub fn sealer() -> std::sync::Arc<dyn otp_store::SecretSealer> {
    std::sync::Arc::new(otp_store::StaticSealer::new("test-kek", [0x5e; 32]))
}

/// A fresh SQLite store in its own temporary directory. Tests use
/// `Durability::Normal`: process crashes lose nothing either way, and
/// the suite runs faster without an fsync per commit.
pub fn sqlite() -> Held<SqliteStore> {
    sqlite_with(SqliteOptions::default().with_durability(otp_store::Durability::Normal))
}

pub fn sqlite_with(options: SqliteOptions) -> Held<SqliteStore> {
    let dir = TempDir::new();
    let store = SqliteStore::open_with(dir.path().join("bank.db"), options, sealer()).unwrap();
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
            if let Ok(mut c) = PgStore::connect_client(&self.url, &PgOptions::default()) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
            }
        }
    }

    /// One connection to the test server outside any store, with the
    /// URL's TLS rules (the test server refuses TCP in clear).
    pub fn client() -> postgres::Client {
        PgStore::connect_client(&pg_url(), &PgOptions::default()).unwrap()
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
            super::sealer(),
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

/// SHA-256 (FIPS 180-4), for the tests that write audit records the way
/// version 1 sealed them (unkeyed SHA-256), without another dependency.
/// `v1_seal` checks it against the standard's test vector, and
/// `otp_exchange::verify_chain` (with the `sha2` crate) checks every hash
/// it makes.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&(data.len() as u64 * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes(word.try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, x) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// A record as version 1 sealed it: the entry's JSON (as stored in the
/// `entry` column) and the unkeyed SHA-256 over `b"otp-exchange audit
/// v1\0"`, the number (big-endian), the previous hash and that JSON.
pub fn v1_seal(seq: u64, prev: &[u8; 32], entry: &AuditEntry) -> (String, [u8; 32]) {
    // FIPS 180-4's example "abc".
    assert_eq!(
        sha256(b"abc"),
        [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
            0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
            0xf2, 0x00, 0x15, 0xad
        ],
        "the test's SHA-256 is wrong"
    );
    let json = serde_json::to_string(entry).unwrap();
    let mut bytes = b"otp-exchange audit v1\0".to_vec();
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend_from_slice(prev);
    bytes.extend_from_slice(json.as_bytes());
    (json, sha256(&bytes))
}
