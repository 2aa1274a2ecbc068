//! The bank: the policy's entry point. It owns the store, the credential
//! check, the clock and the settings, and offers the seed's screens as
//! methods: the selection list, login, the exchange and registration flows
//! (see [`crate::exchange`]), unregistration, ID lock and unlock, the
//! branch's revocation, and the audit trail.

use core::fmt;
use std::sync::Arc;

use otp_core::{Code, Rejected, TokenState, Window, verify};
use otp_token::{Clock, Inventory, MaskedSerial, SerialNumber};
use zeroize::Zeroizing;

use crate::{
    Action, AuditEntry, AuditRecord, Authority, Credentials, IdLock, Password, Refusal, Store,
    StoreError, StoredHashes, Switch, SwitchError, TokenEntry, TokenStatus, UserId, UserRecord,
    Which,
};

/// The bank's rules, with the seed's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Consecutive wrong entries (codes or passwords) that lock an ID: 6.
    pub max_wrong_entries: u32,
    /// The window for a new token's first code: it may have drifted in
    /// storage. Default ±10 steps (±5 minutes).
    pub first_use_window: Window,
    /// How long an exchange may take from selection to confirmation:
    /// 600 s.
    pub session_ttl: u64,
    /// Whether an administrator may unregister a user's token outside an
    /// exchange (the seed's screen offers it): `true`.
    pub allow_unregister: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_wrong_entries: 6,
            first_use_window: Window::new(10, 10),
            session_ttl: 600,
            allow_unregister: true,
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
/// The bank's branch system makes one after checking the request; the
/// online screens cannot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchAuthorization {
    /// The officer's staff ID.
    pub officer: String,
    /// The written request's reference number.
    pub request: String,
}

/// The bank: store, credential check, clock, policy and session key.
pub struct Bank<S: Store, C: Credentials = StoredHashes> {
    pub(crate) store: S,
    pub(crate) credentials: C,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: Policy,
    pub(crate) session_key: Zeroizing<[u8; 32]>,
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
    /// on the user records, with the default policy and a random session
    /// key (sessions then survive only within this process; give every
    /// server the same key with [`Bank::with_session_key`]).
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

    /// The store.
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// The policy.
    pub const fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The bank's clock, now.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Adds every token of an inventory (from a vendor's seed file) as
    /// unassigned: all or nothing.
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
        self.store.add_tokens(entries)?;
        let mut entry = AuditEntry::new(self.now(), operator, None, Action::Import);
        entry.reason = Some(format!("{count} tokens"));
        self.store.append_audit(&entry)?;
        Ok(count)
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
    /// refusal, counted toward the ID lock. Returns the matched offset.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`], [`Refusal::UserLocked`],
    /// [`Refusal::NoTokenRegistered`], [`Refusal::Code`],
    /// [`Refusal::WrongCode`], [`Refusal::Replayed`].
    pub fn login(&self, user: &UserId, typed: &str) -> Result<CurrentTokenVerified, Refusal> {
        let record = self.user_record(user)?;
        let audit = AuditEntry::new(self.now(), user.as_str(), Some(user), Action::Login)
            .with_old(record.token.as_ref());
        let mut audited = false;
        let result = self
            .check_open(&record, Refusal::UserLocked)
            .and_then(|()| self.verify_bound(&record, typed, &audit, &mut audited));
        if !audited {
            self.audit_result(audit, result.as_ref().map(|_| ()).map_err(Clone::clone))?;
        }
        result
    }

    /// Unregisters a user's token (登録解除): it is revoked at once.
    /// Requires the operator's approval password (or per-transfer
    /// confirmation password).
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`], [`Refusal::NoTokenRegistered`],
    /// [`Refusal::UnregisterForbidden`], [`Refusal::WrongPassword`],
    /// [`Refusal::NoPasswordRegistered`], [`Refusal::Conflict`].
    pub fn unregister(
        &self,
        operator: &UserId,
        target: &UserId,
        password: &Password,
    ) -> Result<(), Refusal> {
        let admin = self.administrator(operator)?;
        self.revoke_token(operator.as_str(), target, Action::Unregister, || {
            if !self.policy.allow_unregister {
                return Err(Refusal::UnregisterForbidden);
            }
            self.check_password(&admin, password).map(|_| ())
        })
    }

    /// An administrator unlocks a user's ID (and the lock on their token).
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`].
    pub fn unlock(&self, operator: &UserId, target: &UserId) -> Result<(), Refusal> {
        let audit = AuditEntry::new(self.now(), operator.as_str(), Some(target), Action::Unlock);
        let result = (|| {
            self.administrator(operator)?;
            let user = self.user_record(target)?;
            self.set_lock(target, |_| IdLock::default())?;
            if let Some(serial) = user.token {
                self.update_state(&serial, TokenState::unlocked)?;
            }
            Ok(())
        })();
        self.audit_result(audit, result.clone())?;
        result
    }

    /// An administrator locks a user's ID on purpose.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`].
    pub fn lock(&self, operator: &UserId, target: &UserId) -> Result<(), Refusal> {
        let audit = AuditEntry::new(self.now(), operator.as_str(), Some(target), Action::Lock);
        let result = (|| {
            self.administrator(operator)?;
            self.user_record(target)?;
            self.set_lock(target, |l| IdLock { locked: true, ..l })
                .map(|_| ())
        })();
        self.audit_result(audit, result.clone())?;
        result
    }

    /// The branch's procedure for a lost, broken or dead token: on a
    /// written request checked by a branch officer, the token is revoked so
    /// that a new one can be registered online.
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
        let operator = format!("branch:{}:{}", authorization.officer, authorization.request);
        self.revoke_token(&operator, target, Action::BranchRevoke, || Ok(()))
    }

    /// Revokes `target`'s token in one switch once `authorise` allows it,
    /// auditing the attempt either way.
    fn revoke_token(
        &self,
        operator: &str,
        target: &UserId,
        action: Action,
        authorise: impl FnOnce() -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        let mut audit = AuditEntry::new(self.now(), operator, Some(target), action);
        let result = (|| {
            let user = self.user_record(target)?;
            audit = audit.clone().with_old(user.token.as_ref());
            let serial = user.token.ok_or(Refusal::NoTokenRegistered)?;
            authorise()?;
            let change = Switch {
                user: target.clone(),
                expect_current: Some(serial),
                revoke: Some(serial),
                bind: None,
                audit: audit.clone(),
            };
            self.apply(&change).map(|_| ())
        })();
        if let Err(r) = &result {
            self.store.append_audit(&audit.refused(r.reason_code()))?;
        }
        result
    }

    /// The usage history (利用履歴照会) of a user ID between two times.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`].
    pub fn audit_trail(
        &self,
        operator: &UserId,
        target: &UserId,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, Refusal> {
        self.administrator(operator)?;
        Ok(self.store.audit(Some(target), from, to)?)
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
        self.check_open(&admin, Refusal::OperatorLocked)?;
        Ok(admin)
    }

    pub(crate) fn check_open(&self, user: &UserRecord, refusal: Refusal) -> Result<(), Refusal> {
        if user.lock.locked {
            Err(refusal)
        } else {
            Ok(())
        }
    }

    pub(crate) fn audit_result(
        &self,
        audit: AuditEntry,
        result: Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        let entry = match &result {
            Ok(()) => audit,
            Err(r) => audit.refused(r.reason_code()),
        };
        self.store.append_audit(&entry)?;
        Ok(())
    }

    pub(crate) fn apply(&self, change: &Switch) -> Result<AuditRecord, Refusal> {
        self.store.switch(change).map_err(|e| match e {
            SwitchError::Conflict => Refusal::Conflict,
            SwitchError::Store(e) => Refusal::Internal(e),
        })
    }

    /// Compare-and-set loop on a user's lock.
    pub(crate) fn set_lock(
        &self,
        user: &UserId,
        f: impl Fn(IdLock) -> IdLock,
    ) -> Result<IdLock, Refusal> {
        loop {
            let current = self.user_record(user)?.lock;
            let next = f(current);
            if current == next || self.store.update_lock(user, &current, &next)? {
                return Ok(next);
            }
        }
    }

    /// Compare-and-set loop on a token's state.
    fn update_state(
        &self,
        serial: &SerialNumber,
        f: impl Fn(TokenState) -> TokenState,
    ) -> Result<(), Refusal> {
        loop {
            let entry = self.store.token(serial)?.ok_or(Refusal::UnknownSerial)?;
            let next = f(entry.state);
            if entry.state == next || self.store.update_token_state(serial, &entry.state, &next)? {
                return Ok(());
            }
        }
    }

    /// Counts one wrong entry against `user`'s ID; `true` if it is now locked.
    pub(crate) fn wrong_entry(&self, user: &UserId) -> Result<bool, Refusal> {
        let max = self.policy.max_wrong_entries;
        let before = self.user_record(user)?.lock.locked;
        let lock = self.set_lock(user, |l| {
            let failures = l.failures.saturating_add(1);
            IdLock {
                failures,
                locked: l.locked || (max != 0 && failures >= max),
            }
        })?;
        if lock.locked && !before {
            let mut entry = AuditEntry::new(self.now(), "policy", Some(user), Action::Lock);
            entry.reason = Some(format!("{max} consecutive wrong entries"));
            self.store.append_audit(&entry)?;
        }
        Ok(lock.locked)
    }

    /// Clears the consecutive-failure count after a right entry.
    pub(crate) fn right_entry(&self, user: &UserId) -> Result<(), Refusal> {
        self.set_lock(user, |l| IdLock { failures: 0, ..l })
            .map(|_| ())
    }

    /// Verifies a code from the token bound to `user`, persisting the
    /// token state with compare-and-set, counting wrong entries.
    pub(crate) fn verify_bound(
        &self,
        user: &UserRecord,
        typed: &str,
        audit: &AuditEntry,
        audited: &mut bool,
    ) -> Result<CurrentTokenVerified, Refusal> {
        let serial = user.token.ok_or(Refusal::NoTokenRegistered)?;
        let now = self.now();
        let outcome = loop {
            let entry = self.store.token(&serial)?.ok_or(Refusal::Conflict)?;
            if entry.status != TokenStatus::Assigned(user.id.clone()) {
                return Err(Refusal::Conflict);
            }
            let params = entry.seed.verifier_params();
            let code =
                Code::parse(typed, params.digits).map_err(|e| Refusal::Code(Which::Current, e))?;
            let v = verify(&entry.seed.key(), &params, &entry.state, &code, now);
            // The new state and the attempt's audit record are saved in
            // one transaction, so neither exists without the other.
            let record = match v.outcome {
                Ok(_) => audit.clone(),
                Err(why) => audit.clone().refused(refusal_for(why).reason_code()),
            };
            if self
                .store
                .record_verification(&serial, &entry.state, &v.state, &record)?
            {
                *audited = true;
                break v.outcome;
            }
        };
        match outcome {
            Ok(accepted) => {
                self.right_entry(&user.id)?;
                Ok(CurrentTokenVerified {
                    serial,
                    position: accepted.position(),
                })
            }
            // Typing the last accepted code again is not a guess.
            Err(
                why @ Rejected::Replayed {
                    repeat_of_last: true,
                },
            ) => Err(refusal_for(why)),
            Err(
                why @ (Rejected::Replayed { .. } | Rejected::Invalid | Rejected::DigitsMismatch),
            ) => {
                let locked = self.wrong_entry(&user.id)?;
                Err(if locked {
                    Refusal::UserLocked
                } else {
                    refusal_for(why)
                })
            }
            Err(why) => Err(refusal_for(why)),
        }
    }

    /// Checks the operator's approval (or per-transfer) password, counting
    /// a wrong one against the operator's ID.
    pub(crate) fn check_password(
        &self,
        admin: &UserRecord,
        password: &Password,
    ) -> Result<ApprovalVerified, Refusal> {
        let kind = self
            .credentials
            .required(admin)
            .ok_or(Refusal::NoPasswordRegistered)?;
        if self.credentials.check(admin, kind, password)? {
            self.right_entry(&admin.id)?;
            Ok(ApprovalVerified { _private: () })
        } else {
            let locked = self.wrong_entry(&admin.id)?;
            Err(if locked {
                Refusal::OperatorLocked
            } else {
                Refusal::WrongPassword
            })
        }
    }
}

/// The refusal for a code the core did not accept, before the ID lock is
/// counted.
fn refusal_for(why: Rejected) -> Refusal {
    match why {
        Rejected::Replayed { .. } => Refusal::Replayed(Which::Current),
        Rejected::Locked => Refusal::UserLocked,
        Rejected::Invalid | Rejected::DigitsMismatch => Refusal::WrongCode(Which::Current),
        other => Refusal::Internal(StoreError::Unavailable(format!(
            "verification failed: {other}"
        ))),
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
/// replay refusal) and the token state persisted. Only this crate makes
/// one; the exchange's next step requires it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
