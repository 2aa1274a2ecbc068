//! The steps every screen shares: the one path that verifies a code
//! (`check_code`), the one that checks a password (`check_password`), the
//! lock's reservation and settlement loops, the switch's compare-and-set,
//! the proofs they return, and how a refusal is audited.

use otp_core::{Code, Params, Rejected, TokenState, Window, verify};
use otp_provision::SerialNumber;

use crate::guard::{Counter, Outcome, lock_entry};
use crate::{
    AuditEntry, AuditRecord, Authority, Credentials, InternalError, LockChange, Password, Refusal,
    Store, StoreError, Switch, SwitchError, TokenEntry, TokenStatus, UserId, UserRecord,
    Verification, Which, normalize_code,
};

use super::Bank;

/// How many times a compare-and-set is retried under contention before the
/// operation gives up with [`InternalError::Contention`].
pub(super) const MAX_RETRIES: usize = 10_000;

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
    /// A software token minted for the target's enrollment: it must still
    /// be reserved for them; its new state is saved by the switch that
    /// binds it.
    Reserved(SerialNumber),
}

/// How [`Bank::check_code_as`] counts a code.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CodeCheck {
    /// One attempt is reserved on the target's code counter already (the
    /// sign-in reserved it before evaluating the password): the verdict's
    /// commit settles it instead of counting a new one.
    pub(crate) reserved: bool,
    /// A login: a right code's commit stores its time as the user's last
    /// login ([`crate::Verification::login_at`]).
    pub(crate) login: bool,
}

/// The target's record and its bound token's entry as the caller read
/// them just before the check ([`crate::Store::user_and_token`]), to serve
/// as the first attempt's reads (a retry reads again).
pub(crate) type FirstRead = Option<(UserRecord, Option<TokenEntry>)>;

/// When a user logged in, and when they had logged in before (the page
/// header's 前回ログイン日時), on the bank's clock (Unix time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginTimes {
    /// This login.
    pub this_login: u64,
    /// The login before it; `None` for the user's first.
    pub previous_login: Option<u64>,
}

/// A code accepted: the token, where it matched, and the token's state
/// after it.
#[derive(Debug)]
pub(crate) struct CodeAccepted {
    pub(crate) serial: SerialNumber,
    pub(crate) position: u64,
    pub(crate) state: TokenState,
    /// When it was verified (the bank's clock).
    pub(crate) at: u64,
    /// The user's last login as read with the state the code was verified
    /// against (before this one, for a login).
    pub(crate) previous_login: Option<u64>,
}

/// The one table from the core's verdict to a refusal and to how it
/// counts against the user's ID. Login, screen 4 and screen 5 all use it.
pub(crate) fn judge(which: Which, verdict: Result<u64, Rejected>) -> (Option<Refusal>, Outcome) {
    judge_as(
        verdict.err().as_ref(),
        Refusal::WrongCode(which),
        Refusal::Replayed(which),
    )
}

/// The table of [`judge`] for any verdict: `rejected` is `None` for an
/// accepted code or signature, and the refusals of a wrong and of a
/// replayed one are the caller's (a code's, a signature's).
pub(crate) fn judge_as(
    rejected: Option<&Rejected>,
    wrong: Refusal,
    replayed: Refusal,
) -> (Option<Refusal>, Outcome) {
    match rejected {
        None => (None, Outcome::Right),
        Some(Rejected::Invalid | Rejected::DigitsMismatch) => (Some(wrong), Outcome::Wrong),
        // Typing the last accepted code again is not a guess; an older
        // code is.
        Some(Rejected::Replayed {
            repeat_of_last: true,
        }) => (Some(replayed), Outcome::Neutral),
        Some(Rejected::Replayed {
            repeat_of_last: false,
        }) => (Some(replayed), Outcome::Wrong),
        // The policy runs the core without its own lock (one lock
        // authority): a token state locked by an older version is ignored.
        Some(Rejected::Locked) => (Some(Refusal::UserLocked), Outcome::Neutral),
        Some(Rejected::Clock(e)) => (
            Some(Refusal::Internal(InternalError::Clock(*e))),
            Outcome::Neutral,
        ),
        Some(Rejected::CounterExhausted) => (
            Some(Refusal::Internal(InternalError::CounterExhausted)),
            Outcome::Neutral,
        ),
        // `Rejected` is non-exhaustive: a verdict this version does not
        // know refuses without counting.
        Some(_) => (
            Some(Refusal::Internal(InternalError::UnknownVerdict)),
            Outcome::Neutral,
        ),
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
    pub(crate) login: Option<LoginTimes>,
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

    /// For a proof from [`Bank::login`]: this login's time and the
    /// previous one's. `None` for a code verified in an exchange.
    #[must_use]
    pub const fn login(&self) -> Option<LoginTimes> {
        self.login
    }
}

/// Proof that the operator's approval password was checked.
#[derive(Debug)]
pub(crate) struct ApprovalVerified {
    _private: (),
}

impl<S: Store, C: Credentials> Bank<S, C> {
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
    pub(super) fn params(&self, window: Window) -> Params {
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
    pub(super) fn reserve(
        &self,
        user: &UserId,
        which: Counter,
        locked: &Refusal,
    ) -> Result<UserRecord, Fail> {
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
    pub(super) fn settle(
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
        self.check_code_as(
            target,
            which,
            source,
            typed,
            audit,
            operator,
            CodeCheck::default(),
        )
    }

    /// [`Self::check_code`], counted as `how` says. An error not yet
    /// audited (`Fail::audited` false) means nothing was committed: a
    /// reservation the caller holds is still held.
    #[allow(
        clippy::too_many_arguments,
        reason = "the one verification path's inputs"
    )]
    pub(crate) fn check_code_as(
        &self,
        target: &UserId,
        which: Which,
        source: Source,
        typed: &str,
        audit: &AuditEntry,
        operator: Option<&UserId>,
        how: CodeCheck,
    ) -> Result<CodeAccepted, Fail> {
        self.check_code_read(target, which, source, typed, audit, operator, how, None)
    }

    /// [`Self::check_code_as`], with the target's record and its token's
    /// entry as the caller read them just before (`first`): the first
    /// attempt verifies against them instead of reading both again (a
    /// login then reads the store once, in one snapshot where the backend
    /// can, not four times). Nothing is weakened: every check below runs on those reads
    /// as on fresh ones, and the compare-and-set that commits the verdict
    /// refuses if either changed since; a retry reads both again.
    #[allow(
        clippy::too_many_arguments,
        reason = "the one verification path's inputs"
    )]
    pub(crate) fn check_code_read(
        &self,
        target: &UserId,
        which: Which,
        source: Source,
        typed: &str,
        audit: &AuditEntry,
        operator: Option<&UserId>,
        how: CodeCheck,
        first: FirstRead,
    ) -> Result<CodeAccepted, Fail> {
        let (serial, window) = match source {
            Source::Bound(s) => (s, self.policy.window()),
            Source::Stock(s) | Source::Reserved(s) => (s, self.policy.first_use_window),
        };
        // What the administrator's screen tells about the serial is not a
        // guess: checked before an attempt is spent.
        // The caller's reads, if they are of this target and this serial.
        let (first_user, first_entry) = match first {
            Some((user, entry)) if user.id == *target => {
                (Some(user), entry.filter(|e| e.serial == serial))
            }
            _ => (None, None),
        };
        let entry = match first_entry {
            Some(entry) => Some(entry),
            None => self.store.token(&serial)?,
        };
        let entry = match (source, entry) {
            (_, None) => {
                return Err(match source {
                    Source::Bound(_) | Source::Reserved(_) => Refusal::Conflict,
                    Source::Stock(_) => Refusal::UnknownSerial,
                }
                .into());
            }
            (Source::Stock(_), Some(e)) => {
                match e.status {
                    TokenStatus::Unassigned => {}
                    // A software token minted for an enrollment is nobody
                    // else's to register.
                    TokenStatus::Assigned(_) | TokenStatus::Reserved(_) => {
                        return Err(Refusal::SerialAssigned.into());
                    }
                    TokenStatus::Revoked => return Err(Refusal::SerialRevoked.into()),
                }
                e
            }
            (Source::Reserved(_), Some(e)) => {
                if e.status != TokenStatus::Reserved(target.clone()) {
                    return Err(Refusal::Conflict.into());
                }
                e
            }
            (Source::Bound(_), Some(e)) => e,
        };
        // The device's mode and digits; the window and the lock are the
        // bank's policy (the ID's lock counts failures, not the token's).
        let params = Params {
            mode: entry.seed.profile.mode,
            digits: entry.seed.profile.digits,
            window,
            max_failures: 0,
            ..Params::default()
        };
        // The first attempt's reads: the caller's user record (read before
        // the token, as the loop reads them) and the token's entry read
        // with it (or just now).
        let mut first = first_user.map(|u| (u, entry));
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
            let (user, entry) = match first.take() {
                Some((user, entry)) => (user, Some(entry)),
                None => (self.user_record(target)?, self.store.token(&serial)?),
            };
            let still = entry.as_ref().is_some_and(|e| match source {
                Source::Bound(_) => {
                    user.token == Some(serial) && e.status == TokenStatus::Assigned(target.clone())
                }
                Source::Stock(_) => e.status == TokenStatus::Unassigned,
                Source::Reserved(_) => e.status == TokenStatus::Reserved(target.clone()),
            });
            // Attempts reserved and not yet settled (sign-ins evaluating
            // their password) count toward the limit as wrong entries do;
            // a reserved attempt was measured when it was reserved.
            let spent = !how.reserved && user.lock.codes.spent() >= self.policy.limit();
            let Some(entry) = entry.filter(|_| still && !user.lock.locked && !spent) else {
                // Revoked, reassigned or locked: nothing is verified.
                let why = if user.lock.locked || spent {
                    locked.clone()
                } else {
                    match source {
                        Source::Bound(_) | Source::Reserved(_) => Refusal::Conflict,
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
            let at = self.now();
            let v = verify(&entry.seed.key(), &params, &unlocked, &code, at);
            let (refusal, outcome) = judge(which, v.outcome.map(|a| a.position()));
            let next = if how.reserved {
                user.lock.settle(Counter::Codes, outcome, &self.policy)
            } else {
                user.lock.count(Counter::Codes, outcome, &self.policy)
            };
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
                Source::Bound(_) => {
                    let verification = Verification::new(
                        target.clone(),
                        serial,
                        entry.state,
                        v.state,
                        locks,
                        entries,
                    );
                    // A right login's time, kept with the verdict.
                    let verification = if how.login && refusal.is_none() && v.outcome.is_ok() {
                        verification.with_login(at)
                    } else {
                        verification
                    };
                    self.store
                        .record_verification(&verification, &self.audit_key)?
                }
                Source::Stock(_) | Source::Reserved(_) => {
                    self.store.update_locks(&locks, &entries, &self.audit_key)?
                }
            };
            if !saved {
                continue;
            }
            return match (refusal, v.outcome) {
                (None, Ok(accepted)) => Ok(CodeAccepted {
                    serial,
                    position: accepted.position(),
                    state: v.state,
                    at,
                    previous_login: user.last_login,
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
    pub(super) fn apply_unlock(
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
    pub(super) fn change_lock(
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
