//! The records a store keeps: users and their locks ([`UserRecord`],
//! [`IdLock`], [`Attempts`]), the token inventory ([`TokenEntry`],
//! [`TokenStatus`]), and the changes the policy asks a store to make
//! atomically ([`Verification`], [`LockChange`], [`Switch`]).

use otp_core::TokenState;
use otp_provision::{SeedRecord, SerialNumber};
use serde::{Deserialize, Serialize};

use crate::{AuditEntry, Authority, PasswordHash, UserId};

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
    login_at: Option<u64>,
}

impl LockChange {
    pub(crate) const fn new(user: UserId, expected: IdLock, new: IdLock) -> Self {
        Self {
            user,
            expected,
            new,
            login_at: None,
        }
    }

    /// The same change, a right login's without a code (a user whose
    /// usage mode is [`UsageMode::NotUsed`]): the user's last login
    /// becomes `at` with it.
    #[must_use]
    pub(crate) const fn with_login(mut self, at: u64) -> Self {
        self.login_at = Some(at);
        self
    }

    /// For a right login without a code: the time to store as the user's
    /// [`UserRecord::last_login`] with the lock, in the same transaction.
    #[must_use]
    pub const fn login_at(&self) -> Option<u64> {
        self.login_at
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
    login_at: Option<u64>,
    slot: StateSlot,
}

/// Which of a token's two states a [`Verification`] compares and sets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StateSlot {
    /// [`TokenEntry::state`]: the button's one-time passwords (logins,
    /// exchanges).
    #[default]
    Login,
    /// [`TokenEntry::signing`]: a keypad token's signatures over
    /// transactions (RFC 6287 OCRA), whose counter and time steps are the
    /// signing application's own.
    Signing,
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
            login_at: None,
            slot: StateSlot::Login,
        }
    }

    /// The same verification, of a signature: it compares and sets the
    /// token's signing state ([`TokenEntry::signing`]) instead of its
    /// login state.
    #[must_use]
    pub(crate) const fn of_signature(mut self) -> Self {
        self.slot = StateSlot::Signing;
        self
    }

    /// A signature's verification for tests of a storage backend.
    #[cfg(feature = "test-util")]
    #[must_use]
    pub const fn signing_for_test(self) -> Self {
        self.of_signature()
    }

    /// Which of the token's states [`Self::expected_state`] and
    /// [`Self::new_state`] are: the login state or the signing state.
    #[must_use]
    pub const fn slot(&self) -> StateSlot {
        self.slot
    }

    /// The same verification, a right login's: the user's last login
    /// becomes `at` in the same transaction.
    #[must_use]
    pub(crate) const fn with_login(mut self, at: u64) -> Self {
        self.login_at = Some(at);
        self
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

    /// For a right login's code: the time to store as the user's
    /// [`UserRecord::last_login`], in the same transaction.
    #[must_use]
    pub const fn login_at(&self) -> Option<u64> {
        self.login_at
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
    /// The login password's hash (ログインパスワード, any user): the web
    /// sign-in's first factor.
    pub login_password: Option<PasswordHash>,
    /// When the user last logged in (Unix time, the bank's clock): set by
    /// the transaction that commits a login's code ([`Verification::login_at`]),
    /// kept by [`crate::Store::put_user`]. `None` before the first login.
    pub last_login: Option<u64>,
    /// How the user authenticates (利用形態): set by an administrator
    /// ([`crate::Bank::set_usage_mode`]), by registering or exchanging a
    /// hardware token, or by enrolling a software token; kept by
    /// [`crate::Store::put_user`] for an existing user.
    pub usage_mode: UsageMode,
}

/// The user's one-time password usage mode (利用形態), set by an
/// administrator through 利用形態設定. Every user of a store made before
/// the mode existed uses a hardware token, the manual's case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UsageMode {
    /// A button-press hardware token (ハードウェアトークン): the manual's
    /// case, and every user's mode until an administrator changes it.
    #[default]
    HardwareToken,
    /// An authenticator app (ソフトウェアトークン), enrolled through an
    /// `otpauth://` URI and confirmed by its first code
    /// ([`crate::Bank::begin_software_token`]).
    SoftwareToken,
    /// No one-time password (利用しない): the user signs in with the ID
    /// and login password alone, only where the bank's policy allows it
    /// ([`crate::Policy::allow_not_used`]) and never for an administrator.
    NotUsed,
}

impl UsageMode {
    /// Every mode, in the order a screen lists them.
    pub const ALL: [Self; 3] = [Self::HardwareToken, Self::SoftwareToken, Self::NotUsed];

    /// The stable name stored and written in the audit trail:
    /// `hardware_token`, `software_token`, `not_used`.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::UsageMode;
    /// assert_eq!(UsageMode::NotUsed.as_str(), "not_used");
    /// assert_eq!(UsageMode::parse("software_token"), Some(UsageMode::SoftwareToken));
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HardwareToken => "hardware_token",
            Self::SoftwareToken => "software_token",
            Self::NotUsed => "not_used",
        }
    }

    /// The mode named by [`Self::as_str`]; `None` for any other text.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// The mode's name on a screen.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Lang, UsageMode};
    /// assert_eq!(UsageMode::HardwareToken.label(Lang::Ja), "ハードウェアトークン");
    /// assert_eq!(UsageMode::NotUsed.label(Lang::En), "Not used");
    /// ```
    #[must_use]
    pub const fn label(self, lang: crate::Lang) -> &'static str {
        match (self, lang) {
            (Self::HardwareToken, crate::Lang::En) => "Hardware token",
            (Self::HardwareToken, crate::Lang::Ja) => "ハードウェアトークン",
            (Self::SoftwareToken, crate::Lang::En) => "Software token",
            (Self::SoftwareToken, crate::Lang::Ja) => "ソフトウェアトークン",
            (Self::NotUsed, crate::Lang::En) => "Not used",
            (Self::NotUsed, crate::Lang::Ja) => "利用しない",
        }
    }
}

impl UserRecord {
    /// A user with no token, no passwords, an open lock and the usage mode
    /// [`UsageMode::HardwareToken`] (registration follows).
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
            login_password: None,
            last_login: None,
            usage_mode: UsageMode::HardwareToken,
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
    /// A software token minted for this user's enrollment
    /// ([`crate::Bank::begin_software_token`]) and not yet confirmed: not
    /// valid for anything, and bound only to this user, only by the
    /// enrollment that minted it (whose ticket carries its serial). An
    /// enrollment abandoned or expired leaves it reserved for good: it is
    /// never registered to anyone (screen 5 refuses it as assigned).
    Reserved(UserId),
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
    /// A keypad token's signing state: the replay floor (counter or time
    /// step) and drift of its signatures ([`crate::Bank::sign_transaction`]),
    /// apart from the login state; [`TokenState::new`] for a token that
    /// never signed.
    pub signing: TokenState,
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
            signing: TokenState::new(),
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
            signing: self.signing,
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
    bind_reserved: bool,
    usage_mode: Option<UsageMode>,
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
            bind_reserved: false,
            usage_mode: None,
            locks,
            audit,
        }
    }

    /// The same switch, also setting the user's usage mode.
    #[must_use]
    pub(crate) const fn with_usage_mode(mut self, mode: UsageMode) -> Self {
        self.usage_mode = Some(mode);
        self
    }

    /// The same switch binding a software token minted for the user
    /// ([`TokenStatus::Reserved`]) instead of one from stock.
    #[must_use]
    pub(crate) const fn binding_reserved(mut self) -> Self {
        self.bind_reserved = true;
        self
    }

    /// The same switch also setting the user's usage mode (as the policy's
    /// 利用形態設定 and a software token's confirmation do), for tests of a
    /// storage backend.
    #[cfg(feature = "test-util")]
    #[must_use]
    pub const fn for_test_with_usage_mode(self, mode: UsageMode) -> Self {
        self.with_usage_mode(mode)
    }

    /// The same switch binding a software token minted for the user
    /// ([`TokenStatus::Reserved`]) instead of one from stock, for tests of a
    /// storage backend.
    #[cfg(feature = "test-util")]
    #[must_use]
    pub const fn for_test_binding_reserved(self) -> Self {
        self.binding_reserved()
    }

    /// The status the token to bind must have: [`TokenStatus::Unassigned`]
    /// (stock, a hardware token), or [`TokenStatus::Reserved`] for this
    /// user (a software token minted for their enrollment). Anything else
    /// is a [`SwitchError::Conflict`](crate::SwitchError::Conflict).
    #[must_use]
    pub fn bind_from(&self) -> TokenStatus {
        if self.bind_reserved {
            TokenStatus::Reserved(self.user.clone())
        } else {
            TokenStatus::Unassigned
        }
    }

    /// Whether the user's token binding changes (a token revoked or
    /// bound): the user's token becomes the bound one, or none. A switch
    /// that changes only the usage mode leaves the binding as it is.
    #[must_use]
    pub const fn changes_binding(&self) -> bool {
        self.revoke.is_some() || self.bind.is_some()
    }

    /// The user's usage mode after the switch; `None` keeps it.
    #[must_use]
    pub const fn usage_mode(&self) -> Option<UsageMode> {
        self.usage_mode
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
    /// longer exactly this, the switch is a [`SwitchError::Conflict`](crate::SwitchError::Conflict).
    #[must_use]
    pub const fn expect_current(&self) -> Option<&SerialNumber> {
        self.expect_current.as_ref()
    }

    /// The token to revoke (the old one), which must be assigned to `user`.
    #[must_use]
    pub const fn revoke(&self) -> Option<&SerialNumber> {
        self.revoke.as_ref()
    }

    /// The token to bind, which must have the status [`Self::bind_from`], with its state after
    /// its first code was verified.
    #[must_use]
    pub const fn bind(&self) -> Option<&(SerialNumber, TokenState)> {
        self.bind.as_ref()
    }

    /// Locks that must still be as expected at commit (the operator's and
    /// the user's, unlocked), applied with the switch; if one is not, the
    /// switch is a [`SwitchError::LockChanged`](crate::SwitchError::LockChanged).
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
