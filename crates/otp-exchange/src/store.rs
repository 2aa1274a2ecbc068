//! What the policy stores, and the trait a storage backend implements.
//! Every method is one atomic operation; the in-memory [`MemoryStore`]
//! is the reference implementation, and durable stores (SQLite,
//! PostgreSQL) implement the same trait.
//!
//! [`MemoryStore`]: crate::MemoryStore

use core::fmt;

use otp_core::TokenState;
use otp_token::{SeedRecord, SerialNumber};
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, AuditHead, AuditKey, AuditRecord, Authority, PasswordHash, UserId};

/// One kind of attempt counted against a user ID: wrong codes (against the
/// user whose token it is) or wrong approval passwords (against the
/// administrator who typed them).
///
/// Every attempt is *reserved* (`pending` incremented with compare-and-set)
/// before the code or password is evaluated, and *settled* afterwards, so
/// N concurrent guesses spend N of the limit, never more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attempts {
    /// Consecutive wrong entries settled since the last right one (or unlock).
    pub failures: u32,
    /// Attempts reserved and not yet settled (being evaluated now).
    pub pending: u32,
    /// When the latest reservation was made (Unix time): reservations left
    /// unsettled longer than `Policy::reservation_ttl` (a crashed server)
    /// are counted as wrong entries.
    pub pending_since: u64,
}

impl Attempts {
    /// Wrong entries plus attempts in flight: what a new attempt is
    /// measured against.
    #[must_use]
    pub const fn spent(&self) -> u32 {
        self.failures.saturating_add(self.pending)
    }
}

/// The lock on a user ID: the two attempt counters, the lock itself, and
/// how many times it was unlocked today.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdLock {
    /// Codes from this user's tokens (current or new).
    pub codes: Attempts,
    /// Approval or per-transfer passwords typed by this administrator.
    pub passwords: Attempts,
    /// Locked: every operation on or by this ID is refused until it is
    /// unlocked (by another administrator for a general user, by the
    /// branch for an administrator).
    pub locked: bool,
    /// The bank's calendar day (days since the epoch in the policy's time
    /// zone) of the latest unlock.
    pub unlock_day: u64,
    /// Unlocks on `unlock_day`, capped by `Policy::max_unlocks_per_day`.
    pub unlocks: u32,
    /// The generation of the user's token binding: every change of it
    /// (exchange, registration, unregistration, the branch's revocation or
    /// registration) adds one, in the same compare-and-set as the change.
    /// A flow that read it can tell that the binding changed, even if it
    /// changed back (none, a token, none again).
    pub binding: u64,
}

/// A compare-and-set of one user's [`IdLock`]: applied only if the lock is
/// still `expected`. Only this crate builds one (the policy decides every
/// lock change); stores read it through its accessors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockChange {
    user: UserId,
    expected: IdLock,
    new: IdLock,
}

impl LockChange {
    pub(crate) const fn new(user: UserId, expected: IdLock, new: IdLock) -> Self {
        Self {
            user,
            expected,
            new,
        }
    }

    /// A change for tests of a storage backend.
    #[cfg(feature = "test-util")]
    #[must_use]
    pub const fn for_test(user: UserId, expected: IdLock, new: IdLock) -> Self {
        Self::new(user, expected, new)
    }

    /// Whose lock.
    #[must_use]
    pub const fn user(&self) -> &UserId {
        &self.user
    }

    /// The lock the change was decided on.
    #[must_use]
    pub const fn expected(&self) -> &IdLock {
        &self.expected
    }

    /// The lock after the change.
    #[must_use]
    pub const fn new_lock(&self) -> &IdLock {
        &self.new
    }
}

/// One verified code from a user's registered token, to be saved in one
/// transaction: the token's new state, the locks' new values and the audit
/// records, applied only if the token is still assigned to the user (and
/// the user's token is still this one), its state is still
/// `expected_state`, and every lock is still as expected (the user's, and
/// the operator's when an administrator acts). Only this crate builds one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    user: UserId,
    serial: SerialNumber,
    expected_state: TokenState,
    new_state: TokenState,
    locks: Vec<LockChange>,
    audit: Vec<AuditEntry>,
}

impl Verification {
    pub(crate) const fn new(
        user: UserId,
        serial: SerialNumber,
        expected_state: TokenState,
        new_state: TokenState,
        locks: Vec<LockChange>,
        audit: Vec<AuditEntry>,
    ) -> Self {
        Self {
            user,
            serial,
            expected_state,
            new_state,
            locks,
            audit,
        }
    }

    /// A verification for tests of a storage backend.
    #[cfg(feature = "test-util")]
    #[must_use]
    pub const fn for_test(
        user: UserId,
        serial: SerialNumber,
        expected_state: TokenState,
        new_state: TokenState,
        locks: Vec<LockChange>,
        audit: Vec<AuditEntry>,
    ) -> Self {
        Self::new(user, serial, expected_state, new_state, locks, audit)
    }

    /// The user whose token it is.
    #[must_use]
    pub const fn user(&self) -> &UserId {
        &self.user
    }

    /// The token.
    #[must_use]
    pub const fn serial(&self) -> &SerialNumber {
        &self.serial
    }

    /// The state the code was verified against.
    #[must_use]
    pub const fn expected_state(&self) -> &TokenState {
        &self.expected_state
    }

    /// The state after verification (replay floor, drift).
    #[must_use]
    pub const fn new_state(&self) -> &TokenState {
        &self.new_state
    }

    /// The locks checked and changed with it: the user's (its wrong-code
    /// counter), and the operator's (unchanged, must still be unlocked)
    /// when an administrator acts.
    #[must_use]
    pub fn locks(&self) -> &[LockChange] {
        &self.locks
    }

    /// The audit records, appended in the same transaction.
    #[must_use]
    pub fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }
}

/// A customer of the bank, as the selection screen and the policy see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The customer ID, such as `W0001`.
    pub id: UserId,
    /// The user's name.
    pub name: String,
    /// Administrator or general user.
    pub authority: Authority,
    /// The active token, if one is registered.
    pub token: Option<SerialNumber>,
    /// The ID lock.
    pub lock: IdLock,
    /// The approval password's hash (administrators).
    pub approval_password: Option<PasswordHash>,
    /// The per-transfer confirmation password's hash (administrators).
    pub transfer_password: Option<PasswordHash>,
}

impl UserRecord {
    /// A user with no token, no passwords and an open lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Authority, UserId, UserRecord};
    /// let u = UserRecord::new(UserId::parse("W0005")?, "しんきん太郎", Authority::General);
    /// assert!(u.token.is_none());
    /// # Ok::<(), otp_exchange::UserIdError>(())
    /// ```
    #[must_use]
    pub fn new(id: UserId, name: &str, authority: Authority) -> Self {
        Self {
            id,
            name: name.to_owned(),
            authority,
            token: None,
            lock: IdLock::default(),
            approval_password: None,
            transfer_password: None,
        }
    }
}

/// Where a token of the inventory stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenStatus {
    /// In stock: may be registered.
    Unassigned,
    /// Registered to this user and valid.
    Assigned(UserId),
    /// Exchanged, unregistered or reported lost: never valid again.
    Revoked,
}

/// A token the bank knows from a seed file, with its status and
/// verification state.
#[derive(Debug)]
pub struct TokenEntry {
    /// Its 12-character serial.
    pub serial: SerialNumber,
    /// Secret and parameters, from the seed file.
    pub seed: SeedRecord,
    /// Unassigned, assigned or revoked.
    pub status: TokenStatus,
    /// Replay floor, drift, failures, lock (meaningful once assigned).
    pub state: TokenState,
}

impl TokenEntry {
    /// A new, unassigned entry from a seed record whose serial is a
    /// 12-character serial number; `None` otherwise.
    #[must_use]
    pub fn unassigned(seed: SeedRecord) -> Option<Self> {
        let serial = seed.serial_number()?;
        let state = seed.initial_state();
        Some(Self {
            serial,
            seed,
            status: TokenStatus::Unassigned,
            state,
        })
    }

    /// A copy, secret included (stores hand out copies).
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self {
            serial: self.serial,
            seed: self.seed.duplicate(),
            status: self.status.clone(),
            state: self.state,
        }
    }
}

/// One atomic change of a user's token binding: exchange, registration,
/// unregistration or the branch's revocation. Only this crate builds one;
/// stores read it through its accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    user: UserId,
    expect_current: Option<SerialNumber>,
    revoke: Option<SerialNumber>,
    bind: Option<(SerialNumber, TokenState)>,
    locks: Vec<LockChange>,
    audit: AuditEntry,
}

impl Switch {
    pub(crate) const fn new(
        user: UserId,
        expect_current: Option<SerialNumber>,
        revoke: Option<SerialNumber>,
        bind: Option<(SerialNumber, TokenState)>,
        locks: Vec<LockChange>,
        audit: AuditEntry,
    ) -> Self {
        Self {
            user,
            expect_current,
            revoke,
            bind,
            locks,
            audit,
        }
    }

    /// A switch for tests of a storage backend.
    #[cfg(feature = "test-util")]
    #[must_use]
    pub const fn for_test(
        user: UserId,
        expect_current: Option<SerialNumber>,
        revoke: Option<SerialNumber>,
        bind: Option<(SerialNumber, TokenState)>,
        locks: Vec<LockChange>,
        audit: AuditEntry,
    ) -> Self {
        Self::new(user, expect_current, revoke, bind, locks, audit)
    }

    /// Whose binding changes.
    #[must_use]
    pub const fn user(&self) -> &UserId {
        &self.user
    }

    /// The binding the change was decided on; if the user's token is no
    /// longer exactly this, the switch is a [`SwitchError::Conflict`].
    #[must_use]
    pub const fn expect_current(&self) -> Option<&SerialNumber> {
        self.expect_current.as_ref()
    }

    /// The token to revoke (the old one), which must be assigned to `user`.
    #[must_use]
    pub const fn revoke(&self) -> Option<&SerialNumber> {
        self.revoke.as_ref()
    }

    /// The token to bind, which must be unassigned, with its state after
    /// its first code was verified.
    #[must_use]
    pub const fn bind(&self) -> Option<&(SerialNumber, TokenState)> {
        self.bind.as_ref()
    }

    /// Locks that must still be as expected at commit (the operator's and
    /// the user's, unlocked), applied with the switch; if one is not, the
    /// switch is a [`SwitchError::LockChanged`].
    #[must_use]
    pub fn locks(&self) -> &[LockChange] {
        &self.locks
    }

    /// The audit entry, appended in the same transaction.
    #[must_use]
    pub const fn audit(&self) -> &AuditEntry {
        &self.audit
    }
}

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

    /// Creates or replaces a user's name, authority and password hashes
    /// (the token binding and the lock are kept for an existing user) and
    /// appends `audit`, in one transaction.
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

    /// The inventory entry for `serial`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError>;

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
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        (**self).token(serial)
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
}
