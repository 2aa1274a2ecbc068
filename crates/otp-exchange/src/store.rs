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

use crate::{AuditEntry, AuditRecord, Authority, PasswordHash, UserId};

/// The consecutive-failure lock on a user ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdLock {
    /// Consecutive wrong entries (codes and passwords).
    pub failures: u32,
    /// Locked: every operation on or by this ID is refused until an
    /// administrator unlocks it.
    pub locked: bool,
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
/// unregistration or the branch's revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    /// Whose binding changes.
    pub user: UserId,
    /// The binding the change was decided on; if the user's token is no
    /// longer exactly this, the switch is a [`SwitchError::Conflict`].
    pub expect_current: Option<SerialNumber>,
    /// The token to revoke (the old one), which must be assigned to `user`.
    pub revoke: Option<SerialNumber>,
    /// The token to bind, which must be unassigned, with its state after
    /// its first code was verified.
    pub bind: Option<(SerialNumber, TokenState)>,
    /// The audit entry, appended in the same transaction.
    pub audit: AuditEntry,
}

/// Why a [`Switch`] did not happen. Nothing was changed in either case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchError {
    /// The records changed since the decision (another exchange, a revoked
    /// or assigned token): start again.
    Conflict,
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
/// changes the user, both tokens and the audit chain in one transaction.
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
    /// (the token binding and the lock are kept for an existing user).
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    /// The inventory entry for `serial`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError>;

    /// Adds tokens to the inventory: all, or none if any serial exists.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] naming the first serial already present.
    fn add_tokens(&self, tokens: Vec<TokenEntry>) -> Result<(), StoreError>;

    /// Replaces a token's state if it is still `expected`; `Ok(false)` if
    /// it was not (another server verified a code first).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown serial.
    fn update_token_state(
        &self,
        serial: &SerialNumber,
        expected: &TokenState,
        new: &TokenState,
    ) -> Result<bool, StoreError>;

    /// Replaces a token's state if it is still `expected` and, in the same
    /// transaction, appends `audit`: a verification and its audit record
    /// are saved together or not at all. `Ok(false)` (nothing saved) if the
    /// state had changed.
    ///
    /// The default calls [`Store::update_token_state`] then
    /// [`Store::append_audit`], two transactions; durable stores override
    /// it with one.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown serial.
    fn record_verification(
        &self,
        serial: &SerialNumber,
        expected: &TokenState,
        new: &TokenState,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        if !self.update_token_state(serial, expected, new)? {
            return Ok(false);
        }
        self.append_audit(audit)?;
        Ok(true)
    }

    /// Replaces a user's lock if it is still `expected`; `Ok(false)` if not.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown user.
    fn update_lock(
        &self,
        user: &UserId,
        expected: &IdLock,
        new: &IdLock,
    ) -> Result<bool, StoreError>;

    /// Applies a [`Switch`] atomically, with its audit record.
    ///
    /// # Errors
    ///
    /// [`SwitchError::Conflict`] when the records no longer match what the
    /// switch expects; nothing is changed.
    fn switch(&self, change: &Switch) -> Result<AuditRecord, SwitchError>;

    /// Appends an audit entry to the chain.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError>;

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
