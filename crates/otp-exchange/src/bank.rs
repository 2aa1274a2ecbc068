//! The bank: the policy's entry point. It owns the store, the credential
//! check, the clock, the settings and the keys, and offers the manual's
//! screens as methods: the selection list, login, the exchange and
//! registration flows (see [`crate::exchange`]), unregistration, ID lock
//! and unlock, the branch's procedures, user administration, and the audit
//! trail. The store is reached only through these methods (and the
//! read-only [`Records`]), so every change to it is one the policy decided
//! and audited.

use core::fmt;
use std::sync::Arc;

use otp_provision::Clock;
use zeroize::Zeroizing;

use crate::{
    AuditKey, Credentials, HashCost, PasswordKind, Store, StoreError, StoredHashes, UserId,
};

mod admin;
mod api_keys;
mod branch;
mod policy;
mod records;
mod screens;
mod sealed;
mod sign_in;
mod signing;
mod steps;
mod usage;

pub use api_keys::{ApiKeyCreateError, MAX_API_KEY_NAME_CHARS, split_api_key};
pub use branch::BranchAuthorization;
pub use policy::Policy;
pub use records::{AuditCheckError, Records, UserList, UserRow};
pub use sealed::MAX_SEAL_LABEL;
pub use sign_in::SignedIn;
pub use signing::{SIGNING_COUNTER_WINDOW, TransactionSigned};
pub(crate) use steps::{ApprovalVerified, CodeAccepted, Fail, Source, random_bytes};
pub use steps::{CurrentTokenVerified, LoginTimes};
pub use usage::UsageModeSet;

/// The bank: store, credential check, clock, policy, session key and
/// audit key.
pub struct Bank<S: Store, C: Credentials = StoredHashes> {
    pub(crate) store: S,
    pub(crate) credentials: C,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: Policy,
    pub(crate) session_key: Zeroizing<[u8; 32]>,
    pub(crate) audit_key: AuditKey,
    pub(crate) hash_cost: HashCost,
    /// The hash an unknown ID's login password is verified against, made
    /// on first use at `hash_cost`.
    pub(crate) dummy_hash: std::sync::OnceLock<crate::PasswordHash>,
    /// The bank's name: the issuer of its software tokens' `otpauth://`
    /// URIs.
    pub(crate) bank_name: Option<String>,
}

impl<S: Store, C: Credentials> fmt::Debug for Bank<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bank")
            .field("store", &self.store)
            .field("credentials", &self.credentials)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Bank<S, StoredHashes> {
    /// A bank on `store` and `clock`, checking passwords against the hashes
    /// on the user records, with the default policy, a random session key
    /// and a random audit key. Sessions then survive only within this
    /// process and the audit chain verifies only in it: a bank on a durable
    /// store gives every server the same keys with
    /// [`Bank::with_session_key`] and [`Bank::with_audit_key`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use otp_exchange::{Bank, MemoryStore};
    /// let bank = Bank::new(MemoryStore::new(), Arc::new(otp_provision::SystemClock))?;
    /// assert_eq!(bank.policy().max_wrong_entries, 6);
    /// # Ok::<(), otp_exchange::StoreError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Crypto`] if the operating system's random number
    /// generator fails.
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let mut key = Zeroizing::new([0u8; 32]);
        random_bytes(&mut key[..])?;
        Ok(Self {
            store,
            credentials: StoredHashes,
            clock,
            policy: Policy::default(),
            session_key: key,
            audit_key: AuditKey::random()?,
            hash_cost: HashCost::RECOMMENDED,
            dummy_hash: std::sync::OnceLock::new(),
            bank_name: None,
        })
    }
}

impl<S: Store, C: Credentials> Bank<S, C> {
    /// The same bank with another credential check.
    pub fn with_credentials<C2: Credentials>(self, credentials: C2) -> Bank<S, C2> {
        Bank {
            store: self.store,
            credentials,
            clock: self.clock,
            policy: self.policy,
            session_key: self.session_key,
            audit_key: self.audit_key,
            hash_cost: self.hash_cost,
            dummy_hash: self.dummy_hash,
            bank_name: self.bank_name,
        }
    }

    /// The same bank with its name, the issuer its software tokens'
    /// `otpauth://` URIs name (what the authenticator app shows above the
    /// code); [`crate::exchange::DEFAULT_ISSUER`] without one.
    #[must_use]
    pub fn with_bank_name(mut self, name: &str) -> Self {
        self.bank_name = Some(name.to_owned());
        self
    }

    /// The same bank with another policy.
    #[must_use]
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The same bank with a fixed session key, shared by all servers so a
    /// session started on one can continue on another.
    #[must_use]
    pub fn with_session_key(mut self, key: [u8; 32]) -> Self {
        self.session_key = Zeroizing::new(key);
        self
    }

    /// The same bank with the audit chain's key (from a key file shared by
    /// every server of the bank; never stored in the database).
    #[must_use]
    pub fn with_audit_key(mut self, key: AuditKey) -> Self {
        self.audit_key = key;
        self
    }

    /// The same bank hashing new passwords at `cost`
    /// ([`HashCost::RECOMMENDED`] by default).
    #[must_use]
    pub fn with_hash_cost(mut self, cost: HashCost) -> Self {
        self.hash_cost = cost;
        self.dummy_hash = std::sync::OnceLock::new();
        self
    }

    /// A read-only view of the store: users, token statuses and the audit
    /// trail, never a secret. Every change goes through the policy.
    pub const fn records(&self) -> Records<'_, S> {
        Records { store: &self.store }
    }

    /// Which password confirms this user's operations (an exchange,
    /// registration, unregistration, unlock): the approval password
    /// (承認用パスワード), or for an administrator who has not registered
    /// one, the per-transfer confirmation password
    /// (都度振込送信確認用パスワード), as the bank's [`Credentials`] decide;
    /// `None` for an unknown user or one with neither. Screens label the
    /// password field with it. No hash leaves the bank.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn confirming_password(&self, user: &UserId) -> Result<Option<PasswordKind>, StoreError> {
        Ok(self
            .store
            .user(user)?
            .and_then(|record| self.credentials.required(&record)))
    }

    /// The policy.
    pub const fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The bank's clock, now.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Verifies the whole audit chain under the bank's audit key, and that
    /// it ends at the stored head. Returns the number of records.
    ///
    /// # Errors
    ///
    /// [`AuditCheckError::Chain`] naming the first record that does not
    /// verify (edited, removed, reordered, truncated, written without the
    /// key); [`AuditCheckError::Store`] if the store fails.
    pub fn verify_audit(&self) -> Result<u64, AuditCheckError> {
        let head = self.store.audit_head().map_err(AuditCheckError::Store)?;
        let chain = self.store.audit_chain().map_err(AuditCheckError::Store)?;
        crate::verify_chain(&chain, &self.audit_key, head).map_err(AuditCheckError::Chain)?;
        Ok(head.map_or(0, |h| h.seq))
    }
}
