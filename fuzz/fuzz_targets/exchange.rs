//! The exchange policy under arbitrary sequences of operations against the
//! seed's bank (W0001 administrator, W0002 and W0005 general users, eight
//! virtual tokens) plus a second administrator, W0003, without a token, on
//! a `MemoryStore` with `HashCost::TESTING`. W0003 lets sequences reach
//! what one administrator cannot: another administrator's token exchanged
//! or unregistered, an administrator's ID unlocked (refused online).
//!
//! Two servers (two `Bank`s: same store behind an `Arc`, same clock, same
//! audit and session keys) run the operations; each step names the one
//! that runs it, so a flow begun on one continues or resumes on the other.
//! Flows are parked as tickets while other operations run, then resumed.
//! The store is wrapped in a [`Gate`] that can run one chosen operation
//! *inside* the next one, just before its first `record_verification` or
//! `switch` reaches the store: between its read and its commit.
//!
//! After every operation:
//! - never two users bound to one token; each user's token (at most one)
//!   has status `Assigned(user)`, and every assigned token is its user's;
//! - a revoked token stays revoked and is never bound again; a token's
//!   status only moves Unassigned -> Assigned -> Revoked;
//! - bindings change only through a successful confirm, unregister, branch
//!   revocation or branch registration; a refused operation changes no
//!   binding;
//! - a confirm succeeds only with all three proofs: the current token's
//!   code (exchange) verified earlier in the flow, a code that verifies
//!   for the new token, and the operator's own approval password;
//! - a login, current-token step or unregistration succeeds only with a
//!   code that verifies for the user's bound token; a branch registration
//!   only with one that verifies for the new token;
//! - a login refused for an unknown ID, an ID without a token, a locked ID
//!   or a wrong code is the one `LoginFailed` refusal; a code typed against
//!   the typing rules is refused the same way for every ID;
//! - nobody operates on their own ID: an administrator selecting,
//!   unregistering or unlocking themselves is refused;
//! - locks hold: a locked ID is refused as user and as operator; only a
//!   successful unlock (online or by the branch) clears a lock; an online
//!   unlock needs the operator's approval password, is refused for an
//!   administrator's ID (`BranchUnlockRequired`) and happens at most
//!   `Policy::max_unlocks_per_day` times per ID per day;
//! - tickets: forged, tampered or random ones are refused; a genuine one
//!   is refused to another administrator (`SessionInvalid`), to a locked
//!   one (`OperatorLocked`), after `Policy::session_ttl` (`SessionExpired`)
//!   and when used before (`SessionUsed`), and otherwise works, on either
//!   server;
//! - a flow continued (screen 4 or 5) after other operations refuses
//!   exactly as the policy promises: `SessionExpired`, then
//!   `OperatorLocked`, `UserLocked`, then `Conflict` if the user's token
//!   changed since selection; it never completes with a revoked token's
//!   code;
//! - between read and commit: nothing commits for an ID locked at commit
//!   time (the verified user's ID for a code; the operator's and the user's
//!   for an online switch), no code of a token revoked before the commit
//!   is accepted, a switch whose user's token or new token changed is a
//!   `Conflict`, a login whose token changed is `LoginFailed`;
//! - signatures (two keypad tokens in stock, `Op::Sign`, also run between
//!   another operation's read and commit): each token's signing counter is
//!   accepted at most once, never for a locked ID (before or at commit),
//!   never for a token revoked or no longer the user's at commit, and only
//!   for the token's own response to that transfer's challenge, computed
//!   apart from the bank;
//! - the keyed audit chain verifies with its stored head on both servers,
//!   only grows, never holds a password, and holds no accepted `Login`
//!   with a token after the record of the switch that revoked it;
//! - counters: no ID has more than `Policy::max_wrong_entries` wrong
//!   approval passwords in the audit trail since its last clear (a right
//!   password evaluated, or an unlock); a right password is never counted
//!   wrong and a wrong one never uncounted; no attempt stays reserved
//!   (`IdLock::codes.pending`, `passwords.pending`) after a step.
//!
//! Two of these were found by this target's hand-made seeds and fixed in
//! the policy: a registration resumed after the user's token was
//! registered and revoked again meanwhile is a `Conflict` (the session
//! holds the binding's generation, `IdLock::binding`, not only the token),
//! and screen 4 commits only while the operator is unlocked too.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_core::{Code, Digits, OcraInput, Params, Rejected, TokenState, verify};
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, AUDIT_KEY, LOGIN_PASSWORD, Scenario};
use otp_exchange::{
    Action, Attempts, AuditEntry, AuditHead, AuditKey, AuditRecord, AuditResult, Authority, Bank,
    BranchAuthorization, ExpectCurrentCode, ExpectNewToken, HashCost, IdLock, LockChange,
    MemoryStore, Password, PasswordHash, PasswordKind, Pending, Policy, Refusal, Store, StoreError,
    Switch, SwitchError, Ticket, TokenEntry, TokenStatus, Transaction, UserId, UserPage,
    UserRecord, Verification, Which, normalize_code,
};
use otp_provision::{Clock as _, SerialNumber};
use otp_token::{SimClock, Token};

const START: u64 = 1_601_512_200; // 2020-10-01 09:30 JST
const TRANSFER_PASSWORD: &str = "transfer-2020";
/// W0003's approval password (W0003 has no per-transfer password).
const ADMIN2_APPROVAL_PASSWORD: &str = "approve-w0003";
/// The session key both servers share, so a ticket sealed by one opens on
/// the other.
const SESSION_KEY: [u8; 32] = [0x3c; 32];
const MAX_OPS: usize = 40;

// ----- the input -----

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    General,
    NoToken,
    Unknown,
    Admin2,
}

/// Which of the two banks (servers) runs an operation.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    A,
    B,
}

#[derive(Arbitrary, Debug, Clone)]
enum CodeChoice {
    /// Press the token now and type what it shows.
    Right,
    /// Type the code pressed last on that token again.
    Previous,
    /// The right code plus an offset (mod 10^6).
    Offset(u32),
    /// Any text.
    Raw(String),
}

/// The response typed to sign a transfer on a keypad token.
#[derive(Arbitrary, Debug, Clone)]
enum SignChoice {
    /// Type the bank's challenge on the user's token now and its response.
    Right,
    /// The last response accepted for that token, again.
    Previous,
    /// The right response with its last digit moved by 1..=9.
    Offset(u8),
    /// Any text.
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum SerialChoice {
    Stock(u8),
    Any(u8),
    CurrentOf(Who),
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum PasswordChoice {
    /// The operator's own approval password.
    Approval,
    /// W0001's per-transfer confirmation password.
    Transfer,
    /// Any text.
    Other(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum TicketChoice {
    Saved(u8),
    Tampered(u8, u16, u8),
    Random(Vec<u8>),
    Text(String),
}

/// Where the [`Gate`] stops the next operation to run another inside it.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Just before its first `record_verification` (a code from a bound
    /// token: login, screen 4, unregister's code).
    Verification,
    /// Just before its first `switch` (confirm, unregister, the branch's
    /// revocation and registration).
    Switch,
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Advance(u16),
    AdvanceFar(u32),
    BeginExchange(Who, Who),
    BeginRegistration(Who, Who),
    SubmitCode(CodeChoice),
    NoCurrentToken,
    Confirm(SerialChoice, CodeChoice, PasswordChoice),
    Park,
    Resume(Who, TicketChoice),
    Login(Who, CodeChoice),
    /// The web sign-in: the login password (the scenario's when `true`,
    /// else a wrong one) and a code from the user's token.
    SignIn(Who, bool, CodeChoice),
    /// Operator, target, a code from the target's current token, password.
    Unregister(Who, Who, CodeChoice, PasswordChoice),
    Lock(Who, Who),
    Unlock(Who, Who, PasswordChoice),
    BranchRevoke(Who),
    UserList(Who),
    BranchUnlock(Who),
    BranchRegister(Who, SerialChoice, CodeChoice),
    /// A whole flow with right inputs, in a slot of its own: an exchange
    /// (begin, the current token's code, confirm with the `n`th stock
    /// token and the approval password), or a registration if the target
    /// has no token.
    Exchange(Who, Who, u8),
    /// The next operation runs `Inner` on that server between its read
    /// and its commit, at `At` (if it gets that far).
    Inside(At, Server, Inner),
    /// `Who` changes their own approval password, typing the choice as
    /// the current one; the new one is the other of their two known
    /// passwords (see [`World::next_approval`]).
    ChangePassword(Who, PasswordChoice),
    /// `Who` signs a transfer of `amount` on their keypad token.
    Sign(Who, u8, SignChoice),
}

/// What may run inside another operation.
#[derive(Arbitrary, Debug, Clone)]
enum Inner {
    Login(Who, CodeChoice),
    SignIn(Who, bool, CodeChoice),
    Exchange(Who, Who, u8),
    Unregister(Who, Who, CodeChoice, PasswordChoice),
    BranchRevoke(Who),
    Lock(Who, Who),
    Unlock(Who, Who, PasswordChoice),
    BranchUnlock(Who),
    BranchRegister(Who, SerialChoice, CodeChoice),
    /// The current flow's screen 4 or 5, if the outer operation is not it.
    SubmitCode(CodeChoice),
    Confirm(SerialChoice, CodeChoice, PasswordChoice),
    Resume(Who, TicketChoice),
    Sign(Who, u8, SignChoice),
}

impl Inner {
    fn to_op(&self) -> Op {
        match self.clone() {
            Self::Login(a, b) => Op::Login(a, b),
            Self::SignIn(a, b, c) => Op::SignIn(a, b, c),
            Self::Exchange(a, b, c) => Op::Exchange(a, b, c),
            Self::Unregister(a, b, c, d) => Op::Unregister(a, b, c, d),
            Self::BranchRevoke(a) => Op::BranchRevoke(a),
            Self::Lock(a, b) => Op::Lock(a, b),
            Self::Unlock(a, b, c) => Op::Unlock(a, b, c),
            Self::BranchUnlock(a) => Op::BranchUnlock(a),
            Self::BranchRegister(a, b, c) => Op::BranchRegister(a, b, c),
            Self::SubmitCode(a) => Op::SubmitCode(a),
            Self::Confirm(a, b, c) => Op::Confirm(a, b, c),
            Self::Resume(a, b) => Op::Resume(a, b),
            Self::Sign(a, b, c) => Op::Sign(a, b, c),
        }
    }
}

/// One step: an operation and the server that runs it.
#[derive(Arbitrary, Debug)]
struct Step {
    on: Server,
    op: Op,
}

// ----- the gated store -----

type Hook = Box<dyn FnOnce() + Send>;

/// One successful change of an ID's password counter, as the store saw it:
/// whose, before and after, and the audit chain's length when it was made.
#[derive(Clone, Debug)]
struct PasswordEvent {
    user: String,
    expected: Attempts,
    new: Attempts,
    seq: u64,
}

impl PasswordEvent {
    /// A reserved attempt settled (right, wrong or neutral).
    const fn settled(&self) -> bool {
        self.new.pending.saturating_add(1) == self.expected.pending
    }

    const fn counted_wrong(&self) -> bool {
        self.new.failures > self.expected.failures
    }
}

/// A store wrapper, like the invariant suite's: runs a hook once just
/// before the next `record_verification` or `switch` reaches the store
/// (after the request read what it decided on, before it commits), and
/// logs every change of a password counter.
struct Gate {
    inner: MemoryStore,
    before_verification: Mutex<Option<Hook>>,
    before_switch: Mutex<Option<Hook>>,
    log: Mutex<Vec<PasswordEvent>>,
}

impl Gate {
    fn new(inner: MemoryStore) -> Self {
        Self {
            inner,
            before_verification: Mutex::new(None),
            before_switch: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        }
    }

    fn arm(&self, at: At, hook: Hook) {
        let slot = match at {
            At::Verification => &self.before_verification,
            At::Switch => &self.before_switch,
        };
        *slot.lock().expect("gate") = Some(hook);
    }

    /// Drops a hook that did not fire; whether one was left.
    fn disarm(&self) -> bool {
        let a = self.before_verification.lock().expect("gate").take();
        let b = self.before_switch.lock().expect("gate").take();
        a.is_some() || b.is_some()
    }

    fn fire(slot: &Mutex<Option<Hook>>) {
        let hook = slot.lock().expect("gate").take();
        if let Some(hook) = hook {
            hook();
        }
    }

    fn log_len(&self) -> usize {
        self.log.lock().expect("log").len()
    }

    fn events(&self, range: Range<usize>) -> Vec<PasswordEvent> {
        self.log.lock().expect("log")[range].to_vec()
    }
}

impl core::fmt::Debug for Gate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gate").field("inner", &self.inner).finish()
    }
}

impl Store for Gate {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.inner.user(id)
    }
    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        self.inner.users(offset, limit)
    }
    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.inner.put_user(user, audit, key)
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
        self.inner
            .replace_password(user, kind, expected, new, audit, key)
    }
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        self.inner.token(serial)
    }
    // Forwarded, so that a login's one read is the wrapped store's own
    // (SQLite's one transaction, PostgreSQL's one statement), not two.
    fn user_and_token(
        &self,
        id: &UserId,
    ) -> Result<Option<(UserRecord, Option<TokenEntry>)>, StoreError> {
        self.inner.user_and_token(id)
    }
    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.inner.add_tokens(tokens, audit, key)
    }
    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        Self::fire(&self.before_verification);
        self.inner.record_verification(v, key)
    }
    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let seq = self.inner.audit_head()?.map_or(0, |h| h.seq);
        let saved = self.inner.update_locks(changes, audit, key)?;
        if saved {
            let mut log = self.log.lock().expect("log");
            for c in changes {
                if c.expected().passwords != c.new_lock().passwords {
                    log.push(PasswordEvent {
                        user: c.user().as_str().to_owned(),
                        expected: c.expected().passwords,
                        new: c.new_lock().passwords,
                        seq,
                    });
                }
            }
        }
        Ok(saved)
    }
    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        Self::fire(&self.before_switch);
        // A switch only checks locks (expected == new); nothing to log.
        self.inner.switch(change, key)
    }
    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        self.inner.append_audit(entry, key)
    }
    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(user, from, to)
    }
    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit_chain()
    }
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.inner.audit_head()
    }
    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.inner.consume_nonce(nonce, expires_at, now)
    }
    fn put_api_key(
        &self,
        record: &otp_exchange::ApiKeyRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.inner.put_api_key(record, audit, key)
    }
    fn api_key(&self, id: &str) -> Result<Option<otp_exchange::ApiKeyRecord>, StoreError> {
        self.inner.api_key(id)
    }
    fn api_keys(&self) -> Result<Vec<otp_exchange::ApiKeyRecord>, StoreError> {
        self.inner.api_keys()
    }
    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        self.inner.revoke_api_key(id, at, audit, key)
    }
    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError> {
        self.inner.touch_api_key(id, at)
    }
}

type Shared = Arc<Gate>;

// ----- the world and the oracle -----

/// What the oracle knows about a flow: when it was selected and the token
/// it was selected with (`None` for a registration).
#[derive(Clone, Copy, Debug)]
struct Meta {
    started: u64,
    old: Option<SerialNumber>,
    /// The generation of the user's binding at selection.
    binding: u64,
}

enum Slot {
    Empty,
    Current(ExpectCurrentCode, Meta),
    New(ExpectNewToken, Meta),
}

struct Parked {
    ticket: Ticket,
    operator: UserId,
    used: bool,
    meta: Meta,
    /// Parked at screen 5 (else screen 4).
    at_new: bool,
}

/// An operation run inside another: the snapshot right after it, and the
/// range of the password log it wrote.
struct Fired {
    after: Snapshot,
    log: Range<usize>,
}

#[derive(Default)]
struct Oracle {
    last_code: BTreeMap<SerialNumber, String>,
    tickets: Vec<Parked>,
    ever_revoked: BTreeSet<SerialNumber>,
    /// Successful online unlocks by (ID, the bank's calendar day).
    online_unlocks: BTreeMap<(String, u64), u32>,
    /// Right passwords evaluated: (operator, audit chain length then).
    clears: Vec<(String, u64)>,
    /// Approval passwords changed by `Op::ChangePassword`: the current
    /// one of each administrator who changed theirs.
    approvals: BTreeMap<String, String>,
    /// Armed by `Op::Inside` for the next step.
    armed: Option<(At, Server, Inner)>,
    /// Set by the hook when the inner operation has run.
    fired: Option<Fired>,
    /// Every signature accepted: the token and its signing counter.
    signed: BTreeSet<(SerialNumber, u64)>,
    /// The last response accepted for each keypad token.
    last_signature: BTreeMap<SerialNumber, String>,
}

struct World {
    banks: [Bank<Shared>; 2],
    /// The banks' store, shared, read by the oracle only (token secrets and
    /// states, to tell whether a code verifies).
    store: Shared,
    clock: SimClock,
    serials: Vec<SerialNumber>,
    tokens: Mutex<BTreeMap<SerialNumber, Token>>,
    slot: Mutex<Slot>,
    oracle: Mutex<Oracle>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Snapshot {
    users: BTreeMap<String, (Option<SerialNumber>, IdLock, Authority)>,
    tokens: BTreeMap<SerialNumber, (TokenStatus, TokenState)>,
    audit_head: u64,
}

impl Snapshot {
    fn locked(&self, who: &UserId) -> bool {
        self.users.get(who.as_str()).is_some_and(|u| u.1.locked)
    }

    fn token_of(&self, who: &UserId) -> Option<SerialNumber> {
        self.users.get(who.as_str()).and_then(|u| u.0)
    }

    /// The generation of the user's binding (moves on with every switch).
    fn binding(&self, who: &UserId) -> Option<u64> {
        self.users.get(who.as_str()).map(|u| u.1.binding)
    }

    fn is_admin(&self, who: &UserId) -> bool {
        self.users
            .get(who.as_str())
            .is_some_and(|u| u.2 == Authority::Administrator)
    }

    fn status(&self, serial: &SerialNumber) -> Option<&TokenStatus> {
        self.tokens.get(serial).map(|t| &t.0)
    }
}

fn id(who: Who) -> UserId {
    UserId::parse(match who {
        Who::Admin => "W0001",
        Who::General => "W0002",
        Who::NoToken => "W0005",
        Who::Unknown => "W0099",
        Who::Admin2 => "W0003",
    })
    .expect("a valid ID")
}

/// The approval password each administrator starts with.
fn initial_approval(operator: &UserId) -> Option<&'static str> {
    match operator.as_str() {
        "W0001" => Some(ADMIN_APPROVAL_PASSWORD),
        "W0003" => Some(ADMIN2_APPROVAL_PASSWORD),
        _ => None,
    }
}

/// What `Op::ChangePassword` appends to an initial approval password.
const CHANGED: &str = "-changed";

/// The password typed by `operator`, and whether it is the one the bank
/// must accept: their approval password now. Both administrators have one,
/// so the per-transfer password is never the right one.
fn password(w: &World, choice: &PasswordChoice, operator: &UserId) -> (Password, bool) {
    let right = w.approval_of(operator);
    match choice {
        PasswordChoice::Approval => (
            Password::new(right.as_deref().unwrap_or(ADMIN_APPROVAL_PASSWORD)),
            right.is_some(),
        ),
        PasswordChoice::Transfer => (Password::new(TRANSFER_PASSWORD), false),
        PasswordChoice::Other(p) => (Password::new(p), right.as_deref() == Some(p.as_str())),
    }
}

fn limit() -> u32 {
    Policy::default().max_wrong_entries.max(1)
}

impl World {
    fn bank(&self, on: Server) -> &Bank<Shared> {
        match on {
            Server::A => &self.banks[0],
            Server::B => &self.banks[1],
        }
    }

    /// The oracle's state. Never held across a call into a bank (an
    /// operation run inside that call takes it too).
    fn o(&self) -> MutexGuard<'_, Oracle> {
        self.oracle
            .try_lock()
            .expect("the oracle is not re-entered")
    }

    fn take_slot(&self) -> Slot {
        std::mem::replace(
            &mut *self.slot.try_lock().expect("slot not re-entered"),
            Slot::Empty,
        )
    }

    fn put_slot(&self, slot: Slot) {
        *self.slot.try_lock().expect("slot not re-entered") = slot;
    }

    /// Whether an operation ran inside the one that just returned (taken:
    /// only that one sees it).
    fn take_fired(&self) -> Option<Fired> {
        self.o().fired.take()
    }

    fn snapshot(&self) -> Snapshot {
        let records = self.banks[0].records();
        let page = records.users(0, 100).expect("users");
        Snapshot {
            users: page
                .users
                .iter()
                .map(|u| (u.id.as_str().to_owned(), (u.token, u.lock, u.authority)))
                .collect(),
            tokens: self
                .serials
                .iter()
                .map(|s| {
                    (
                        *s,
                        (
                            records.token_status(s).expect("token").expect("known"),
                            records.token_state(s).expect("state").expect("known"),
                        ),
                    )
                })
                .collect(),
            audit_head: records.audit_head().expect("head").map_or(0, |h| h.seq),
        }
    }

    fn policy(&self) -> &Policy {
        self.banks[0].policy()
    }

    /// The bank's calendar day now.
    fn day(&self) -> u64 {
        self.clock
            .now()
            .saturating_add_signed(self.policy().utc_offset_seconds)
            / 86_400
    }

    fn expired(&self, meta: &Meta) -> bool {
        self.clock.now() > meta.started.saturating_add(self.policy().session_ttl)
    }

    /// Presses "1" on the token now and reads the display.
    fn press(&self, serial: &SerialNumber) -> Option<String> {
        let now = self.clock.now();
        let mut tokens = self.tokens.try_lock().expect("tokens not re-entered");
        let screen = tokens.get_mut(serial)?.press(now).ok()?;
        screen.code().map(|c| c.to_string())
    }

    /// The response typed for `choice`: the keypad token's own to the
    /// bank's challenge for `tx` (typed on it now), the last accepted
    /// one, one with its last digit moved, or any text.
    fn response_for(
        &self,
        bank: &Bank<Shared>,
        user: &UserId,
        serial: Option<SerialNumber>,
        tx: &Transaction,
        choice: &SignChoice,
    ) -> String {
        let right = || -> Option<String> {
            let serial = serial?;
            let q = bank.transaction_challenge(user, tx).ok()?;
            let now = self.clock.now();
            let mut tokens = self.tokens.try_lock().expect("tokens not re-entered");
            let screen = tokens.get_mut(&serial)?.press_challenge(now, &q).ok()?;
            screen.response().map(|r| r.to_string())
        };
        match choice {
            SignChoice::Raw(t) => t.clone(),
            SignChoice::Previous => serial
                .and_then(|s| self.o().last_signature.get(&s).cloned())
                .unwrap_or_else(|| "000000".to_owned()),
            SignChoice::Right => right().unwrap_or_else(|| "000000".to_owned()),
            SignChoice::Offset(d) => right().map_or_else(
                || "000000".to_owned(),
                |r| {
                    let (head, last) = r.split_at(r.len() - 1);
                    let digit = last.bytes().next().unwrap_or(b'0') - b'0';
                    format!("{head}{}", (digit + 1 + d % 9) % 10)
                },
            ),
        }
    }

    fn code_for(&self, serial: Option<SerialNumber>, choice: &CodeChoice) -> String {
        let Some(serial) = serial.filter(|s| self.serials.contains(s)) else {
            return match choice {
                CodeChoice::Raw(t) => t.clone(),
                _ => "000000".to_owned(),
            };
        };
        match choice {
            CodeChoice::Raw(t) => t.clone(),
            CodeChoice::Previous => self
                .o()
                .last_code
                .get(&serial)
                .cloned()
                .unwrap_or_else(|| "000000".to_owned()),
            CodeChoice::Right | CodeChoice::Offset(_) => {
                let Some(code) = self.press(&serial) else {
                    return "000000".to_owned();
                };
                self.o().last_code.insert(serial, code.clone());
                match choice {
                    CodeChoice::Offset(d) => {
                        let v: u32 = code.parse().expect("six digits");
                        format!("{:06}", (v + d % 1_000_000) % 1_000_000)
                    }
                    _ => code,
                }
            }
        }
    }

    /// The verifier's verdict on `typed` for `serial` now, from its state
    /// in `snap`, as the bank runs it: the policy's window (or the
    /// first-use window) and no lock of the core's own (the policy's ID
    /// lock is the one lock authority). `None` for an unknown serial or a
    /// malformed code.
    fn verdict(
        &self,
        serial: &SerialNumber,
        typed: &str,
        first_use: bool,
        snap: &Snapshot,
    ) -> Option<Result<u64, Rejected>> {
        let entry = self.store.token(serial).ok()??;
        let state = snap.tokens.get(serial)?.1;
        let policy = self.policy();
        let params = Params {
            window: if first_use {
                policy.first_use_window
            } else {
                policy.window
            },
            max_failures: 0,
            mode: entry.seed.profile.mode,
            digits: entry.seed.profile.digits,
            ..Params::default()
        };
        // As the bank reads it: spaces between digit groups and
        // full-width digits forgiven (`normalize_code`).
        let code = Code::parse(&normalize_code(typed), params.digits).ok()?;
        let state = TokenState {
            locked: false,
            failures: 0,
            ..state
        };
        Some(
            verify(&entry.seed.key(), &params, &state, &code, self.clock.now())
                .outcome
                .map(|a| a.position()),
        )
    }

    /// Whether `typed` verifies for `serial` now (see [`World::verdict`]).
    fn would_verify(
        &self,
        serial: &SerialNumber,
        typed: &str,
        first_use: bool,
        snap: &Snapshot,
    ) -> bool {
        matches!(self.verdict(serial, typed, first_use, snap), Some(Ok(_)))
    }

    fn serial(&self, choice: &SerialChoice, snap: &Snapshot) -> String {
        let stock: Vec<SerialNumber> = snap
            .tokens
            .iter()
            .filter(|(_, st)| st.0 == TokenStatus::Unassigned)
            .map(|(s, _)| *s)
            .collect();
        match choice {
            SerialChoice::Stock(i) if !stock.is_empty() => {
                stock[usize::from(*i) % stock.len()].as_str().to_owned()
            }
            SerialChoice::Stock(_) => "VT0000000000".to_owned(),
            SerialChoice::Any(i) => self.serials[usize::from(*i) % self.serials.len()]
                .as_str()
                .to_ascii_lowercase(),
            SerialChoice::CurrentOf(w) => snap
                .token_of(&id(*w))
                .map_or_else(|| "-".to_owned(), |s| s.as_str().to_owned()),
            SerialChoice::Raw(t) => t.clone(),
        }
    }

    /// The password log written by the operation that started at `start`
    /// and just returned, without what an operation run inside it wrote.
    fn own_events(&self, start: usize, fired: Option<&Fired>) -> Vec<PasswordEvent> {
        let end = self.store.log_len();
        match fired {
            Some(f) => {
                let mut v = self.store.events(start..f.log.start);
                v.extend(self.store.events(f.log.end..end));
                v
            }
            None => self.store.events(start..end),
        }
    }

    /// The operator typed one password in the operation: each evaluation
    /// of it settled their password counter. A right password clears the
    /// counter (recorded as a clear at that point of the audit chain), a
    /// wrong one counts; returns whether a right one was evaluated.
    /// `operator`'s approval password now, if they have one.
    fn approval_of(&self, operator: &UserId) -> Option<String> {
        let changed = self.o().approvals.get(operator.as_str()).cloned();
        changed.or_else(|| initial_approval(operator).map(str::to_owned))
    }

    /// The password `Op::ChangePassword` sets for `operator`: the initial
    /// one with [`CHANGED`] appended, or back to the initial one.
    fn next_approval(&self, operator: &UserId) -> Option<String> {
        let initial = initial_approval(operator)?;
        let now = self.approval_of(operator)?;
        Some(if now == initial {
            format!("{initial}{CHANGED}")
        } else {
            initial.to_owned()
        })
    }

    fn password_settled(
        &self,
        operator: &UserId,
        right: bool,
        events: &[PasswordEvent],
        op: &Op,
    ) -> bool {
        let mut cleared = false;
        for e in events
            .iter()
            .filter(|e| e.user == operator.as_str() && e.settled())
        {
            if e.counted_wrong() {
                assert!(!right, "{op:?}: a right password counted as wrong");
            } else {
                assert!(right, "{op:?}: a wrong password evaluated and not counted");
                assert!(!cleared, "{op:?}: one password evaluated twice");
                cleared = true;
                self.o().clears.push((e.user.clone(), e.seq));
            }
        }
        cleared
    }
}

#[allow(clippy::too_many_lines, reason = "one check per property")]
fn check_invariants(w: &World, before: &Snapshot, after: &Snapshot, op: &Op, ok: bool) {
    // One token per user, one user per token, statuses agree.
    let mut bound = BTreeSet::new();
    for (user, (token, _, _)) in &after.users {
        if let Some(t) = token {
            assert!(bound.insert(*t), "token bound to two users");
            assert_eq!(
                after.status(t),
                Some(&TokenStatus::Assigned(UserId::parse(user).expect("id"))),
                "{user}'s token is not Assigned to them"
            );
        }
    }
    let ever_revoked = w.o().ever_revoked.clone();
    for (serial, (status, _)) in &after.tokens {
        if let TokenStatus::Assigned(u) = status {
            assert_eq!(
                after.users.get(u.as_str()).and_then(|x| x.0),
                Some(*serial),
                "an assigned token is not its user's"
            );
        }
        match (before.status(serial), status) {
            (Some(a), b) if a == b => {}
            (Some(TokenStatus::Unassigned), TokenStatus::Assigned(_)) => {}
            (Some(TokenStatus::Assigned(_)), TokenStatus::Revoked) => {}
            (a, b) => panic!("token status moved {a:?} -> {b:?} on {op:?}"),
        }
        if ever_revoked.contains(serial) {
            assert_eq!(*status, TokenStatus::Revoked, "a revoked token came back");
        }
    }
    // Bindings change only through a successful switch.
    let bindings = |s: &Snapshot| {
        s.users
            .iter()
            .map(|(u, x)| (u.clone(), x.0))
            .collect::<Vec<_>>()
    };
    if bindings(before) != bindings(after) {
        assert!(ok, "a refused operation changed a binding: {op:?}");
        assert!(
            matches!(
                op,
                Op::Confirm(..) | Op::Unregister(..) | Op::BranchRevoke(_) | Op::BranchRegister(..)
            ),
            "{op:?} changed a binding"
        );
    }
    // Users and their authority change only at set-up.
    assert_eq!(
        before
            .users
            .iter()
            .map(|(u, x)| (u, x.2))
            .collect::<Vec<_>>(),
        after
            .users
            .iter()
            .map(|(u, x)| (u, x.2))
            .collect::<Vec<_>>(),
        "users changed on {op:?}"
    );
    // Only a successful unlock clears a lock.
    for (user, (_, lock, _)) in &before.users {
        if lock.locked && !after.users.get(user).is_some_and(|x| x.1.locked) {
            assert!(
                ok && matches!(
                    op,
                    Op::Unlock(_, t, _) | Op::BranchUnlock(t) if id(*t).as_str() == user
                ),
                "{user}'s lock cleared by {op:?}"
            );
        }
    }
    // No ID is unlocked online more than the policy's cap on one day.
    let cap = w.policy().max_unlocks_per_day;
    for ((user, day), n) in &w.o().online_unlocks {
        assert!(*n <= cap, "{user} unlocked online {n} times on day {day}");
    }
    // The keyed chain verifies up to its stored head on both servers, only
    // grows, and holds no password.
    for bank in &w.banks {
        let head = bank.verify_audit().expect("the audit chain verifies");
        assert_eq!(head, after.audit_head);
    }
    assert!(
        after.audit_head >= before.audit_head,
        "the audit chain shrank on {op:?}"
    );
    let chain = w.banks[0].records().audit_chain().expect("chain");
    for record in chain.iter().filter(|r| r.seq > before.audit_head) {
        let text = format!("{:?}", record.entry);
        for secret in [
            ADMIN_APPROVAL_PASSWORD,
            ADMIN2_APPROVAL_PASSWORD,
            TRANSFER_PASSWORD,
        ] {
            assert!(!text.contains(secret), "a password in the audit trail");
        }
    }
}

/// After every step (and whatever ran inside it): no attempt left
/// reserved; no accepted login with a token after the record of the switch
/// that revoked it; no ID with more wrong approval passwords in the audit
/// trail since its last clear than the limit.
fn check_step(w: &World, after: &Snapshot) {
    for (user, (_, lock, _)) in &after.users {
        assert_eq!(
            (lock.codes.pending, lock.passwords.pending),
            (0, 0),
            "{user}: an attempt left reserved after the step"
        );
    }
    let chain = w.banks[0].records().audit_chain().expect("chain");
    let mut revoked: BTreeSet<String> = BTreeSet::new();
    for r in &chain {
        let e = &r.entry;
        if e.result != AuditResult::Ok {
            continue;
        }
        match e.action {
            Action::Exchange | Action::Unregister | Action::BranchRevoke => {
                if let Some(old) = &e.old_serial {
                    revoked.insert(old.clone());
                }
            }
            Action::Login => {
                let serial = e.old_serial.as_ref().expect("a login names its token");
                assert!(
                    !revoked.contains(serial),
                    "record {}: {serial} logged in after its revocation",
                    r.seq
                );
            }
            _ => {}
        }
    }
    let clears = w.o().clears.clone();
    let mut clears = clears.iter().peekable();
    let mut since: BTreeMap<String, u32> = BTreeMap::new();
    for r in &chain {
        while let Some((user, _)) = clears.next_if(|(_, seq)| *seq < r.seq) {
            since.insert(user.clone(), 0);
        }
        let e = &r.entry;
        if e.action == Action::Unlock
            && e.result == AuditResult::Ok
            && let Some(t) = &e.target
        {
            since.insert(t.as_str().to_owned(), 0);
        }
        if e.reason.as_deref() == Some(Refusal::WrongPassword.reason_code()) {
            let n = since.entry(e.operator.clone()).or_default();
            *n += 1;
            assert!(
                *n <= limit(),
                "record {}: {} has {n} wrong passwords since the last clear",
                r.seq,
                e.operator
            );
        }
    }
}

fn refusal_of<T>(r: &Result<T, Refusal>) -> Option<&Refusal> {
    r.as_ref().err()
}

/// Runs one operation on server `on` and checks what it promises.
#[allow(clippy::too_many_lines, reason = "one arm per operation")]
fn exec(w: &World, on: Server, op: &Op, depth: usize) -> bool {
    let bank = w.bank(on);
    let before = w.snapshot();
    let log_start = w.store.log_len();
    // The snapshot right after an operation that ran inside this one
    // (between its read and its commit), if one did.
    let mut mid: Option<Fired> = None;
    let ok: bool = match op {
        Op::Advance(secs) => {
            w.clock.advance(u64::from(*secs));
            true
        }
        Op::AdvanceFar(secs) => {
            w.clock.advance(u64::from(*secs));
            true
        }
        Op::Inside(at, server, inner) => {
            w.o().armed = Some((*at, *server, inner.clone()));
            true
        }
        Op::Exchange(op_who, target, stock) => {
            // A flow of its own: the current one waits.
            let saved = w.take_slot();
            let has_token = before.token_of(&id(*target)).is_some();
            let mut ok = if has_token {
                exec(w, on, &Op::BeginExchange(*op_who, *target), depth)
                    && exec(w, on, &Op::SubmitCode(CodeChoice::Right), depth)
            } else {
                exec(w, on, &Op::BeginRegistration(*op_who, *target), depth)
            };
            if ok {
                ok = exec(
                    w,
                    on,
                    &Op::Confirm(
                        SerialChoice::Stock(*stock),
                        CodeChoice::Right,
                        PasswordChoice::Approval,
                    ),
                    depth,
                );
            }
            w.put_slot(saved);
            // Each part was checked on its own.
            return ok;
        }
        Op::BeginExchange(op_who, target) => {
            let (operator, target) = (id(*op_who), id(*target));
            let r = bank.begin_exchange(&operator, &target);
            if before.locked(&operator) || before.locked(&target) {
                assert!(r.is_err(), "a locked ID began an exchange");
            }
            if operator == target {
                assert!(r.is_err(), "an administrator began their own exchange");
            }
            match r {
                Ok(state) => {
                    assert!(before.is_admin(&operator));
                    assert!(before.token_of(&target).is_some());
                    assert_eq!(state.old_serial(), before.token_of(&target));
                    let meta = Meta {
                        started: w.clock.now(),
                        old: state.old_serial(),
                        binding: before.binding(&target).expect("a user"),
                    };
                    w.put_slot(Slot::Current(state, meta));
                    true
                }
                Err(_) => false,
            }
        }
        Op::BeginRegistration(op_who, target) => {
            let (operator, target) = (id(*op_who), id(*target));
            let r = bank.begin_registration(&operator, &target);
            if before.locked(&operator) || before.locked(&target) {
                assert!(r.is_err(), "a locked ID began a registration");
            }
            if operator == target {
                assert!(r.is_err(), "an administrator began their own registration");
            }
            match r {
                Ok(state) => {
                    assert!(before.is_admin(&operator));
                    assert!(before.token_of(&target).is_none());
                    let meta = Meta {
                        started: w.clock.now(),
                        old: None,
                        binding: before.binding(&target).expect("a user"),
                    };
                    w.put_slot(Slot::New(state, meta));
                    true
                }
                Err(_) => false,
            }
        }
        Op::SubmitCode(choice) => match w.take_slot() {
            Slot::Current(state, meta) => {
                let (operator, target) = (state.parties().0.clone(), state.parties().1.clone());
                let old = state.old_serial();
                assert_eq!(old, meta.old);
                let typed = w.code_for(old, choice);
                let verifies = old.is_some_and(|s| w.would_verify(&s, &typed, false, &before));
                // What the step checks before reading the code, in order.
                let early = if w.expired(&meta) {
                    Some(Refusal::SessionExpired)
                } else if before.locked(&operator) {
                    Some(Refusal::OperatorLocked)
                } else if before.locked(&target) {
                    Some(Refusal::UserLocked)
                } else if before.token_of(&target) != old
                    || before.binding(&target) != Some(meta.binding)
                {
                    Some(Refusal::Conflict)
                } else {
                    None
                };
                let r = state.submit_code(bank, &typed);
                mid = w.take_fired();
                let commit = mid.as_ref().map_or(&before, |f| &f.after);
                match r {
                    Ok(next) => {
                        assert_eq!(early, None, "screen 4 passed a session that must stop");
                        assert!(verifies, "submit_code accepted a code that does not verify");
                        assert!(!before.locked(&target), "a locked user passed screen 4");
                        assert!(
                            !before.locked(&operator),
                            "a locked administrator passed screen 4"
                        );
                        // At commit: the user unlocked, the token still
                        // theirs and never revoked, the code verifying
                        // against its state then.
                        let old = old.expect("an exchange has a current token");
                        assert!(
                            !commit.locked(&target),
                            "screen 4 committed for a user locked at commit"
                        );
                        assert!(
                            !commit.locked(&operator),
                            "screen 4 committed for an administrator locked at commit"
                        );
                        assert_eq!(
                            commit.token_of(&target),
                            Some(old),
                            "screen 4 passed with a token no longer the user's"
                        );
                        assert!(
                            !w.o().ever_revoked.contains(&old),
                            "screen 4 passed with a revoked token's code"
                        );
                        assert!(w.would_verify(&old, &typed, false, commit));
                        w.put_slot(Slot::New(next, meta));
                        true
                    }
                    Err(retry) => {
                        if let Some(expected) = &early {
                            assert_eq!(&retry.refusal, expected, "screen 4 after {meta:?}");
                            assert!(retry.resume.is_none(), "the flow must end");
                        }
                        if mid.is_some() {
                            // It read everything and was about to commit:
                            // read again, the operator first.
                            if commit.locked(&operator) {
                                assert_eq!(retry.refusal, Refusal::OperatorLocked);
                            } else if commit.locked(&target) {
                                assert_eq!(retry.refusal, Refusal::UserLocked);
                            } else if commit.token_of(&target) != old {
                                assert_eq!(retry.refusal, Refusal::Conflict);
                            }
                        }
                        if let Some(state) = retry.resume {
                            w.put_slot(Slot::Current(state, meta));
                        }
                        false
                    }
                }
            }
            other => {
                w.put_slot(other);
                false
            }
        },
        Op::NoCurrentToken => match w.take_slot() {
            Slot::Current(state, _) => {
                assert_eq!(state.no_current_token(bank), Refusal::BranchRequired);
                false
            }
            other => {
                w.put_slot(other);
                false
            }
        },
        Op::Confirm(serial_choice, code_choice, pw) => match w.take_slot() {
            Slot::New(state, meta) => {
                let (operator, target) = (state.parties().0.clone(), state.parties().1.clone());
                let text = w.serial(serial_choice, &before);
                let parsed = SerialNumber::parse(&text).ok();
                let typed = w.code_for(parsed, code_choice);
                let code_ok = parsed.is_some_and(|s| {
                    before.status(&s) == Some(&TokenStatus::Unassigned)
                        && w.would_verify(&s, &typed, true, &before)
                });
                let (password, password_ok) = password(w, pw, &operator);
                let early = if w.expired(&meta) {
                    Some(Refusal::SessionExpired)
                } else if before.locked(&operator) {
                    Some(Refusal::OperatorLocked)
                } else if before.locked(&target) {
                    Some(Refusal::UserLocked)
                } else if before.token_of(&target) != meta.old
                    || before.binding(&target) != Some(meta.binding)
                {
                    Some(Refusal::Conflict)
                } else {
                    None
                };
                let r = state.confirm(bank, &text, &typed, &password);
                mid = w.take_fired();
                let commit = mid.as_ref().map_or(&before, |f| &f.after);
                let events = w.own_events(log_start, mid.as_ref());
                let cleared = w.password_settled(&operator, password_ok, &events, op);
                if let Some(f) = &mid {
                    // Everything was checked; the switch decides at commit:
                    // the records first (a changed binding or new token is
                    // a conflict), then the locks (a changed lock, and the
                    // binding's generation in the user's, is read again: a
                    // locked ID refuses).
                    let c = &f.after;
                    let expected = if c.token_of(&target) != meta.old
                        || parsed.and_then(|p| c.status(&p).cloned())
                            != Some(TokenStatus::Unassigned)
                    {
                        Err(Refusal::Conflict)
                    } else if c.locked(&operator) {
                        Err(Refusal::OperatorLocked)
                    } else if c.locked(&target) {
                        Err(Refusal::UserLocked)
                    } else if c.binding(&target) != Some(meta.binding) {
                        Err(Refusal::Conflict)
                    } else {
                        Ok(())
                    };
                    let got = r.as_ref().map(|_| ()).map_err(|e| e.refusal.clone());
                    assert_eq!(got, expected, "the switch at commit after {meta:?}");
                }
                match r {
                    Ok(done) => {
                        assert_eq!(early, None, "confirmed a session that must stop");
                        assert!(code_ok, "confirm without a verifying new-token code");
                        assert!(password_ok, "confirm without the approval password");
                        assert!(cleared, "confirmed without evaluating the password");
                        assert!(!before.locked(&target) && !before.locked(&operator));
                        assert!(
                            !commit.locked(&target) && !commit.locked(&operator),
                            "a switch committed for an ID locked at commit"
                        );
                        assert_ne!(operator, target, "an administrator's own token switched");
                        assert_eq!(Some(done.new_serial), parsed);
                        assert_eq!(done.user, target);
                        assert_eq!(done.old_serial, before.token_of(&target));
                        assert_eq!(done.old_serial, meta.old);
                        assert_eq!(done.old_serial, commit.token_of(&target));
                        if let Some(old) = done.old_serial {
                            let mut o = w.o();
                            assert!(
                                !o.ever_revoked.contains(&old),
                                "an exchange completed with a revoked token"
                            );
                            o.ever_revoked.insert(old);
                        }
                        true
                    }
                    Err(retry) => {
                        if let Some(expected) = &early {
                            assert_eq!(&retry.refusal, expected, "screen 5 after {meta:?}");
                            assert!(retry.resume.is_none(), "the flow must end");
                        }
                        if let Some(state) = retry.resume {
                            w.put_slot(Slot::New(state, meta));
                        }
                        false
                    }
                }
            }
            other => {
                w.put_slot(other);
                false
            }
        },
        Op::Park => {
            let made = match w.take_slot() {
                Slot::Current(state, meta) => {
                    let operator = state.parties().0.clone();
                    Some((state.into_ticket(bank), operator, meta, false))
                }
                Slot::New(state, meta) => {
                    let operator = state.parties().0.clone();
                    Some((state.into_ticket(bank), operator, meta, true))
                }
                Slot::Empty => None,
            };
            match made {
                Some((Ok(ticket), operator, meta, at_new)) => {
                    w.o().tickets.push(Parked {
                        ticket,
                        operator,
                        used: false,
                        meta,
                        at_new,
                    });
                    true
                }
                _ => false,
            }
        }
        Op::Resume(who, choice) => {
            let operator = id(*who);
            let (text, genuine) = {
                let o = w.o();
                match choice {
                    TicketChoice::Saved(i) if !o.tickets.is_empty() => {
                        let i = usize::from(*i) % o.tickets.len();
                        (o.tickets[i].ticket.as_str().to_owned(), Some(i))
                    }
                    TicketChoice::Tampered(i, at, byte) if !o.tickets.is_empty() => {
                        let original = o.tickets[usize::from(*i) % o.tickets.len()].ticket.as_str();
                        let mut bytes = original.as_bytes().to_vec();
                        let at = usize::from(*at) % bytes.len();
                        bytes[at] = *byte;
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        if text == original {
                            return false;
                        }
                        (text, None)
                    }
                    TicketChoice::Random(bytes) => {
                        (String::from_utf8_lossy(bytes).into_owned(), None)
                    }
                    TicketChoice::Text(t) => (t.clone(), None),
                    _ => (String::new(), None),
                }
            };
            let r = bank.resume(&operator, &Ticket::from_text(&text));
            if r.is_ok() {
                assert!(
                    !before.locked(&operator),
                    "a locked administrator resumed a session"
                );
            }
            let meta = match genuine {
                None => {
                    assert!(r.is_err(), "a forged or tampered ticket was accepted");
                    None
                }
                Some(i) => {
                    let mut o = w.o();
                    let parked = &mut o.tickets[i];
                    // The order `Bank::resume` checks in.
                    let expected = if parked.operator != operator {
                        Err(Refusal::SessionInvalid)
                    } else if before.locked(&operator) {
                        Err(Refusal::OperatorLocked)
                    } else if w.expired(&parked.meta) {
                        Err(Refusal::SessionExpired)
                    } else if parked.used {
                        Err(Refusal::SessionUsed)
                    } else {
                        Ok(parked.at_new)
                    };
                    let got = match &r {
                        Ok(Pending::ExpectCurrentCode(_)) => Ok(false),
                        Ok(Pending::ExpectNewToken(_)) => Ok(true),
                        Err(e) => Err(e.clone()),
                    };
                    assert_eq!(got, expected, "resume of a ticket {:?}", parked.meta);
                    if r.is_ok() {
                        parked.used = true;
                    }
                    Some(parked.meta)
                }
            };
            match (r, meta) {
                (Ok(Pending::ExpectCurrentCode(state)), Some(meta)) => {
                    w.put_slot(Slot::Current(state, meta));
                    true
                }
                (Ok(Pending::ExpectNewToken(state)), Some(meta)) => {
                    w.put_slot(Slot::New(state, meta));
                    true
                }
                (Ok(_), None) => unreachable!("checked above"),
                (Err(_), _) => false,
            }
        }
        Op::Login(who, choice) => {
            let user = id(*who);
            let token = before.token_of(&user);
            let typed = w.code_for(token.or_else(|| w.serials.first().copied()), choice);
            let verdict = token.and_then(|t| w.verdict(&t, &typed, false, &before));
            let r = bank.login(&user, &typed);
            mid = w.take_fired();
            let commit = mid.as_ref().map_or(&before, |f| &f.after);
            match &r {
                Ok(proof) => {
                    assert!(
                        matches!(verdict, Some(Ok(_))),
                        "a login with a code that does not verify"
                    );
                    assert!(!before.locked(&user), "a locked user logged in");
                    assert_eq!(Some(proof.serial()), token);
                    assert!(
                        !commit.locked(&user),
                        "a login committed for a user locked at commit"
                    );
                    assert_eq!(
                        commit.token_of(&user),
                        token,
                        "a login committed with a token no longer the user's"
                    );
                    let token = token.expect("logged in without a token");
                    assert!(
                        !w.o().ever_revoked.contains(&token),
                        "a revoked token's code logged in"
                    );
                    assert!(w.would_verify(&token, &typed, false, commit));
                }
                Err(refusal) => {
                    let well_formed = [Digits::Six, Digits::Seven, Digits::Eight]
                        .into_iter()
                        .any(|d| Code::parse(&normalize_code(&typed), d).is_ok());
                    if !well_formed {
                        // The typing rules are checked before the ID is
                        // looked up: the same answer for every ID.
                        assert!(
                            matches!(refusal, Refusal::Code(Which::Current, _)),
                            "{op:?}: {refusal:?}"
                        );
                    } else if token.is_none()
                        || before.locked(&user)
                        || matches!(
                            verdict,
                            None | Some(Err(Rejected::Invalid | Rejected::DigitsMismatch))
                        )
                        || (mid.is_some()
                            && (commit.locked(&user) || commit.token_of(&user) != token))
                    {
                        // One refusal for an unknown ID, an ID without a
                        // token, a locked ID and a wrong code, and for a
                        // token revoked or an ID locked before the commit:
                        // nothing tells them apart.
                        assert_eq!(*refusal, Refusal::LoginFailed, "{op:?}");
                    }
                }
            }
            r.is_ok()
        }
        Op::SignIn(who, password_ok, choice) => {
            let user = id(*who);
            // Every scenario user has the login password; W0003 and the
            // unknown ID have none.
            let has_password = matches!(who, Who::Admin | Who::General | Who::NoToken);
            let token = before.token_of(&user);
            let typed = w.code_for(token.or_else(|| w.serials.first().copied()), choice);
            let verdict = token.and_then(|t| w.verdict(&t, &typed, false, &before));
            let password = Password::new(if *password_ok {
                LOGIN_PASSWORD
            } else {
                "not-the-login-password"
            });
            let r = bank.sign_in(&user, &password, &typed);
            mid = w.take_fired();
            let commit = mid.as_ref().map_or(&before, |f| &f.after);
            // An empty code is read as "none" (a user who uses no one-time
            // password), decided after the lookup like any other failure.
            let well_formed = normalize_code(&typed).is_empty()
                || [Digits::Six, Digits::Seven, Digits::Eight]
                    .into_iter()
                    .any(|d| Code::parse(&normalize_code(&typed), d).is_ok());
            match &r {
                Ok(signed) => {
                    assert!(
                        has_password && *password_ok,
                        "a sign-in without the login password"
                    );
                    assert!(
                        matches!(verdict, Some(Ok(_))),
                        "a sign-in with a code that does not verify"
                    );
                    assert!(!before.locked(&user), "a locked user signed in");
                    assert_eq!(signed.serial(), token);
                    assert_eq!(signed.user(), &user);
                    assert!(
                        !commit.locked(&user),
                        "a sign-in committed for a user locked at commit"
                    );
                    assert_eq!(commit.token_of(&user), token);
                    let token = token.expect("signed in without a token");
                    assert!(
                        !w.o().ever_revoked.contains(&token),
                        "a revoked token's code signed in"
                    );
                    assert!(w.would_verify(&token, &typed, false, commit));
                    assert!(
                        signed
                            .previous_login()
                            .is_none_or(|p| p <= signed.this_login())
                    );
                }
                Err(refusal) => {
                    if well_formed {
                        // Whatever failed, one answer (a store failure
                        // aside): nothing tells the parts apart.
                        assert!(
                            matches!(refusal, Refusal::LoginFailed | Refusal::Internal(_)),
                            "{op:?}: {refusal:?}"
                        );
                    } else {
                        assert!(
                            matches!(refusal, Refusal::Code(Which::Current, _)),
                            "{op:?}: {refusal:?}"
                        );
                    }
                }
            }
            r.is_ok()
        }
        Op::Unregister(op_who, target, code, pw) => {
            let (operator, target) = (id(*op_who), id(*target));
            let token = before.token_of(&target);
            let typed = w.code_for(token.or_else(|| w.serials.first().copied()), code);
            let verifies = token.is_some_and(|t| w.would_verify(&t, &typed, false, &before));
            let (password, password_ok) = password(w, pw, &operator);
            let r = bank.unregister(&operator, &target, &typed, &password);
            mid = w.take_fired();
            let commit = mid.as_ref().map_or(&before, |f| &f.after);
            let events = w.own_events(log_start, mid.as_ref());
            let cleared = w.password_settled(&operator, password_ok, &events, op);
            if operator == target {
                assert!(r.is_err(), "an administrator unregistered their own token");
            }
            if r.is_ok() {
                assert!(password_ok, "unregistered without the approval password");
                assert!(cleared, "unregistered without evaluating the password");
                assert!(verifies, "unregistered without a code from the token");
                assert!(
                    !before.locked(&operator),
                    "a locked administrator unregistered"
                );
                assert!(
                    !before.locked(&target),
                    "a locked user's token unregistered"
                );
                assert!(
                    !commit.locked(&operator) && !commit.locked(&target),
                    "unregistered for an ID locked at commit"
                );
                let old = token.expect("unregistered a user without a token");
                assert_eq!(
                    commit.token_of(&target),
                    Some(old),
                    "unregistered a token no longer the user's"
                );
                let mut o = w.o();
                assert!(
                    !o.ever_revoked.contains(&old),
                    "unregistered with a revoked token's code"
                );
                o.ever_revoked.insert(old);
            }
            r.is_ok()
        }
        Op::Lock(op_who, target) => {
            let r = bank.lock(&id(*op_who), &id(*target));
            if before.locked(&id(*op_who)) {
                assert!(r.is_err(), "a locked administrator locked an ID");
            }
            r.is_ok()
        }
        Op::Unlock(op_who, target, pw) => {
            let (operator, target) = (id(*op_who), id(*target));
            let (password, password_ok) = password(w, pw, &operator);
            let day = w.day();
            let r = bank.unlock(&operator, &target, &password);
            let events = w.own_events(log_start, None);
            let cleared = w.password_settled(&operator, password_ok, &events, op);
            if before.locked(&operator) {
                assert!(r.is_err(), "a locked administrator unlocked an ID");
            }
            if operator == target {
                assert!(r.is_err(), "an administrator unlocked their own ID");
            }
            let operator_may_act =
                before.is_admin(&operator) && !before.locked(&operator) && operator != target;
            if operator_may_act && before.is_admin(&target) {
                assert_eq!(
                    r,
                    Err(Refusal::BranchUnlockRequired),
                    "an administrator's ID unlocked online"
                );
            }
            let cap = w.policy().max_unlocks_per_day;
            let spent = before
                .users
                .get(target.as_str())
                .is_some_and(|u| u.1.unlock_day == day && u.1.unlocks >= cap);
            if operator_may_act && spent && !before.is_admin(&target) {
                assert_eq!(r, Err(Refusal::UnlockLimit), "an ID unlocked past the cap");
            }
            if r.is_ok() {
                assert!(password_ok, "unlocked without the approval password");
                assert!(cleared, "unlocked without evaluating the password");
                assert!(
                    !w.snapshot().locked(&target),
                    "an unlocked ID is still locked"
                );
                *w.o()
                    .online_unlocks
                    .entry((target.as_str().to_owned(), day))
                    .or_default() += 1;
            }
            r.is_ok()
        }
        Op::Sign(who, amount, choice) => {
            let user = id(*who);
            let token = before.token_of(&user);
            let tx = Transaction::new(u64::from(*amount).saturating_add(1), "1234567")
                .expect("a transaction");
            let typed = w.response_for(bank, &user, token, &tx, choice);
            let r = bank.sign_transaction(&user, &tx, &typed);
            mid = w.take_fired();
            let commit = mid.as_ref().map_or(&before, |f| &f.after);
            if let Ok(signed) = &r {
                let token = token.expect("signed without a token");
                assert_eq!(signed.serial(), token);
                assert!(!before.locked(&user), "a locked user signed");
                assert!(
                    !commit.locked(&user),
                    "a signature committed for a user locked at commit"
                );
                assert_eq!(
                    commit.token_of(&user),
                    Some(token),
                    "a signature committed with a token no longer the user's"
                );
                assert!(
                    !w.o().ever_revoked.contains(&token),
                    "a revoked token signed"
                );
                let counter = signed.counter().expect("the keypads here count");
                assert!(
                    w.o().signed.insert((token, counter)),
                    "a signature accepted twice: {token:?} at counter {counter}"
                );
                // The response is the token's own for this transfer's
                // challenge at that counter, computed apart from the bank.
                let entry = w.store.token(&token).expect("store").expect("token");
                let suite = entry.seed.suite.expect("a keypad token");
                let key = entry.seed.signing_key().expect("a signing key");
                let q = bank
                    .transaction_challenge_in(&user, &tx, &suite)
                    .expect("a challenge");
                let expected =
                    otp_core::ocra(&key, &suite, &OcraInput::new(&q).with_counter(counter))
                        .expect("a response");
                assert_eq!(expected.to_string(), normalize_code(&typed));
                w.o().last_signature.insert(token, typed.clone());
            } else if let Err(refusal) = &r {
                if token.is_none() {
                    assert!(
                        matches!(refusal, Refusal::NoTokenRegistered | Refusal::UnknownUser),
                        "{op:?}: {refusal:?}"
                    );
                }
            }
            r.is_ok()
        }
        Op::ChangePassword(who, pw) => {
            let user = id(*who);
            let (current, current_ok) = password(w, pw, &user);
            let next = w.next_approval(&user);
            let new = Password::new(next.as_deref().unwrap_or("a-new-password"));
            let r = bank.change_password(&user, PasswordKind::Approval, &current, &new);
            let events = w.own_events(log_start, None);
            let cleared = w.password_settled(&user, current_ok, &events, op);
            if before.locked(&user) {
                assert!(r.is_err(), "a locked ID changed its password");
            }
            if !current_ok {
                assert!(r.is_err(), "a password changed without the current one");
            }
            if r.is_ok() {
                assert!(
                    cleared,
                    "a password changed without evaluating the current one"
                );
                let next = next.expect("only an administrator has an approval password");
                w.o().approvals.insert(user.as_str().to_owned(), next);
            }
            r.is_ok()
        }
        Op::BranchRevoke(target) => {
            let target = id(*target);
            let auth = BranchAuthorization::new("B-001", "REQ-1");
            let r = bank.branch_revoke(&auth, &target);
            mid = w.take_fired();
            let commit = mid.as_ref().map_or(&before, |f| &f.after);
            if let Some(f) = &mid {
                // Read one token, about to revoke it: refused if it is no
                // longer the user's.
                if f.after.token_of(&target) != before.token_of(&target) {
                    assert_eq!(r, Err(Refusal::Conflict), "a stale branch revocation");
                }
            }
            if r.is_ok() {
                let old = before
                    .token_of(&target)
                    .expect("the branch revoked the token of a user without one");
                assert_eq!(commit.token_of(&target), Some(old));
                w.o().ever_revoked.insert(old);
            }
            r.is_ok()
        }
        Op::UserList(who) => {
            let r = bank.user_list(&id(*who), 0, 5);
            if before.locked(&id(*who)) {
                assert!(r.is_err(), "a locked administrator listed users");
            }
            if let Ok(list) = &r {
                assert_eq!(list.total, 4);
            }
            r.is_ok()
        }
        Op::BranchUnlock(target) => {
            let target = id(*target);
            let auth = BranchAuthorization::new("B-002", "REQ-2");
            let r = bank.branch_unlock(&auth, &target);
            // The branch unlocks any ID it knows, administrators included.
            assert_eq!(r.is_ok(), before.users.contains_key(target.as_str()));
            if r.is_ok() {
                assert!(!w.snapshot().locked(&target), "still locked");
            }
            r.is_ok()
        }
        Op::BranchRegister(target, serial_choice, code_choice) => {
            let target = id(*target);
            let text = w.serial(serial_choice, &before);
            let parsed = SerialNumber::parse(&text).ok();
            let typed = w.code_for(parsed, code_choice);
            let code_ok = parsed.is_some_and(|s| {
                before.status(&s) == Some(&TokenStatus::Unassigned)
                    && w.would_verify(&s, &typed, true, &before)
            });
            let auth = BranchAuthorization::new("B-003", "REQ-3");
            let r = bank.branch_register(&auth, &target, &text, &typed);
            mid = w.take_fired();
            let commit = mid.as_ref().map_or(&before, |f| &f.after);
            if mid.is_some()
                && (commit.token_of(&target).is_some()
                    || parsed.and_then(|p| commit.status(&p).cloned())
                        != Some(TokenStatus::Unassigned))
            {
                assert_eq!(
                    refusal_of(&r),
                    Some(&Refusal::Conflict),
                    "a stale branch registration"
                );
            }
            if let Ok(serial) = &r {
                assert!(code_ok, "the branch registered without a verifying code");
                assert_eq!(Some(*serial), parsed);
                assert!(before.token_of(&target).is_none());
                assert!(!before.locked(&target), "registered for a locked ID");
            }
            r.is_ok()
        }
    };
    let after = w.snapshot();
    if print_ops() {
        // The reason of the operation's last audit record, if refused.
        let reason = if ok || after.audit_head == before.audit_head {
            String::new()
        } else {
            w.banks[0]
                .records()
                .audit_chain()
                .expect("chain")
                .last()
                .and_then(|r| r.entry.reason.clone())
                .map_or_else(String::new, |r| format!(" ({r})"))
        };
        let indent = if depth > 0 { "    inside: " } else { "" };
        eprintln!(
            "{indent}{on:?} {op:?} -> {}{reason}",
            if ok { "ok" } else { "refused" }
        );
    }
    let from = mid.as_ref().map_or(&before, |f| &f.after);
    check_invariants(w, from, &after, op, ok);
    ok
}

/// One step of the input: arms the gate if the previous step asked for
/// it, runs the operation, checks the step's properties.
fn step(w: &Arc<World>, s: &Step) {
    let armed = if matches!(s.op, Op::Inside(..)) {
        None
    } else {
        w.o().armed.take()
    };
    if let Some((at, server, inner)) = armed {
        let weak: Weak<World> = Arc::downgrade(w);
        w.store.arm(
            at,
            Box::new(move || {
                let Some(w) = weak.upgrade() else { return };
                let start = w.store.log_len();
                exec(&w, server, &inner.to_op(), 1);
                let after = w.snapshot();
                let end = w.store.log_len();
                w.o().fired = Some(Fired {
                    after,
                    log: start..end,
                });
            }),
        );
    }
    exec(w, s.on, &s.op, 0);
    if w.store.disarm() && print_ops() {
        eprintln!("    (the operation never reached the gate)");
    }
    // Whoever ran inside was seen by the operation it ran in.
    assert!(w.o().fired.is_none(), "an inner operation nobody saw");
    check_step(w, &w.snapshot());
}

/// `FUZZ_PRINT=1` prints each input's operations, then each one's outcome
/// as it runs (to read a crash file).
fn print_ops() -> bool {
    static PRINT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PRINT.get_or_init(|| std::env::var_os("FUZZ_PRINT").is_some())
}

fuzz_target!(|steps: Vec<Step>| {
    if print_ops() {
        for s in steps.iter().take(MAX_OPS) {
            eprintln!("{:?} {:?}", s.on, s.op);
        }
        eprintln!("--");
    }
    let store: Shared = Arc::new(Gate::new(MemoryStore::new()));
    let mut scenario =
        Scenario::setup(Arc::clone(&store), START, HashCost::TESTING).expect("the seed's bank");
    // Two keypad (signing) tokens in stock, for exchanges and
    // registrations to bind and `Op::Sign` to use.
    for suite in ["OCRA-1:HOTP-SHA256-8:C-QN08", "OCRA-1:HOTP-SHA1-6:C-QA08"] {
        scenario
            .add_keypad_token(suite.parse().expect("a suite"))
            .expect("a keypad token");
    }
    let Scenario {
        bank,
        clock,
        tokens,
        ..
    } = scenario;
    let bank = bank.with_session_key(SESSION_KEY);
    let branch = BranchAuthorization::new("B-000", "fuzz-setup");
    let admin2 = id(Who::Admin2);
    bank.enroll_user(&branch, &admin2, "しんきん花子", Authority::Administrator)
        .expect("W0003 enrolled");
    bank.set_password(
        &branch,
        &admin2,
        PasswordKind::Approval,
        &Password::new(ADMIN2_APPROVAL_PASSWORD),
    )
    .expect("W0003's approval password");
    // The second server: same store, clock and keys.
    let second = Bank::new(Arc::clone(&store), Arc::new(clock.clone()))
        .expect("a bank")
        .with_audit_key(AuditKey::new(AUDIT_KEY))
        .with_hash_cost(HashCost::TESTING)
        .with_session_key(SESSION_KEY);
    let serials = tokens.keys().copied().collect();
    let w = Arc::new(World {
        banks: [bank, second],
        store,
        clock,
        serials,
        tokens: Mutex::new(tokens),
        slot: Mutex::new(Slot::Empty),
        oracle: Mutex::new(Oracle::default()),
    });
    for s in steps.iter().take(MAX_OPS) {
        step(&w, s);
    }
});
