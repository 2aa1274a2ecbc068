//! The bank: the policy's entry point. It owns the store, the credential
//! check, the clock, the settings and the keys, and offers the seed's
//! screens as methods: the selection list, login, the exchange and
//! registration flows (see [`crate::exchange`]), unregistration, ID lock
//! and unlock, the branch's procedures, user administration, and the audit
//! trail. The store is reached only through these methods (and the
//! read-only [`Records`]), so every change to it is one the policy decided
//! and audited.

use core::fmt;
use std::sync::Arc;

use otp_core::{Algorithm, Code, Digits, Key, Params, Rejected, TokenState, Window, verify};
use otp_token::{Clock, Inventory, MaskedSerial, SerialNumber};
use zeroize::Zeroizing;

use crate::guard::{Counter, Outcome, lock_entry};
use crate::{
    Action, AuditEntry, AuditError, AuditHead, AuditKey, AuditRecord, Authority, Credentials,
    HashCost, InternalError, LockChange, Password, PasswordHash, PasswordKind, Refusal, Store,
    StoreError, StoredHashes, Switch, SwitchError, TokenEntry, TokenStatus, UserId, UserPage,
    UserRecord, Verification, Which, normalize_code,
};

/// How many times a compare-and-set is retried under contention before the
/// operation gives up with [`InternalError::Contention`].
const MAX_RETRIES: usize = 10_000;

/// The bank's rules, with the seed's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Consecutive wrong entries that lock an ID: 6. Counted separately
    /// for codes (against the user whose token it is) and for approval
    /// passwords (against the administrator who typed them). 0 is taken
    /// as 1: the lock cannot be switched off.
    pub max_wrong_entries: u32,
    /// The verification window of a registered token: ±1 step.
    pub window: Window,
    /// The window for a new token's first code: it may have drifted in
    /// storage. Default ±10 steps (±5 minutes).
    pub first_use_window: Window,
    /// How long an exchange may take from selection to confirmation:
    /// 600 s.
    pub session_ttl: u64,
    /// Whether an administrator may unregister a user's token outside an
    /// exchange (the seed's screen offers it): `true`. It needs a code from
    /// the token and the approval password, like an exchange.
    pub allow_unregister: bool,
    /// Online unlocks of one ID per calendar day: 3. Each unlock gives
    /// another `max_wrong_entries` guesses, so this caps guessing through
    /// an insider's unlocks; past it, the branch unlocks.
    pub max_unlocks_per_day: u32,
    /// The bank's time zone, for the calendar day of the unlock cap:
    /// +9 h (JST, the seed's bank).
    pub utc_offset_seconds: i64,
    /// How long a reserved attempt may stay unsettled before it counts as
    /// a wrong entry (a server died while evaluating it): 60 s.
    pub reservation_ttl: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_wrong_entries: 6,
            window: Window::new(1, 1),
            first_use_window: Window::new(10, 10),
            session_ttl: 600,
            allow_unregister: true,
            max_unlocks_per_day: 3,
            utc_offset_seconds: 9 * 3600,
            reservation_ttl: 60,
        }
    }
}

/// One row of the selection screen (選択).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// Customer ID.
    pub id: UserId,
    /// User name.
    pub name: String,
    /// Administrator or general user.
    pub authority: Authority,
    /// The token serial, masked; `None` shows as `-`.
    pub serial: Option<MaskedSerial>,
    /// Registration status: `true` for 登録完了 (registered).
    pub registered: bool,
    /// Whether the ID is locked.
    pub locked: bool,
}

/// A page of the selection screen: "`first` to `last` of `total`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserList {
    /// The rows on this page.
    pub rows: Vec<UserRow>,
    /// 1-based position of the first row (0 when empty).
    pub first: usize,
    /// 1-based position of the last row (0 when empty).
    pub last: usize,
    /// All users.
    pub total: usize,
}

/// A branch officer's authority to act on a written request (お取引店舗への届出).
/// The bank's branch system makes one after checking the request in
/// person; the online screens cannot. Every use is audited with the
/// officer and the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchAuthorization {
    /// The officer's staff ID.
    pub officer: String,
    /// The written request's reference number.
    pub request: String,
}

impl BranchAuthorization {
    /// An officer's authority on one written request.
    #[must_use]
    pub fn new(officer: &str, request: &str) -> Self {
        Self {
            officer: officer.to_owned(),
            request: request.to_owned(),
        }
    }

    /// The operator named in audit records: `branch:OFFICER:REQUEST`.
    fn operator(&self) -> String {
        format!("branch:{}:{}", self.officer, self.request)
    }
}

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
    /// let bank = Bank::new(MemoryStore::new(), Arc::new(otp_token::SystemClock))?;
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
        })
    }
}

/// A read-only view of the bank's store: what screens and reports show,
/// never a token secret or a password hash.
#[derive(Debug)]
pub struct Records<'a, S: Store> {
    store: &'a S,
}

impl<S: Store> Records<'_, S> {
    /// The user with this ID, without password hashes.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.store.user(id)?.map(|mut u| {
            u.approval_password = None;
            u.transfer_password = None;
            u
        }))
    }

    /// Users in ID order, without password hashes.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        let mut page = self.store.users(offset, limit)?;
        for u in &mut page.users {
            u.approval_password = None;
            u.transfer_password = None;
        }
        Ok(page)
    }

    /// A token's status (unassigned, assigned, revoked), if the bank has it.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn token_status(&self, serial: &SerialNumber) -> Result<Option<TokenStatus>, StoreError> {
        Ok(self.store.token(serial)?.map(|t| t.status))
    }

    /// A token's verification state (replay floor, drift).
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn token_state(&self, serial: &SerialNumber) -> Result<Option<TokenState>, StoreError> {
        Ok(self.store.token(serial)?.map(|t| t.state))
    }

    /// The whole audit chain.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit_chain()
    }

    /// The stored head of the audit chain.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.store.audit_head()
    }
}

/// Why the audit trail could not be shown as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditCheckError {
    /// The store failed or holds records that cannot be read.
    Store(StoreError),
    /// The chain does not verify.
    Chain(AuditError),
}

impl fmt::Display for AuditCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "{e}"),
            Self::Chain(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for AuditCheckError {}

/// A refusal, and whether its audit record was written already (in the
/// transaction that settled the attempt).
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) refusal: Refusal,
    pub(crate) audited: bool,
}

impl Fail {
    pub(crate) const fn audited(refusal: Refusal) -> Self {
        Self {
            refusal,
            audited: true,
        }
    }
}

impl From<Refusal> for Fail {
    fn from(refusal: Refusal) -> Self {
        Self {
            refusal,
            audited: false,
        }
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Refusal::from(e).into()
    }
}

impl From<InternalError> for Fail {
    fn from(e: InternalError) -> Self {
        Refusal::from(e).into()
    }
}

/// Where the code to verify comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    /// The token registered to the user: it must still be theirs when the
    /// verification commits, and its new state is saved with it.
    Bound(SerialNumber),
    /// A token in stock, to be registered: it must be unassigned; its new
    /// state is saved by the switch that binds it.
    Stock(SerialNumber),
}

/// A code accepted: the token, where it matched, and the token's state
/// after it.
#[derive(Debug)]
pub(crate) struct CodeAccepted {
    pub(crate) serial: SerialNumber,
    pub(crate) position: u64,
    pub(crate) state: TokenState,
}

/// The one table from the core's verdict to a refusal and to how it
/// counts against the user's ID. Login, screen 4 and screen 5 all use it.
pub(crate) fn judge(which: Which, verdict: Result<u64, Rejected>) -> (Option<Refusal>, Outcome) {
    match verdict {
        Ok(_) => (None, Outcome::Right),
        Err(Rejected::Invalid | Rejected::DigitsMismatch) => {
            (Some(Refusal::WrongCode(which)), Outcome::Wrong)
        }
        // Typing the last accepted code again is not a guess; an older
        // code is.
        Err(Rejected::Replayed {
            repeat_of_last: true,
        }) => (Some(Refusal::Replayed(which)), Outcome::Neutral),
        Err(Rejected::Replayed {
            repeat_of_last: false,
        }) => (Some(Refusal::Replayed(which)), Outcome::Wrong),
        // The policy runs the core without its own lock (one lock
        // authority): a token state locked by an older version is ignored.
        Err(Rejected::Locked) => (Some(Refusal::UserLocked), Outcome::Neutral),
        Err(Rejected::Clock(e)) => (
            Some(Refusal::Internal(InternalError::Clock(e))),
            Outcome::Neutral,
        ),
        Err(Rejected::CounterExhausted) => (
            Some(Refusal::Internal(InternalError::CounterExhausted)),
            Outcome::Neutral,
        ),
        // `Rejected` is non-exhaustive: a verdict this version does not
        // know refuses without counting.
        Err(_) => (
            Some(Refusal::Internal(InternalError::UnknownVerdict)),
            Outcome::Neutral,
        ),
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
        }
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
    pub const fn with_hash_cost(mut self, cost: HashCost) -> Self {
        self.hash_cost = cost;
        self
    }

    /// A read-only view of the store: users, token statuses and the audit
    /// trail, never a secret. Every change goes through the policy.
    pub const fn records(&self) -> Records<'_, S> {
        Records { store: &self.store }
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

    // ----- the branch and user administration -----

    /// Creates a user (or renames an existing one, keeping their token,
    /// lock and passwords): the branch's act on a written application.
    /// Audited.
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] if the store fails.
    pub fn enroll_user(
        &self,
        authorization: &BranchAuthorization,
        id: &UserId,
        name: &str,
        authority: Authority,
    ) -> Result<(), Refusal> {
        let mut record = match self.store.user(id)? {
            Some(existing) => existing,
            None => UserRecord::new(id.clone(), name, authority),
        };
        record.name = name.to_owned();
        record.authority = authority;
        let mut audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(id),
            Action::UserUpdate,
        );
        audit.reason = Some(match authority {
            Authority::Administrator => "enrolled:administrator".into(),
            Authority::General => "enrolled:general".into(),
        });
        self.store.put_user(&record, &audit, &self.audit_key)?;
        Ok(())
    }

    /// Sets a user's approval or per-transfer confirmation password (hashed
    /// with Argon2id at the bank's cost): the branch's act. Audited; the
    /// password is never stored or logged.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`]; [`Refusal::Internal`] if hashing or the
    /// store fails.
    pub fn set_password(
        &self,
        authorization: &BranchAuthorization,
        id: &UserId,
        kind: PasswordKind,
        password: &Password,
    ) -> Result<(), Refusal> {
        let hash = PasswordHash::create(password, self.hash_cost)?;
        self.set_password_hash(authorization, id, kind, Some(hash))
    }

    /// A user changes their own approval or per-transfer confirmation
    /// password (the self-service change, asked twice by the screen):
    /// `current` is evaluated as any password is — one attempt reserved on
    /// the user's ID first, a wrong one counted (six lock the ID, and a
    /// locked ID's password is not evaluated), only a right one clears the
    /// count. `new` must have [`crate::MIN_PASSWORD_CHARS`] characters and
    /// differ from `current`; that is checked before any attempt is spent.
    /// The new hash is stored with its audit record (`<kind>_password_changed`)
    /// in one transaction; neither password is stored or logged.
    ///
    /// With a [`Credentials`] other than [`crate::StoredHashes`], `current`
    /// is checked by that service and the stored hash is changed.
    ///
    /// # Errors
    ///
    /// [`Refusal::WeakPassword`], [`Refusal::UnknownUser`],
    /// [`Refusal::OperatorLocked`] (the ID is locked, now or by this
    /// entry), [`Refusal::NoPasswordRegistered`] (none of `kind`),
    /// [`Refusal::WrongPassword`], [`Refusal::Internal`].
    pub fn change_password(
        &self,
        user: &UserId,
        kind: PasswordKind,
        current: &Password,
        new: &Password,
    ) -> Result<(), Refusal> {
        let audit = AuditEntry::new(self.now(), user.as_str(), Some(user), Action::UserUpdate);
        let result = (|| {
            if !crate::password::acceptable_change(current, new) {
                return Err(Refusal::WeakPassword.into());
            }
            let record = self.reserve(user, Counter::Passwords, &Refusal::OperatorLocked)?;
            let registered = match kind {
                PasswordKind::Approval => record.approval_password.is_some(),
                PasswordKind::PerTransfer => record.transfer_password.is_some(),
            };
            if !registered {
                self.settle(user, Counter::Passwords, Outcome::Neutral, None)?;
                return Err(Refusal::NoPasswordRegistered.into());
            }
            let right = match self.credentials.check(&record, kind, current) {
                Ok(right) => right,
                Err(e) => {
                    self.settle(user, Counter::Passwords, Outcome::Neutral, None)?;
                    return Err(e.into());
                }
            };
            if !right {
                let refused = audit.clone().refused(Refusal::WrongPassword.reason_code());
                let locked =
                    self.settle(user, Counter::Passwords, Outcome::Wrong, Some(&refused))?;
                return Err(Fail::audited(if locked {
                    Refusal::OperatorLocked
                } else {
                    Refusal::WrongPassword
                }));
            }
            let hash = match PasswordHash::create(new, self.hash_cost) {
                Ok(hash) => hash,
                Err(e) => {
                    self.settle(user, Counter::Passwords, Outcome::Neutral, None)?;
                    return Err(e.into());
                }
            };
            self.settle(user, Counter::Passwords, Outcome::Right, None)?;
            // Read again: only this kind's hash changes (the store keeps the
            // lock and the binding as they are at commit).
            let mut fresh = self.user_record(user)?;
            match kind {
                PasswordKind::Approval => fresh.approval_password = Some(hash),
                PasswordKind::PerTransfer => fresh.transfer_password = Some(hash),
            }
            let mut done = audit.clone();
            done.reason = Some(
                match kind {
                    PasswordKind::Approval => "approval_password_changed",
                    PasswordKind::PerTransfer => "transfer_password_changed",
                }
                .into(),
            );
            self.store.put_user(&fresh, &done, &self.audit_key)?;
            Ok(())
        })();
        self.finish(&audit, result)
    }

    /// Removes a user's approval or per-transfer confirmation password: the
    /// branch's act. Audited.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`]; [`Refusal::Internal`] if the store fails.
    pub fn remove_password(
        &self,
        authorization: &BranchAuthorization,
        id: &UserId,
        kind: PasswordKind,
    ) -> Result<(), Refusal> {
        self.set_password_hash(authorization, id, kind, None)
    }

    /// Stores (or, with `None`, removes) a password hash of `kind` for
    /// `id`, audited with the branch's authorization in one transaction.
    fn set_password_hash(
        &self,
        authorization: &BranchAuthorization,
        id: &UserId,
        kind: PasswordKind,
        hash: Option<PasswordHash>,
    ) -> Result<(), Refusal> {
        let mut record = self.user_record(id)?;
        let set = hash.is_some();
        let reason = match (kind, set) {
            (PasswordKind::Approval, true) => "approval_password_set",
            (PasswordKind::Approval, false) => "approval_password_removed",
            (PasswordKind::PerTransfer, true) => "transfer_password_set",
            (PasswordKind::PerTransfer, false) => "transfer_password_removed",
        };
        match kind {
            PasswordKind::Approval => record.approval_password = hash,
            PasswordKind::PerTransfer => record.transfer_password = hash,
        }
        let mut audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(id),
            Action::UserUpdate,
        );
        audit.reason = Some(reason.into());
        self.store.put_user(&record, &audit, &self.audit_key)?;
        Ok(())
    }

    /// Adds every token of an inventory (from a vendor's seed file) as
    /// unassigned: all or nothing, audited in the same transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for a serial that is not 12 alphanumerics,
    /// [`StoreError::Duplicate`] for one the bank has already.
    pub fn import_inventory(
        &self,
        operator: &str,
        inventory: &Inventory,
    ) -> Result<usize, StoreError> {
        let mut entries = Vec::with_capacity(inventory.len());
        for record in inventory.iter() {
            let entry = TokenEntry::unassigned(record.duplicate()).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "serial {:?} is not 12 half-width letters and digits",
                    record.serial
                ))
            })?;
            entries.push(entry);
        }
        let count = entries.len();
        let mut entry = AuditEntry::new(self.now(), operator, None, Action::Import);
        entry.reason = Some(format!("{count} tokens"));
        self.store.add_tokens(entries, &entry, &self.audit_key)?;
        Ok(count)
    }

    /// Records in the audit chain that the token secrets were re-sealed
    /// under a new key (the store's own `rekey` does the work: it holds
    /// the keys, the policy does not). `detail` says what was done, with
    /// key ids and counts only, never key material.
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] when the record cannot be written.
    pub fn record_rekey(&self, operator: &str, detail: &str) -> Result<(), Refusal> {
        let mut entry = AuditEntry::new(self.now(), operator, None, Action::Rekey);
        entry.reason = Some(detail.to_owned());
        self.store.append_audit(&entry, &self.audit_key)?;
        Ok(())
    }

    /// A page of the selection screen, for an administrator.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`] for an unknown operator.
    pub fn user_list(
        &self,
        operator: &UserId,
        page: usize,
        per_page: usize,
    ) -> Result<UserList, Refusal> {
        self.administrator(operator)?;
        let offset = page.saturating_mul(per_page);
        let result = self.store.users(offset, per_page)?;
        let rows: Vec<UserRow> = result
            .users
            .into_iter()
            .map(|u| UserRow {
                registered: u.token.is_some(),
                serial: u.token.map(|s| s.masked()),
                locked: u.lock.locked,
                id: u.id,
                name: u.name,
                authority: u.authority,
            })
            .collect();
        let (first, last) = if rows.is_empty() {
            (0, 0)
        } else {
            (offset.saturating_add(1), offset.saturating_add(rows.len()))
        };
        Ok(UserList {
            rows,
            first,
            last,
            total: result.total,
        })
    }

    /// A user logs in with a code from their token: verified with replay
    /// refusal, counted toward the ID lock, saved only if the token is
    /// still theirs when the verification commits.
    ///
    /// An unknown ID, an ID without a token, a locked ID and a wrong code
    /// all get [`Refusal::LoginFailed`] (the audit record says which), and
    /// an unknown ID costs the same HMAC work as a known one.
    ///
    /// # Errors
    ///
    /// [`Refusal::LoginFailed`]; [`Refusal::Code`] for input that is not
    /// 6 to 8 digits once read by [`normalize_code`] (whatever the ID); [`Refusal::Replayed`]
    /// (only a holder of the token's last code sees it);
    /// [`Refusal::Internal`].
    pub fn login(&self, user: &UserId, typed: &str) -> Result<CurrentTokenVerified, Refusal> {
        // As displayed (`821 135`) or typed with a Japanese input method.
        let typed = normalize_code(typed);
        let typed = typed.as_ref();
        let now = self.now();
        let audit = AuditEntry::new(now, user.as_str(), Some(user), Action::Login);
        // The typing rules (half-width digits, 6 to 8 of them) are checked
        // before the ID is looked up, so the answer is the same for every
        // ID; a length that differs from the token's is a failed login.
        if let Err(e) = [Digits::Seven, Digits::Eight]
            .into_iter()
            .fold(Code::parse(typed, Digits::Six).map(|_| ()), |r, d| {
                r.or_else(|e| Code::parse(typed, d).map(|_| ()).map_err(|_| e))
            })
        {
            let refusal = Refusal::Code(Which::Current, e);
            let audit = AuditEntry::new(now, user.as_str(), None, Action::Login);
            self.store
                .append_audit(&audit.refused(refusal.reason_code()), &self.audit_key)?;
            return Err(refusal);
        }
        let record = self.store.user(user)?;
        let Some(serial) = record.as_ref().and_then(|r| r.token) else {
            // The same HMAC work as a real verification, then one refusal.
            let _ = Code::parse(typed, Digits::Six).map(|code| {
                Key::new(Algorithm::Sha1, &[0x5a; 20]).map(|key| {
                    verify(
                        &key,
                        &self.params(Window::new(1, 1)),
                        &TokenState::new(),
                        &code,
                        now,
                    )
                })
            });
            let why = if record.is_some() {
                Refusal::NoTokenRegistered
            } else {
                Refusal::UnknownUser
            };
            let audit = if record.is_some() {
                audit
            } else {
                // An unknown ID is not a target: the record names what was
                // typed as the operator only.
                AuditEntry::new(now, user.as_str(), None, Action::Login)
            };
            self.store
                .append_audit(&audit.refused(why.reason_code()), &self.audit_key)?;
            return Err(Refusal::LoginFailed);
        };
        let audit = audit.with_old(Some(&serial));
        let result = self.check_code(
            user,
            Which::Current,
            Source::Bound(serial),
            typed,
            &audit,
            None,
        );
        let result = self.finish(&audit, result);
        result
            .map(|ok| CurrentTokenVerified {
                serial: ok.serial,
                position: ok.position,
            })
            .map_err(|r| match r {
                Refusal::WrongCode(_)
                | Refusal::Code(..)
                | Refusal::UserLocked
                | Refusal::Conflict
                | Refusal::NoTokenRegistered => Refusal::LoginFailed,
                other => other,
            })
    }

    /// Unregisters a user's token (登録解除): it is revoked at once. Like
    /// an exchange, it needs a code from that token (the user is present
    /// with it) and the operator's approval password (or per-transfer
    /// confirmation password); without the token it is the branch's
    /// [`Bank::branch_revoke`].
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::OwnId`], [`Refusal::UnknownUser`],
    /// [`Refusal::UserLocked`], [`Refusal::NoTokenRegistered`],
    /// [`Refusal::UnregisterForbidden`], [`Refusal::Code`],
    /// [`Refusal::WrongCode`], [`Refusal::Replayed`],
    /// [`Refusal::WrongPassword`], [`Refusal::NoPasswordRegistered`],
    /// [`Refusal::Conflict`].
    pub fn unregister(
        &self,
        operator: &UserId,
        target: &UserId,
        current_code: &str,
        password: &Password,
    ) -> Result<(), Refusal> {
        let audit = AuditEntry::new(
            self.now(),
            operator.as_str(),
            Some(target),
            Action::Unregister,
        );
        let mut logged = audit.clone();
        let result = (|| -> Result<(), Fail> {
            self.administrator(operator)?;
            if operator == target {
                return Err(Refusal::OwnId.into());
            }
            if !self.policy.allow_unregister {
                return Err(Refusal::UnregisterForbidden.into());
            }
            let user = self.user_record(target)?;
            logged = logged.clone().with_old(user.token.as_ref());
            let serial = user.token.ok_or(Refusal::NoTokenRegistered)?;
            if user.lock.locked {
                return Err(Refusal::UserLocked.into());
            }
            let code_audit = AuditEntry::new(
                self.now(),
                operator.as_str(),
                Some(target),
                Action::CurrentCode,
            )
            .with_old(Some(&serial));
            let code = self.check_code(
                target,
                Which::Current,
                Source::Bound(serial),
                current_code,
                &code_audit,
                Some(operator),
            );
            self.finish(&code_audit, code)?;
            self.check_password(operator, password, &logged)?;
            let audit = logged.clone();
            let binding = Some(user.lock.binding);
            self.switch_checked(Some(operator), target, true, binding, |locks| {
                Switch::new(
                    target.clone(),
                    Some(serial),
                    Some(serial),
                    None,
                    locks,
                    audit.clone(),
                )
            })?;
            Ok(())
        })();
        self.finish(&logged, result)
    }

    /// An administrator unlocks a general user's ID (IDロック解除), with
    /// their own approval password. An administrator's ID is unlocked only
    /// by the branch ([`Bank::branch_unlock`]), no administrator unlocks
    /// their own, and one ID is unlocked online at most
    /// [`Policy::max_unlocks_per_day`] times a day. Audited.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::OwnId`], [`Refusal::UnknownUser`],
    /// [`Refusal::BranchUnlockRequired`], [`Refusal::UnlockLimit`],
    /// [`Refusal::WrongPassword`], [`Refusal::NoPasswordRegistered`].
    pub fn unlock(
        &self,
        operator: &UserId,
        target: &UserId,
        password: &Password,
    ) -> Result<(), Refusal> {
        let audit = AuditEntry::new(self.now(), operator.as_str(), Some(target), Action::Unlock);
        let result = (|| {
            self.administrator(operator)?;
            if operator == target {
                return Err(Refusal::OwnId.into());
            }
            let user = self.user_record(target)?;
            if user.authority == Authority::Administrator {
                return Err(Refusal::BranchUnlockRequired.into());
            }
            if user.lock.unlocks_on(self.policy.day(self.now())) >= self.policy.max_unlocks_per_day
            {
                return Err(Refusal::UnlockLimit.into());
            }
            self.check_password(operator, password, &audit)?;
            self.apply_unlock(Some(operator), target, true, &audit)
        })();
        self.finish(&audit, result)
    }

    /// The branch unlocks an ID on a written request: the only way for an
    /// administrator's ID, and the way past the daily cap. Audited with the
    /// officer and the request.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`], [`Refusal::Internal`].
    pub fn branch_unlock(
        &self,
        authorization: &BranchAuthorization,
        target: &UserId,
    ) -> Result<(), Refusal> {
        let audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(target),
            Action::Unlock,
        );
        let result = self.apply_unlock(None, target, false, &audit);
        self.finish(&audit, result)
    }

    /// An administrator locks another user's ID on purpose (an
    /// administrator may lock their own). Audited.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`].
    pub fn lock(&self, operator: &UserId, target: &UserId) -> Result<(), Refusal> {
        let audit = AuditEntry::new(self.now(), operator.as_str(), Some(target), Action::Lock);
        let result = self
            .administrator(operator)
            .map_err(Fail::from)
            .and_then(|_| {
                self.change_lock(Some(operator), target, &audit, |lock| {
                    Ok(crate::IdLock {
                        locked: true,
                        ..lock
                    })
                })
            });
        self.finish(&audit, result)
    }

    /// The branch's procedure for a lost, broken or dead token: on a
    /// written request checked by a branch officer, the token is revoked so
    /// that a new one can be registered.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`], [`Refusal::NoTokenRegistered`],
    /// [`Refusal::Conflict`].
    pub fn branch_revoke(
        &self,
        authorization: &BranchAuthorization,
        target: &UserId,
    ) -> Result<(), Refusal> {
        let mut audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(target),
            Action::BranchRevoke,
        );
        let result = (|| {
            let user = self.user_record(target)?;
            audit = audit.clone().with_old(user.token.as_ref());
            let serial = user.token.ok_or(Refusal::NoTokenRegistered)?;
            let logged = audit.clone();
            let binding = Some(user.lock.binding);
            self.switch_checked(None, target, false, binding, |locks| {
                Switch::new(
                    target.clone(),
                    Some(serial),
                    Some(serial),
                    None,
                    locks,
                    logged.clone(),
                )
            })?;
            Ok(())
        })();
        self.finish(&audit, result)
    }

    /// The branch registers a token for a user who has none, with a code
    /// from it: how an administrator (who may not register their own) gets
    /// a token. Returns the token's serial.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`], [`Refusal::AlreadyRegistered`],
    /// [`Refusal::UserLocked`], [`Refusal::Serial`],
    /// [`Refusal::UnknownSerial`], [`Refusal::SerialAssigned`],
    /// [`Refusal::SerialRevoked`], [`Refusal::Code`],
    /// [`Refusal::WrongCode`], [`Refusal::Conflict`].
    pub fn branch_register(
        &self,
        authorization: &BranchAuthorization,
        target: &UserId,
        serial: &str,
        code: &str,
    ) -> Result<SerialNumber, Refusal> {
        let mut audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(target),
            Action::Register,
        );
        let result = (|| {
            let user = self.user_record(target)?;
            if user.token.is_some() {
                return Err(Refusal::AlreadyRegistered.into());
            }
            let serial = SerialNumber::parse(serial).map_err(Refusal::Serial)?;
            audit = audit.clone().with_new(Some(&serial));
            // The code is audited as the online screen's is (`NewToken`),
            // the switch as the one `Register` record.
            let mut code_audit = audit.clone();
            code_audit.action = Action::NewToken;
            let new = self.check_code(
                target,
                Which::New,
                Source::Stock(serial),
                code,
                &code_audit,
                None,
            )?;
            let logged = audit.clone();
            let binding = Some(user.lock.binding);
            self.switch_checked(None, target, false, binding, |locks| {
                Switch::new(
                    target.clone(),
                    None,
                    None,
                    Some((new.serial, new.state)),
                    locks,
                    logged.clone(),
                )
            })?;
            Ok(new.serial)
        })();
        self.finish(&audit, result)
    }

    /// The usage history (利用履歴照会) of a user ID between two times,
    /// shown only from a chain that verifies: the whole chain is checked
    /// under the audit key and against its stored head first, so a record
    /// whose stored target or time was edited (which a query by target
    /// would silently skip), removed or truncated makes the history fail
    /// instead of shrink. The cost is one read of the chain (about a
    /// microsecond of HMAC per record).
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`];
    /// [`Refusal::Internal`] with [`InternalError::Audit`] when the chain
    /// does not verify.
    pub fn audit_trail(
        &self,
        operator: &UserId,
        target: &UserId,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, Refusal> {
        self.administrator(operator)?;
        let head = self.store.audit_head()?;
        let chain = self.store.audit_chain()?;
        crate::verify_chain(&chain, &self.audit_key, head).map_err(InternalError::Audit)?;
        Ok(chain
            .into_iter()
            .filter(|r| r.entry.target.as_ref() == Some(target))
            .filter(|r| (from..=to).contains(&r.entry.at))
            .collect())
    }

    // ----- shared steps -----

    pub(crate) fn user_record(&self, id: &UserId) -> Result<UserRecord, Refusal> {
        self.store.user(id)?.ok_or(Refusal::UnknownUser)
    }

    /// The operator, if an unlocked administrator.
    pub(crate) fn administrator(&self, operator: &UserId) -> Result<UserRecord, Refusal> {
        let admin = self.user_record(operator)?;
        if admin.authority != Authority::Administrator {
            return Err(Refusal::NotAdministrator);
        }
        if admin.lock.locked {
            return Err(Refusal::OperatorLocked);
        }
        Ok(admin)
    }

    /// The core's parameters for a token of the bank: the device's mode and
    /// digits, the policy's window, and no lock of the core's own (the
    /// policy's [`crate::IdLock`] is the one lock authority).
    fn params(&self, window: Window) -> Params {
        Params {
            window,
            max_failures: 0,
            ..Params::default()
        }
    }

    /// Writes `audit` as refused when a step failed and its record was not
    /// written already; passes the result on.
    pub(crate) fn finish<T>(
        &self,
        audit: &AuditEntry,
        result: Result<T, Fail>,
    ) -> Result<T, Refusal> {
        match result {
            Ok(v) => Ok(v),
            Err(Fail {
                refusal,
                audited: true,
            }) => Err(refusal),
            Err(Fail {
                refusal,
                audited: false,
            }) => {
                self.store.append_audit(
                    &audit.clone().refused(refusal.reason_code()),
                    &self.audit_key,
                )?;
                Err(refusal)
            }
        }
    }

    /// Reserves one attempt of `which` on `user`'s ID before it is
    /// evaluated; refused with `locked` when the ID is locked or its
    /// attempts are spent. Returns the user as after the reservation.
    fn reserve(&self, user: &UserId, which: Counter, locked: &Refusal) -> Result<UserRecord, Fail> {
        for _ in 0..MAX_RETRIES {
            let mut record = self.user_record(user)?;
            let r = record.lock.reserve(which, self.now(), &self.policy);
            if r.lock != record.lock {
                let mut audit = Vec::new();
                if r.lock.locked && !record.lock.locked {
                    audit.push(lock_entry(self.now(), user, which, self.policy.limit()));
                }
                let change = LockChange::new(user.clone(), record.lock, r.lock);
                if !self
                    .store
                    .update_locks(&[change], &audit, &self.audit_key)?
                {
                    continue;
                }
            }
            if !r.granted {
                return Err(locked.clone().into());
            }
            record.lock = r.lock;
            return Ok(record);
        }
        Err(InternalError::Contention.into())
    }

    /// Settles one reserved attempt of `which` on `user`'s ID, appending
    /// `audit` (and the lock's record, if this locks the ID) in the same
    /// transaction. Returns whether the ID is now locked.
    fn settle(
        &self,
        user: &UserId,
        which: Counter,
        outcome: Outcome,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, Fail> {
        for _ in 0..MAX_RETRIES {
            let record = self.user_record(user)?;
            let next = record.lock.settle(which, outcome, &self.policy);
            let mut entries: Vec<AuditEntry> = audit.cloned().into_iter().collect();
            if next.locked && !record.lock.locked {
                entries.push(lock_entry(self.now(), user, which, self.policy.limit()));
            }
            let change = LockChange::new(user.clone(), record.lock, next);
            if self
                .store
                .update_locks(&[change], &entries, &self.audit_key)?
            {
                return Ok(next.locked);
            }
        }
        Err(InternalError::Contention.into())
    }

    /// The one verification path for a code (login, screen 4, screen 5,
    /// unregister, the branch's registration): the code verified against
    /// the token's state as read, and the verdict saved with compare-and-set
    /// on the token's state, its assignment (for a bound token) and
    /// `target`'s whole lock, with `audit` (marked refused when refused) in
    /// the same transaction; re-read and re-verified if anything changed
    /// meanwhile. Nothing is answered before the verdict is committed.
    pub(crate) fn check_code(
        &self,
        target: &UserId,
        which: Which,
        source: Source,
        typed: &str,
        audit: &AuditEntry,
        operator: Option<&UserId>,
    ) -> Result<CodeAccepted, Fail> {
        let (serial, window) = match source {
            Source::Bound(s) => (s, self.policy.window()),
            Source::Stock(s) => (s, self.policy.first_use_window),
        };
        // What the administrator's screen tells about the serial is not a
        // guess: checked before an attempt is spent.
        let entry = self.store.token(&serial)?;
        let entry = match (source, entry) {
            (_, None) => {
                return Err(match source {
                    Source::Bound(_) => Refusal::Conflict,
                    Source::Stock(_) => Refusal::UnknownSerial,
                }
                .into());
            }
            (Source::Stock(_), Some(e)) => {
                match e.status {
                    TokenStatus::Unassigned => {}
                    TokenStatus::Assigned(_) => return Err(Refusal::SerialAssigned.into()),
                    TokenStatus::Revoked => return Err(Refusal::SerialRevoked.into()),
                }
                e
            }
            (Source::Bound(_), Some(e)) => e,
        };
        let params = Params {
            window,
            max_failures: 0,
            ..entry.seed.verifier_params()
        };
        let code = Code::parse(&normalize_code(typed), params.digits)
            .map_err(|e| Refusal::Code(which, e))?;
        let locked = Refusal::UserLocked;
        // A code's attempt is counted by the compare-and-set that commits
        // its verdict (on the ID's whole lock, the token's state and, for a
        // bound token, its assignment), and no verdict is answered before
        // it is committed: a verdict that loses the race is thrown away and
        // the code verified again against what won, refused if the ID
        // locked meanwhile. So N concurrent guesses spend exactly N of the
        // limit, and each costs one write transaction, like a refusal for
        // an unknown ID. (Passwords, whose check is slow and may be a
        // remote service, are reserved before they are evaluated instead:
        // `check_password`.)
        for _ in 0..MAX_RETRIES {
            // The administrator acting must still be one, unlocked, when
            // the verdict commits.
            let mut locks = Vec::with_capacity(2);
            if let Some(op) = operator {
                let admin = self.administrator(op)?;
                locks.push(LockChange::new(op.clone(), admin.lock, admin.lock));
            }
            let user = self.user_record(target)?;
            let entry = self.store.token(&serial)?;
            let still = entry.as_ref().is_some_and(|e| match source {
                Source::Bound(_) => {
                    user.token == Some(serial) && e.status == TokenStatus::Assigned(target.clone())
                }
                Source::Stock(_) => e.status == TokenStatus::Unassigned,
            });
            let Some(entry) = entry.filter(|_| still && !user.lock.locked) else {
                // Revoked, reassigned or locked: nothing is verified.
                let why = if user.lock.locked {
                    locked.clone()
                } else {
                    match source {
                        Source::Bound(_) => Refusal::Conflict,
                        Source::Stock(_) => Refusal::SerialAssigned,
                    }
                };
                return Err(why.into());
            };
            let unlocked = TokenState {
                locked: false,
                failures: 0,
                ..entry.state
            };
            let v = verify(&entry.seed.key(), &params, &unlocked, &code, self.now());
            let (refusal, outcome) = judge(which, v.outcome.map(|a| a.position()));
            let next = user.lock.count(Counter::Codes, outcome, &self.policy);
            // The record says what the code was (wrong); the answer says
            // what the user can do now (the ID locked by this one).
            let mut entries = vec![match &refusal {
                None => audit.clone(),
                Some(r) => audit.clone().refused(r.reason_code()),
            }];
            let refusal = if next.locked && !user.lock.locked {
                Some(locked.clone())
            } else {
                refusal
            };
            if next.locked && !user.lock.locked {
                entries.push(lock_entry(
                    self.now(),
                    target,
                    Counter::Codes,
                    self.policy.limit(),
                ));
            }
            locks.insert(0, LockChange::new(target.clone(), user.lock, next));
            let saved = match source {
                Source::Bound(_) => self.store.record_verification(
                    &Verification::new(
                        target.clone(),
                        serial,
                        entry.state,
                        v.state,
                        locks,
                        entries,
                    ),
                    &self.audit_key,
                )?,
                Source::Stock(_) => self.store.update_locks(&locks, &entries, &self.audit_key)?,
            };
            if !saved {
                continue;
            }
            return match (refusal, v.outcome) {
                (None, Ok(accepted)) => Ok(CodeAccepted {
                    serial,
                    position: accepted.position(),
                    state: v.state,
                }),
                (Some(r), _) => Err(Fail::audited(r)),
                (None, Err(_)) => Err(Fail::audited(Refusal::Conflict)),
            };
        }
        Err(InternalError::Contention.into())
    }

    /// Checks the operator's approval (or per-transfer) password: one
    /// attempt reserved on the operator's password counter first, so
    /// concurrent guesses cannot pass the lock; a wrong one counted (and
    /// audited with `audit`) in one transaction; a right one clears only
    /// the password counter.
    pub(crate) fn check_password(
        &self,
        operator: &UserId,
        password: &Password,
        audit: &AuditEntry,
    ) -> Result<ApprovalVerified, Fail> {
        let admin = self.reserve(operator, Counter::Passwords, &Refusal::OperatorLocked)?;
        let Some(kind) = self.credentials.required(&admin) else {
            self.settle(operator, Counter::Passwords, Outcome::Neutral, None)?;
            return Err(Refusal::NoPasswordRegistered.into());
        };
        let right = match self.credentials.check(&admin, kind, password) {
            Ok(right) => right,
            Err(e) => {
                self.settle(operator, Counter::Passwords, Outcome::Neutral, None)?;
                return Err(e.into());
            }
        };
        if right {
            self.settle(operator, Counter::Passwords, Outcome::Right, None)?;
            return Ok(ApprovalVerified { _private: () });
        }
        let refused = audit.clone().refused(Refusal::WrongPassword.reason_code());
        let locked = self.settle(operator, Counter::Passwords, Outcome::Wrong, Some(&refused))?;
        Err(Fail::audited(if locked {
            Refusal::OperatorLocked
        } else {
            Refusal::WrongPassword
        }))
    }

    /// Applies a switch built by `make` from the locks it must check and
    /// change: the target's, whose binding generation moves on by one (and
    /// must still be `binding` when one is given: a flow that read the
    /// binding refuses if it changed, even if it changed back), unlocked
    /// at commit when `open`; and the operator's, unlocked at commit, when
    /// an administrator acts. Re-read and rebuilt when a lock changed
    /// meanwhile.
    pub(crate) fn switch_checked(
        &self,
        operator: Option<&UserId>,
        target: &UserId,
        open: bool,
        binding: Option<u64>,
        make: impl Fn(Vec<LockChange>) -> Switch,
    ) -> Result<AuditRecord, Fail> {
        for _ in 0..MAX_RETRIES {
            let mut locks = Vec::with_capacity(2);
            if let Some(op) = operator {
                let admin = self.administrator(op)?;
                locks.push(LockChange::new(op.clone(), admin.lock, admin.lock));
            }
            let user = self.user_record(target)?;
            if open && user.lock.locked {
                return Err(Refusal::UserLocked.into());
            }
            if binding.is_some_and(|b| b != user.lock.binding) {
                return Err(Refusal::Conflict.into());
            }
            let moved = crate::IdLock {
                binding: user.lock.binding.wrapping_add(1),
                ..user.lock
            };
            locks.push(LockChange::new(target.clone(), user.lock, moved));
            match self.store.switch(&make(locks), &self.audit_key) {
                Ok(record) => return Ok(record),
                Err(SwitchError::LockChanged) => {}
                Err(SwitchError::Conflict) => return Err(Refusal::Conflict.into()),
                Err(SwitchError::Store(e)) => return Err(e.into()),
            }
        }
        Err(InternalError::Contention.into())
    }

    /// Unlocks `target` (with the daily cap checked at commit when
    /// `capped`), the operator, when an administrator acts, still unlocked
    /// at commit.
    fn apply_unlock(
        &self,
        operator: Option<&UserId>,
        target: &UserId,
        capped: bool,
        audit: &AuditEntry,
    ) -> Result<(), Fail> {
        self.change_lock(operator, target, audit, |lock| {
            let day = self.policy.day(self.now());
            if capped && lock.unlocks_on(day) >= self.policy.max_unlocks_per_day {
                return Err(Refusal::UnlockLimit.into());
            }
            Ok(lock.unlocked(day))
        })
    }

    /// The one compare-and-set loop for a lock an operator changes on
    /// purpose (lock, unlock): `target`'s lock becomes `change(lock)`, the
    /// operator's (when one acts on another ID) must still be an unlocked
    /// administrator's at commit, and `audit` is appended in the same
    /// transaction; read again and decided again when a lock moved.
    fn change_lock(
        &self,
        operator: Option<&UserId>,
        target: &UserId,
        audit: &AuditEntry,
        change: impl Fn(crate::IdLock) -> Result<crate::IdLock, Fail>,
    ) -> Result<(), Fail> {
        for _ in 0..MAX_RETRIES {
            let user = self.user_record(target)?;
            let mut changes = vec![LockChange::new(
                target.clone(),
                user.lock,
                change(user.lock)?,
            )];
            if let Some(op) = operator.filter(|op| *op != target) {
                let admin = self.administrator(op)?;
                changes.push(LockChange::new(op.clone(), admin.lock, admin.lock));
            }
            if self
                .store
                .update_locks(&changes, std::slice::from_ref(audit), &self.audit_key)?
            {
                return Ok(());
            }
        }
        Err(InternalError::Contention.into())
    }
}

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), StoreError> {
    use rand::TryRng as _;
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .map_err(|e| StoreError::Crypto(format!("the system random number generator failed: {e}")))
}

/// Proof that a code from a user's registered token was verified (with
/// replay refusal) and the token state persisted while the token was still
/// theirs. Only this crate makes one; it cannot be cloned or rebuilt, and
/// the exchange's next step consumes it.
#[derive(Debug, PartialEq, Eq)]
pub struct CurrentTokenVerified {
    pub(crate) serial: SerialNumber,
    pub(crate) position: u64,
}

impl CurrentTokenVerified {
    /// The token whose code was verified.
    #[must_use]
    pub const fn serial(&self) -> SerialNumber {
        self.serial
    }

    /// The step or counter the code matched.
    #[must_use]
    pub const fn position(&self) -> u64 {
        self.position
    }
}

/// Proof that the operator's approval password was checked.
#[derive(Debug)]
pub(crate) struct ApprovalVerified {
    _private: (),
}
