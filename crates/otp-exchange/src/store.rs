//! What the policy stores, and the trait a storage backend implements.
//! Every method is one atomic operation; the in-memory [`MemoryStore`]
//! is the reference implementation, and durable stores (SQLite,
//! PostgreSQL) implement the same trait.
//!
//! [`MemoryStore`]: crate::MemoryStore

use core::fmt;

use otp_provision::SerialNumber;

use crate::{
    ApiKeyRecord, AuditEntry, AuditHead, AuditKey, AuditRecord, PasswordHash, PasswordKind, UserId,
};

mod records;
pub use records::{
    Attempts, IdLock, LockChange, StateSlot, Switch, TokenEntry, TokenStatus, UsageMode,
    UserRecord, Verification,
};

/// Why a [`Switch`] did not happen. Nothing was changed in either case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchError {
    /// The records changed since the decision (another exchange, a revoked
    /// or assigned token): start again.
    Conflict,
    /// A lock the switch checks changed since it was read (an attempt was
    /// reserved or settled, or the ID locked): read it again and decide
    /// again.
    LockChanged,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for SwitchError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A storage failure. Its text never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend is unavailable or failed (I/O, connection, lock poisoned).
    Unavailable(String),
    /// Stored data is not valid (a bad file, a foreign schema).
    Corrupt(String),
    /// A record to insert exists already.
    Duplicate(String),
    /// A record to change does not exist.
    NotFound(String),
    /// A cryptographic operation failed (password hashing).
    Crypto(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(m) => write!(f, "storage unavailable: {m}"),
            Self::Corrupt(m) => write!(f, "stored data is not valid: {m}"),
            Self::Duplicate(m) => write!(f, "already exists: {m}"),
            Self::NotFound(m) => write!(f, "not found: {m}"),
            Self::Crypto(m) => write!(f, "{m}"),
        }
    }
}

impl core::error::Error for StoreError {}

/// A page of users for the selection screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// The users on this page, by ID.
    pub users: Vec<UserRecord>,
    /// How many users there are in all.
    pub total: usize,
}

/// Storage for the policy. Each method is atomic on its own; `switch`
/// changes the user, both tokens, the checked locks and the audit chain in
/// one transaction. Every method that appends to the audit chain takes the
/// bank's [`AuditKey`], which is never stored.
///
/// A synchronous trait: an async server calls it from a blocking task
/// (`tokio::task::spawn_blocking`) or through a connection pool.
pub trait Store: Send + Sync + fmt::Debug {
    /// The user with this ID.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError>;

    /// Users in ID order, `limit` from `offset`, and the total.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError>;

    /// Creates a user with their password hashes, or changes an existing
    /// user's name and authority only (their token binding, lock, password
    /// hashes, last login and usage mode are kept: passwords change only
    /// through [`Store::replace_password`]), and appends `audit`, in one
    /// transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError>;

    /// Replaces one of a user's password hashes, and only it
    /// (compare-and-set): the hash of `kind` becomes `new` (`None` removes
    /// it) and `audit` is appended, in one transaction, if it is still
    /// `expected`; `Ok(false)`, nothing saved, if it is not. The user's
    /// other passwords, name, token and lock are not written, so a change
    /// of another kind made meanwhile is kept.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown user; [`StoreError`] if the
    /// backend fails.
    fn replace_password(
        &self,
        user: &UserId,
        kind: PasswordKind,
        expected: Option<&PasswordHash>,
        new: Option<&PasswordHash>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError>;

    /// The inventory entry for `serial`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError>;

    /// The user with this ID and the inventory entry of the token bound
    /// to them (`None` for a user without one, or whose bound serial is
    /// not in the inventory), read together: the first read of a login.
    ///
    /// The default reads [`Store::user`] then [`Store::token`]. A backend
    /// that can read both in one snapshot (one read transaction, one
    /// statement, one round trip) should: it is half the reads of every
    /// login. Either way the pair is only a read: what a verification
    /// commits is decided by [`Store::record_verification`]'s
    /// compare-and-set, never by this.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn user_and_token(
        &self,
        id: &UserId,
    ) -> Result<Option<(UserRecord, Option<TokenEntry>)>, StoreError> {
        let Some(user) = self.user(id)? else {
            return Ok(None);
        };
        let token = match &user.token {
            Some(serial) => self.token(serial)?,
            None => None,
        };
        Ok(Some((user, token)))
    }

    /// Adds tokens to the inventory and appends `audit`: all, or nothing if
    /// any serial exists.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] naming the first serial already present.
    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError>;

    /// Saves a verified code ([`Verification`]): the token's state, the
    /// user's lock and the audit records in one transaction, if the token
    /// is still assigned to the user, the user's token is still this one,
    /// the state and the lock are still as expected. `Ok(false)` (nothing
    /// saved) otherwise.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn record_verification(
        &self,
        verification: &Verification,
        key: &AuditKey,
    ) -> Result<bool, StoreError>;

    /// Applies every [`LockChange`] and appends `audit` in one transaction,
    /// if every lock is still as expected; `Ok(false)` (nothing saved) if
    /// one is not.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown user.
    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError>;

    /// Applies a [`Switch`] atomically, with its audit record: the user's
    /// token is `expect_current`, the token to revoke is assigned to the
    /// user, the token to bind is unassigned, every lock is as expected.
    ///
    /// # Errors
    ///
    /// [`SwitchError::Conflict`] when the records no longer match what the
    /// switch expects, [`SwitchError::LockChanged`] when a lock does not;
    /// nothing is changed.
    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError>;

    /// Appends an audit entry to the chain.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError>;

    /// Audit records about `user` (or all, for `None`) with `from <= at <= to`,
    /// in chain order.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    /// The whole chain, for verification.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError>;

    /// The head of the chain as stored beside it (the last record's number
    /// and MAC), updated in the same transaction as every append; `None`
    /// before the first record.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError>;

    /// Marks a session nonce used. `Ok(true)` the first time, `Ok(false)`
    /// after. The store may forget nonces whose `expires_at` is before
    /// `now` (their sessions are refused as expired anyway).
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Whether the store answers now: one cheap read, for a server's
    /// readiness probe (`GET /readyz`). The default reads the audit
    /// chain's head ([`Store::audit_head`]); a store may answer with
    /// something cheaper.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend does not answer.
    fn ping(&self) -> Result<(), StoreError> {
        self.audit_head().map(|_| ())
    }

    /// Adds an API key's record and appends `audit`, in one transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] when a key has this id; [`StoreError`] if
    /// the backend fails.
    fn put_api_key(
        &self,
        record: &ApiKeyRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError>;

    /// The API key with this id.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Every API key, revoked ones included, by id.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Revokes the API key `id` at `at` and appends `audit`, in one
    /// transaction, if it exists and is not revoked; `Ok(false)`, nothing
    /// saved, otherwise.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError>;

    /// Records a use of the API key `id` at `at` (its `last_used_at`
    /// only moves forward). An unknown id changes nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError>;
}

/// A shared store is a store: several banks (servers) on one store, as in
/// tests of racing servers, or a bank and a monitoring task.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        (**self).user(id)
    }
    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        (**self).users(offset, limit)
    }
    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        (**self).put_user(user, audit, key)
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
        (**self).replace_password(user, kind, expected, new, audit, key)
    }
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        (**self).token(serial)
    }
    fn user_and_token(
        &self,
        id: &UserId,
    ) -> Result<Option<(UserRecord, Option<TokenEntry>)>, StoreError> {
        (**self).user_and_token(id)
    }
    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        (**self).add_tokens(tokens, audit, key)
    }
    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        (**self).record_verification(v, key)
    }
    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        (**self).update_locks(changes, audit, key)
    }
    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        (**self).switch(change, key)
    }
    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        (**self).append_audit(entry, key)
    }
    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        (**self).audit(user, from, to)
    }
    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        (**self).audit_chain()
    }
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        (**self).audit_head()
    }
    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        (**self).consume_nonce(nonce, expires_at, now)
    }
    fn ping(&self) -> Result<(), StoreError> {
        (**self).ping()
    }
    fn put_api_key(
        &self,
        record: &ApiKeyRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        (**self).put_api_key(record, audit, key)
    }
    fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        (**self).api_key(id)
    }
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        (**self).api_keys()
    }
    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        (**self).revoke_api_key(id, at, audit, key)
    }
    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError> {
        (**self).touch_api_key(id, at)
    }
}
