//! The exchange policy's promises as invariants under interleavings and
//! orders of calls an attacker (or two racing servers) can choose. Every
//! test is generic over the store: `tests/invariants.rs` runs them on the
//! in-memory store, otp-store's `tests/invariants.rs` on SQLite and PostgreSQL.
//!
//! Races are made deterministic with [`Gate`], a store wrapper that runs a
//! hook once between a request's read and its commit, and are also run by
//! brute force with real threads.
#![allow(dead_code, reason = "each runner uses part of it")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use otp_exchange::scenario::{
    ADMIN_APPROVAL_PASSWORD, AUDIT_KEY, LOGIN_PASSWORD, Scenario, branch,
};
use otp_exchange::{
    Action, AuditEntry, AuditHead, AuditKey, AuditRecord, AuditResult, Authority, Bank,
    Credentials, ExpectNewToken, HashCost, LockChange, Password, PasswordHash, PasswordKind,
    Policy, Refusal, Store, StoreError, StoredHashes, Switch, SwitchError, TokenEntry, UserId,
    UserPage, UserRecord, Verification,
};
use otp_provision::SerialNumber;

/// The scenario's start: 2020-10-01 09:30 JST.
pub const START: u64 = 1_601_512_200;

type Hook = Box<dyn FnOnce() + Send>;

/// A store wrapper that runs a hook once just before a chosen write
/// reaches the store: after the request read what it decided on, before
/// it commits. The hook plays the other server.
pub struct Gate<S> {
    inner: S,
    before_verification: Mutex<Option<Hook>>,
    before_switch: Mutex<Option<Hook>>,
    before_password_write: Mutex<Option<Hook>>,
}

impl<S: Store> Gate<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            before_verification: Mutex::new(None),
            before_switch: Mutex::new(None),
            before_password_write: Mutex::new(None),
        }
    }

    /// Runs `hook` once, just before the next write of a user's passwords
    /// (after the request read the user).
    pub fn before_password_write(&self, hook: impl FnOnce() + Send + 'static) {
        *self.before_password_write.lock().unwrap() = Some(Box::new(hook));
    }

    /// Runs `hook` once, just before the next `record_verification`.
    pub fn before_verification(&self, hook: impl FnOnce() + Send + 'static) {
        *self.before_verification.lock().unwrap() = Some(Box::new(hook));
    }

    /// Runs `hook` once, just before the next `switch`.
    pub fn before_switch(&self, hook: impl FnOnce() + Send + 'static) {
        *self.before_switch.lock().unwrap() = Some(Box::new(hook));
    }

    fn fire(slot: &Mutex<Option<Hook>>) {
        let hook = slot.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
    }
}

impl<S: Store> core::fmt::Debug for Gate<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gate").field("inner", &self.inner).finish()
    }
}

impl<S: Store> Store for Gate<S> {
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
        Self::fire(&self.before_password_write);
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
        Self::fire(&self.before_password_write);
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
        self.inner.update_locks(changes, audit, key)
    }
    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        Self::fire(&self.before_switch);
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

pub type Shared<S> = Arc<Gate<S>>;

/// The manual's bank on a gated, shared store, plus a second administrator
/// W0009 (with a token registered by the branch).
pub fn seed<S: Store + 'static>(store: S) -> (Scenario<Shared<S>>, Shared<S>, UserId) {
    let shared = Arc::new(Gate::new(store));
    let mut s = Scenario::setup(Arc::clone(&shared), START, HashCost::TESTING).unwrap();
    // Every server of one bank shares its keys (a transaction's challenge
    // is keyed by the session key).
    s.bank = s.bank.with_session_key(SESSION_KEY);
    let second = UserId::parse("W0009").unwrap();
    s.bank
        .enroll_user(&branch(), &second, "しんきん花子", Authority::Administrator)
        .unwrap();
    s.bank
        .set_password(
            &branch(),
            &second,
            PasswordKind::Approval,
            &Password::new(ADMIN_APPROVAL_PASSWORD),
        )
        .unwrap();
    (s, shared, second)
}

/// Another server on the same store: same clock, same keys.
pub fn server<S: Store + 'static>(
    s: &Scenario<Shared<S>>,
    shared: &Shared<S>,
) -> Arc<Bank<Shared<S>>> {
    Arc::new(
        Bank::new(Arc::clone(shared), Arc::new(s.clock.clone()))
            .unwrap()
            .with_audit_key(AuditKey::new(AUDIT_KEY))
            .with_session_key(SESSION_KEY)
            .with_hash_cost(HashCost::TESTING),
    )
}

/// The session key every server of the test bank shares.
pub const SESSION_KEY: [u8; 32] = [0x5b; 32];

pub fn approval() -> Password {
    Password::new(ADMIN_APPROVAL_PASSWORD)
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// W0002's exchange brought to screen 5, with the new token's serial and
/// a code from it.
fn at_screen_5<S: Store + 'static>(
    s: &mut Scenario<Shared<S>>,
    stock: usize,
) -> (ExpectNewToken, SerialNumber, SerialNumber, String) {
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let new = s.stock()[stock];
    let code = s.press(&old).unwrap();
    let step5 = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .submit_code(&s.bank, &code)
        .unwrap();
    let new_code = s.press(&new).unwrap();
    (step5, old, new, new_code)
}

/// No `Login` accepted with the old token's serial after the record of the
/// switch that revoked it.
fn assert_no_login_after_revocation(chain: &[AuditRecord], user: &UserId, old: &SerialNumber) {
    let masked = old.masked().to_string();
    let mut revoked = false;
    for r in chain {
        let e = &r.entry;
        if e.target.as_ref() != Some(user) {
            continue;
        }
        if matches!(
            e.action,
            Action::Exchange | Action::Unregister | Action::BranchRevoke
        ) && e.result == AuditResult::Ok
            && e.old_serial.as_deref() == Some(masked.as_str())
        {
            revoked = true;
        }
        if revoked && e.action == Action::Login && e.result == AuditResult::Ok {
            assert_ne!(
                e.old_serial.as_deref(),
                Some(masked.as_str()),
                "record {}: the old token logged in after its revocation",
                r.seq
            );
        }
    }
}

// ----- 1. the old token after the switch -----

/// A login reads the old token, then an exchange commits, then the login
/// tries to commit: refused, nothing saved for the old token.
pub fn old_token_refused_when_exchange_commits_between_read_and_commit<S: Store + 'static>(
    store: S,
) {
    let (mut s, shared, _) = seed(store);
    let other = server(&s, &shared);
    let user = s.general.clone();
    let (step5, old, new, new_code) = at_screen_5(&mut s, 0);
    s.clock.advance(30);
    let login_code = s.press(&old).unwrap();
    let state_before = s.bank.records().token_state(&old).unwrap();
    let done = Arc::new(Mutex::new(None));
    let done2 = Arc::clone(&done);
    shared.before_verification(move || {
        let r = step5.confirm(&other, new.as_str(), &new_code, &approval());
        *done2.lock().unwrap() = Some(r.map(|d| d.new_serial).map_err(|r| r.refusal));
    });
    let login = s.bank.login(&user, &login_code);
    assert_eq!(done.lock().unwrap().take(), Some(Ok(new)), "the exchange");
    assert_eq!(login.unwrap_err(), Refusal::LoginFailed);
    // The revoked token's state was not written by the refused login.
    assert_eq!(s.bank.records().token_state(&old).unwrap(), state_before);
    assert_no_login_after_revocation(&s.bank.records().audit_chain().unwrap(), &user, &old);
    s.bank.verify_audit().unwrap();
}

/// The same with the branch's revocation and with unregistration as the
/// other server's act.
pub fn old_token_refused_when_revoked_between_read_and_commit<S: Store + 'static>(
    make: impl Fn() -> S,
) {
    for by_branch in [true, false] {
        let (mut s, shared, second) = seed(make());
        let other = server(&s, &shared);
        let user = s.general.clone();
        let old = s.token_of(&user).unwrap().unwrap();
        let unregister_code = s.press(&old).unwrap();
        s.clock.advance(30);
        let login_code = s.press(&old).unwrap();
        let result = Arc::new(Mutex::new(None));
        let result2 = Arc::clone(&result);
        let target = user.clone();
        shared.before_verification(move || {
            let r = if by_branch {
                other.branch_revoke(&branch(), &target)
            } else {
                // The verification hook fires first for unregister's own
                // code check, which is not gated again (the hook is spent):
                // W0009 unregisters with a code read a step earlier.
                other.unregister(&second, &target, &unregister_code, &approval())
            };
            *result2.lock().unwrap() = Some(r);
        });
        let login = s.bank.login(&user, &login_code);
        assert_eq!(result.lock().unwrap().take(), Some(Ok(())));
        assert_eq!(
            login.unwrap_err(),
            Refusal::LoginFailed,
            "branch {by_branch}"
        );
        assert_eq!(s.token_of(&user).unwrap(), None);
        assert_no_login_after_revocation(&s.bank.records().audit_chain().unwrap(), &user, &old);
    }
}

/// The current-token step of a second exchange (screen 4) reads the old
/// token, then the first exchange commits: screen 4 is refused.
pub fn current_code_refused_when_exchange_commits_between_read_and_commit<S: Store + 'static>(
    store: S,
) {
    let (mut s, shared, second) = seed(store);
    let other = server(&s, &shared);
    let user = s.general.clone();
    let (step5, old, new, new_code) = at_screen_5(&mut s, 0);
    let step4 = other.begin_exchange(&second, &user).unwrap();
    s.clock.advance(30);
    let code = s.press(&old).unwrap();
    let bank = server(&s, &shared);
    shared.before_verification(move || {
        step5
            .confirm(&bank, new.as_str(), &new_code, &approval())
            .unwrap();
    });
    let retry = step4.submit_code(&other, &code).unwrap_err();
    assert_eq!(retry.refusal, Refusal::Conflict);
    assert!(retry.resume.is_none());
}

/// Brute force: two threads, one confirming the exchange, one logging in
/// with a fresh code of the old token, `rounds` times on fresh banks.
/// Whatever the interleaving, no login is accepted after the switch.
pub fn old_token_never_accepted_after_switch_brute<S: Store + 'static>(
    make: impl Fn() -> S,
    rounds: usize,
) {
    let mut accepted_before = 0;
    let mut refused = 0;
    for _ in 0..rounds {
        let (mut s, shared, _) = seed(make());
        let other = server(&s, &shared);
        let user = s.general.clone();
        let (step5, old, new, new_code) = at_screen_5(&mut s, 0);
        s.clock.advance(30);
        let login_code = s.press(&old).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let b2 = Arc::clone(&barrier);
        let exchange = std::thread::spawn(move || {
            b2.wait();
            step5
                .confirm(&other, new.as_str(), &new_code, &approval())
                .map(|_| ())
                .map_err(|r| r.refusal)
        });
        barrier.wait();
        let login = s.bank.login(&user, &login_code);
        assert_eq!(exchange.join().unwrap(), Ok(()));
        let chain = s.bank.records().audit_chain().unwrap();
        assert_no_login_after_revocation(&chain, &user, &old);
        match login {
            Ok(_) => accepted_before += 1,
            Err(r) => {
                assert_eq!(r, Refusal::LoginFailed);
                refused += 1;
            }
        }
        s.bank.verify_audit().unwrap();
    }
    assert_eq!(accepted_before + refused, rounds);
}

// ----- 2. approval passwords cannot be guessed without limit -----

/// A right new-token code with every wrong password does not clear the
/// password counter: the sixth wrong password locks the administrator, and
/// no later password is evaluated.
pub fn right_codes_do_not_clear_wrong_passwords<S: Store + 'static>(store: S) {
    let (mut s, _shared, _) = seed(store);
    let user = s.without_token.clone();
    let new = s.stock()[0];
    let mut step5 = s.bank.begin_registration(&s.admin, &user).unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..40 {
        s.clock.advance(30);
        let code = s.press(&new).unwrap();
        let retry = step5
            .confirm(&s.bank, new.as_str(), &code, &Password::new("guess"))
            .unwrap_err();
        outcomes.push(retry.refusal.clone());
        match retry.resume {
            Some(next) => step5 = next,
            None => break,
        }
    }
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    assert!(outcomes[..5].iter().all(|r| *r == Refusal::WrongPassword));
    assert_eq!(outcomes[5], Refusal::OperatorLocked);
    // Locked: even the right password is not evaluated any more.
    assert_eq!(
        s.bank.begin_registration(&s.admin, &user).unwrap_err(),
        Refusal::OperatorLocked
    );
    let wrong_passwords = s
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .iter()
        .filter(|r| r.entry.reason.as_deref() == Some("wrong_password"))
        .count();
    assert_eq!(wrong_passwords, 6);
}

/// Wrong passwords on unregister with a login in between (a right code,
/// a right entry of another kind) still add up to the lock.
pub fn logins_do_not_clear_wrong_passwords<S: Store + 'static>(store: S) {
    let (mut s, _shared, _) = seed(store);
    let admin = s.admin.clone();
    let user = s.general.clone();
    let admin_token = s.token_of(&admin).unwrap().unwrap();
    let user_token = s.token_of(&user).unwrap().unwrap();
    let mut wrong_passwords = 0;
    'outer: for _ in 0..4 {
        for _ in 0..5 {
            s.clock.advance(30);
            let code = s.press(&user_token).unwrap();
            match s
                .bank
                .unregister(&admin, &user, &code, &Password::new("guess"))
            {
                Err(Refusal::WrongPassword) => wrong_passwords += 1,
                Err(Refusal::OperatorLocked) => {
                    wrong_passwords += 1;
                    break 'outer;
                }
                other => panic!("{other:?}"),
            }
        }
        s.clock.advance(30);
        let code = s.press(&admin_token).unwrap();
        s.bank.login(&admin, &code).unwrap();
    }
    assert_eq!(wrong_passwords, 6);
    assert!(s.bank.records().user(&admin).unwrap().unwrap().lock.locked);
    assert_eq!(s.token_of(&user).unwrap(), Some(user_token));
}

// ----- 3. concurrent guesses do not pass the lock -----

/// Credentials that hold the first `hold` evaluations until released, and
/// count every evaluation.
#[derive(Debug)]
pub struct Held {
    evaluations: AtomicUsize,
    hold: usize,
    barrier: Barrier,
}

/// A shared handle on [`Held`], the credential check the bank uses.
#[derive(Debug, Clone)]
pub struct HeldRef(Arc<Held>);

impl Credentials for HeldRef {
    fn required(&self, user: &UserRecord) -> Option<PasswordKind> {
        StoredHashes.required(user)
    }

    fn check(
        &self,
        user: &UserRecord,
        kind: PasswordKind,
        password: &Password,
    ) -> Result<bool, StoreError> {
        let n = self.0.evaluations.fetch_add(1, Ordering::SeqCst);
        let right = StoredHashes.check(user, kind, password)?;
        if n < self.0.hold {
            self.0.barrier.wait();
        }
        Ok(right)
    }
}

/// Six guesses in flight at once (held inside the password check): a
/// seventh is refused without being evaluated; once released, the six are
/// wrong and the sixth locks. Deterministic.
pub fn concurrent_guesses_spend_the_limit_deterministic<S: Store + 'static>(store: S) {
    let (mut s, shared, _) = seed(store);
    let held = Arc::new(Held {
        evaluations: AtomicUsize::new(0),
        hold: 6,
        barrier: Barrier::new(7),
    });
    let bank = Arc::new(
        Bank::new(Arc::clone(&shared), Arc::new(s.clock.clone()))
            .unwrap()
            .with_audit_key(AuditKey::new(AUDIT_KEY))
            .with_credentials(HeldRef(Arc::clone(&held))),
    );
    let user = s.without_token.clone();
    let new = s.stock()[0];
    let code = s.press(&new).unwrap();
    let mut threads = Vec::new();
    for _ in 0..6 {
        let step5 = bank.begin_registration(&s.admin, &user).unwrap();
        let (bank, code) = (Arc::clone(&bank), code.clone());
        threads.push(std::thread::spawn(move || {
            step5
                .confirm(&bank, new.as_str(), &code, &Password::new("guess"))
                .map(|_| ())
                .map_err(|r| r.refusal)
        }));
    }
    // Wait until all six are inside the check.
    while held.evaluations.load(Ordering::SeqCst) < 6 {
        std::thread::yield_now();
    }
    let seventh = bank
        .begin_registration(&s.admin, &user)
        .unwrap()
        .confirm(&bank, new.as_str(), &code, &approval())
        .unwrap_err();
    assert_eq!(seventh.refusal, Refusal::OperatorLocked);
    assert_eq!(
        held.evaluations.load(Ordering::SeqCst),
        6,
        "the seventh was evaluated"
    );
    held.barrier.wait();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let wrong = results
        .iter()
        .filter(|r| **r == Err(Refusal::WrongPassword))
        .count();
    let locked = results
        .iter()
        .filter(|r| **r == Err(Refusal::OperatorLocked))
        .count();
    assert_eq!((wrong, locked), (5, 1), "{results:?}");
    assert!(
        s.bank
            .records()
            .user(&s.admin)
            .unwrap()
            .unwrap()
            .lock
            .locked
    );
    assert_eq!(s.token_of(&user).unwrap(), None);
}

/// Brute force: 24 concurrent confirms, `rounds` times; in every other
/// round one of them has the right password. With only wrong passwords,
/// exactly 6 are evaluated and the administrator locks. With a right one,
/// at most 6 wrong ones are evaluated on each side of the clear it makes,
/// and the registration commits only before any lock (if it lost to a
/// lock, nothing committed).
pub fn concurrent_guesses_spend_the_limit_brute<S: Store + 'static>(
    make: impl Fn() -> S,
    rounds: usize,
) {
    for round in 0..rounds {
        let (mut s, shared, _) = seed(make());
        let bank = server(&s, &shared);
        let user = s.without_token.clone();
        let new = s.stock()[0];
        let code = s.press(&new).unwrap();
        let barrier = Arc::new(Barrier::new(24));
        let right = (round % 2 == 1).then_some(round % 24);
        let threads: Vec<_> = (0..24)
            .map(|i| {
                let step5 = bank.begin_registration(&s.admin, &user).unwrap();
                let (bank, code, barrier) = (Arc::clone(&bank), code.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let password = if Some(i) == right {
                        approval()
                    } else {
                        Password::new("guess")
                    };
                    barrier.wait();
                    step5
                        .confirm(&bank, new.as_str(), &code, &password)
                        .map(|_| ())
                        .map_err(|r| r.refusal)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let chain = s.bank.records().audit_chain().unwrap();
        let wrong = chain
            .iter()
            .filter(|r| r.entry.reason.as_deref() == Some("wrong_password"))
            .count();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let lock_at = chain.iter().position(|r| {
            r.entry.action == Action::Lock
                && r.entry.operator == "policy"
                && r.entry.target.as_ref() == Some(&s.admin)
        });
        let register_at = chain.iter().position(|r| {
            r.entry.action == Action::Register
                && r.entry.result == AuditResult::Ok
                && r.entry.target.as_ref() == Some(&user)
        });
        assert_eq!(register_at.is_some(), ok == 1, "round {round}");
        if right.is_none() {
            assert_eq!((ok, wrong), (0, 6), "round {round}: {results:?}");
            assert!(lock_at.is_some(), "round {round}");
        } else if ok == 0 {
            // The right password was refused unevaluated (six guesses in
            // flight), or evaluated, cleared the counter, and lost the
            // commit to a lock reached by six wrong ones after it.
            assert!(lock_at.is_some(), "round {round}: refused but not locked");
            assert!(wrong <= 12, "round {round}: {wrong}");
        } else {
            assert_eq!(ok, 1);
            assert!(right.is_some());
            assert!(wrong <= 12, "round {round}: {wrong}");
            if let (Some(l), Some(r)) = (lock_at, register_at) {
                assert!(
                    r < l,
                    "round {round}: registered after the administrator locked"
                );
            }
        }
        s.bank.verify_audit().unwrap();
    }
}

/// Concurrent wrong codes: the sixth commit locks the ID, and a guess
/// whose verdict lost the race to it is verified again and refused, not
/// counted. Deterministic: W0002 has five wrong codes; a login reads that,
/// then another wrong login commits (the sixth), then the first commits.
pub fn a_code_verdict_that_loses_the_race_is_verified_again<S: Store + 'static>(store: S) {
    let (mut s, shared, _) = seed(store);
    let other = server(&s, &shared);
    let user = s.general.clone();
    let token = s.token_of(&user).unwrap().unwrap();
    for _ in 0..5 {
        s.clock.advance(30);
        let code = wrong(&s.press(&token).unwrap());
        assert_eq!(s.bank.login(&user, &code), Err(Refusal::LoginFailed));
    }
    s.clock.advance(30);
    let right = s.press(&token).unwrap();
    let (target, sixth) = (user.clone(), wrong(&right));
    shared.before_verification(move || {
        assert_eq!(other.login(&target, &sixth), Err(Refusal::LoginFailed));
    });
    // Even the right code, read before the sixth wrong one committed, is
    // refused: the ID is locked when it commits.
    assert_eq!(s.bank.login(&user, &right), Err(Refusal::LoginFailed));
    let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
    assert!(lock.locked);
    assert_eq!(lock.codes.failures, 6);
    let counted = s
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .iter()
        .filter(|r| r.entry.reason.as_deref() == Some("wrong_code_current"))
        .count();
    assert_eq!(counted, 6);
}

/// Brute force: 24 concurrent logins with wrong codes, `rounds` times:
/// exactly 6 are evaluated and counted, the ID locks, the rest are
/// refused uncounted.
pub fn concurrent_code_guesses_spend_the_limit_brute<S: Store + 'static>(
    make: impl Fn() -> S,
    rounds: usize,
) {
    for round in 0..rounds {
        let (mut s, shared, _) = seed(make());
        let bank = server(&s, &shared);
        let user = s.general.clone();
        let token = s.token_of(&user).unwrap().unwrap();
        let code = wrong(&s.press(&token).unwrap());
        let barrier = Arc::new(Barrier::new(24));
        let threads: Vec<_> = (0..24)
            .map(|_| {
                let (bank, code, barrier, user) = (
                    Arc::clone(&bank),
                    code.clone(),
                    Arc::clone(&barrier),
                    user.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    bank.login(&user, &code)
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), Err(Refusal::LoginFailed));
        }
        let counted = s
            .bank
            .records()
            .audit_chain()
            .unwrap()
            .iter()
            .filter(|r| r.entry.reason.as_deref() == Some("wrong_code_current"))
            .count();
        assert_eq!(counted, 6, "round {round}");
        let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
        assert!(
            lock.locked && lock.codes.failures == 6,
            "round {round}: {lock:?}"
        );
        s.bank.verify_audit().unwrap();
    }
}

/// An exchange whose password was right commits only if the operator is
/// still unlocked at commit: another administrator locks W0001 between.
pub fn nothing_commits_for_an_id_locked_at_commit<S: Store + 'static>(make: impl Fn() -> S) {
    for lock_target in [false, true] {
        let (mut s, shared, second) = seed(make());
        let other = server(&s, &shared);
        let user = s.general.clone();
        let (step5, old, new, new_code) = at_screen_5(&mut s, 0);
        let (admin, target) = (s.admin.clone(), user.clone());
        shared.before_switch(move || {
            let who = if lock_target { &target } else { &admin };
            other.lock(&second, who).unwrap();
        });
        let retry = step5
            .confirm(&s.bank, new.as_str(), &new_code, &approval())
            .unwrap_err();
        let want = if lock_target {
            Refusal::UserLocked
        } else {
            Refusal::OperatorLocked
        };
        assert_eq!(retry.refusal, want);
        assert_eq!(s.token_of(&user).unwrap(), Some(old));
    }
}

/// A parked registration refuses to complete when the user's binding
/// changed meanwhile, even if it changed back (the branch registered a
/// token and revoked it): the session holds the binding's generation.
pub fn a_flow_refuses_a_binding_that_changed_and_changed_back<S: Store + 'static>(store: S) {
    let (mut s, shared, _) = seed(store);
    let other = server(&s, &shared);
    let user = s.without_token.clone();
    let ticket = s
        .bank
        .begin_registration(&s.admin, &user)
        .unwrap()
        .into_ticket(&s.bank)
        .unwrap();
    let (first, second) = (s.stock()[0], s.stock()[1]);
    let code = s.press(&first).unwrap();
    other
        .branch_register(&branch(), &user, first.as_str(), &code)
        .unwrap();
    other.branch_revoke(&branch(), &user).unwrap();
    assert_eq!(s.token_of(&user).unwrap(), None);
    let otp_exchange::Pending::ExpectNewToken(step5) = s.bank.resume(&s.admin, &ticket).unwrap()
    else {
        panic!("wrong stage");
    };
    let code = s.press(&second).unwrap();
    let refused = step5
        .confirm(&s.bank, second.as_str(), &code, &approval())
        .unwrap_err();
    assert_eq!(refused.refusal, Refusal::Conflict);
    assert!(refused.resume.is_none());
    assert_eq!(s.token_of(&user).unwrap(), None);
}

/// Screen 4's verdict commits only if the administrator is still unlocked:
/// another administrator locks W0001 between the code's read and commit.
pub fn screen_4_refuses_an_operator_locked_at_commit<S: Store + 'static>(store: S) {
    let (mut s, shared, second) = seed(store);
    let other = server(&s, &shared);
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    let code = s.press(&old).unwrap();
    let admin = s.admin.clone();
    shared.before_verification(move || other.lock(&second, &admin).unwrap());
    let refused = step4.submit_code(&s.bank, &code).unwrap_err();
    assert_eq!(refused.refusal, Refusal::OperatorLocked);
    assert!(refused.resume.is_none());
    // Nothing was committed for the code: the user's counter and the
    // token's replay floor are as before, and the code still logs in.
    let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
    assert_eq!(lock.codes.failures, 0);
    assert!(s.bank.login(&user, &code).is_ok());
}

// ----- 4. unlocking -----

/// An administrator never unlocks another administrator (the branch does),
/// nor their own ID; every unlock needs the approval password; three online
/// unlocks per ID per day.
pub fn unlocking_rules<S: Store + 'static>(store: S) {
    let (s, _shared, second) = seed(store);
    let admin = s.admin.clone();
    let user = s.general.clone();
    s.bank.lock(&admin, &second).unwrap();
    assert_eq!(
        s.bank.unlock(&admin, &second, &approval()),
        Err(Refusal::BranchUnlockRequired)
    );
    assert_eq!(
        s.bank.unlock(&admin, &admin, &approval()),
        Err(Refusal::OwnId)
    );
    s.bank.branch_unlock(&branch(), &second).unwrap();
    assert!(!s.bank.records().user(&second).unwrap().unwrap().lock.locked);
    // A general user's unlock needs the operator's password.
    s.bank.lock(&admin, &user).unwrap();
    assert_eq!(
        s.bank.unlock(&admin, &user, &Password::new("guess")),
        Err(Refusal::WrongPassword)
    );
    assert!(s.bank.records().user(&user).unwrap().unwrap().lock.locked);
    for _ in 0..3 {
        s.bank.unlock(&admin, &user, &approval()).unwrap();
        s.bank.lock(&admin, &user).unwrap();
    }
    assert_eq!(
        s.bank.unlock(&admin, &user, &approval()),
        Err(Refusal::UnlockLimit)
    );
    // The next day (in the bank's time zone), again.
    s.clock.advance(86_400);
    s.bank.unlock(&admin, &user, &approval()).unwrap();
    // Every unlock is audited, refused ones too.
    let unlocks = s
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .iter()
        .filter(|r| r.entry.action == Action::Unlock)
        .count();
    assert_eq!(unlocks, 9);
}

/// With unlocks capped, the guesses at one ID's approval password in a day
/// are bounded: (1 + unlocks allowed) × the limit.
pub fn guessing_bound_with_unlocks<S: Store + 'static>(store: S) {
    let (mut s, _shared, second) = seed(store);
    // An insider administrator (W0009) unlocks W0002 as often as the bank
    // allows while someone guesses W0002's codes. (An administrator's ID,
    // whose password is guessed, is unlocked only by the branch.)
    let user = s.general.clone();
    let token = s.token_of(&user).unwrap().unwrap();
    let mut evaluated = 0;
    for _round in 0..10 {
        loop {
            s.clock.advance(30);
            let code = wrong(&s.press(&token).unwrap());
            let before = s.bank.records().user(&user).unwrap().unwrap().lock;
            let _ = s.bank.login(&user, &code);
            let after = s.bank.records().user(&user).unwrap().unwrap().lock;
            if before.locked {
                assert_eq!(before, after, "a locked ID evaluated a code");
                break;
            }
            evaluated += 1;
        }
        if s.bank.unlock(&second, &user, &approval()).is_err() {
            break;
        }
    }
    let limit = Policy::default().max_wrong_entries;
    let unlocks = Policy::default().max_unlocks_per_day;
    assert_eq!(evaluated, limit * (1 + unlocks));
}

// ----- 5. unregister needs the current token -----

/// Unregister-then-register cannot replace a token without its code.
pub fn unregister_needs_the_current_token<S: Store + 'static>(store: S) {
    let (mut s, _shared, _) = seed(store);
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    for code in ["", "000000", "１２３４５６"] {
        assert!(
            s.bank
                .unregister(&s.admin, &user, code, &approval())
                .is_err()
        );
    }
    let code = s.press(&old).unwrap();
    assert_eq!(
        s.bank
            .unregister(&s.admin, &user, &wrong(&code), &approval()),
        Err(Refusal::WrongCode(otp_exchange::Which::Current))
    );
    assert_eq!(
        s.bank.begin_registration(&s.admin, &user).unwrap_err(),
        Refusal::AlreadyRegistered
    );
    assert_eq!(s.token_of(&user).unwrap(), Some(old));
    // Without the token, it is the branch's job.
    let step4 = s.bank.begin_exchange(&s.admin, &user).unwrap();
    assert_eq!(step4.no_current_token(&s.bank), Refusal::BranchRequired);
}

// ----- self-operation and login enumeration -----

/// No administrator operates on their own ID.
pub fn no_administrator_operates_on_their_own_id<S: Store + 'static>(store: S) {
    let (mut s, _shared, _) = seed(store);
    let admin = s.admin.clone();
    let token = s.token_of(&admin).unwrap().unwrap();
    let code = s.press(&token).unwrap();
    assert_eq!(
        s.bank.begin_exchange(&admin, &admin).unwrap_err(),
        Refusal::OwnId
    );
    assert_eq!(
        s.bank.unregister(&admin, &admin, &code, &approval()),
        Err(Refusal::OwnId)
    );
    assert_eq!(
        s.bank.unlock(&admin, &admin, &approval()),
        Err(Refusal::OwnId)
    );
    s.bank.branch_revoke(&branch(), &admin).unwrap();
    assert_eq!(
        s.bank.begin_registration(&admin, &admin).unwrap_err(),
        Refusal::OwnId
    );
}

/// One refusal for an unknown ID, an ID without a token, a locked ID and a
/// wrong code; the audit trail keeps the real reason.
pub fn login_refusals_do_not_tell_ids_apart<S: Store + 'static>(store: S) {
    let (mut s, _shared, _) = seed(store);
    let general = s.general.clone();
    let token = s.token_of(&general).unwrap().unwrap();
    let code = s.press(&token).unwrap();
    let nobody = UserId::parse("W9999").unwrap();
    assert_eq!(s.bank.login(&nobody, &code), Err(Refusal::LoginFailed));
    assert_eq!(
        s.bank.login(&s.without_token.clone(), &code),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(
        s.bank.login(&general, &wrong(&code)),
        Err(Refusal::LoginFailed)
    );
    // Typing mistakes get the same answer for every ID.
    for typed in ["１２３４５", "12345", "12-3456", "abcdef"] {
        let unknown = s.bank.login(&nobody, typed).unwrap_err();
        assert!(matches!(unknown, Refusal::Code(..)), "{typed}: {unknown:?}");
        assert_eq!(s.bank.login(&general, typed).unwrap_err(), unknown);
    }
    // A well-formed code of another length is a failed login.
    assert_eq!(
        s.bank.login(&general, "12345678"),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(s.bank.login(&nobody, "12345678"), Err(Refusal::LoginFailed));
    s.bank.lock(&s.admin, &general).unwrap();
    assert_eq!(s.bank.login(&general, &code), Err(Refusal::LoginFailed));
    let reasons: Vec<_> = s
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == Action::Login)
        .filter_map(|r| r.entry.reason)
        .filter(|r| r != "malformed_code_current")
        .collect();
    assert_eq!(
        reasons,
        [
            "unknown_user",
            "no_token_registered",
            "wrong_code_current",
            "unknown_user",
            "user_locked"
        ]
    );
}

/// A server that dies while evaluating a password leaves its attempt
/// reserved; after the reservation's TTL it counts as a wrong entry, so a
/// crash is no way around the lock.
pub fn an_abandoned_attempt_counts_as_wrong<S: Store + 'static>(store: S) {
    #[derive(Debug)]
    struct Crash;
    impl Credentials for Crash {
        fn required(&self, user: &UserRecord) -> Option<PasswordKind> {
            StoredHashes.required(user)
        }
        fn check(&self, _: &UserRecord, _: PasswordKind, _: &Password) -> Result<bool, StoreError> {
            panic!("the server died");
        }
    }
    let (mut s, shared, _) = seed(store);
    let crashing = Bank::new(Arc::clone(&shared), Arc::new(s.clock.clone()))
        .unwrap()
        .with_audit_key(AuditKey::new(AUDIT_KEY))
        .with_credentials(Crash);
    let user = s.without_token.clone();
    let new = s.stock()[0];
    let code = s.press(&new).unwrap();
    let step5 = crashing.begin_registration(&s.admin, &user).unwrap();
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = step5.confirm(&crashing, new.as_str(), &code, &approval());
    }));
    assert!(died.is_err());
    let lock = s.bank.records().user(&s.admin).unwrap().unwrap().lock;
    assert_eq!((lock.passwords.pending, lock.passwords.failures), (1, 0));
    s.clock.advance(Policy::default().reservation_ttl + 1);
    // The next attempt (right) folds the abandoned one in as wrong, then
    // clears it with its own right password.
    let step5 = s.bank.begin_registration(&s.admin, &user).unwrap();
    let code = s.press(&new).unwrap();
    let before = s.bank.records().user(&s.admin).unwrap().unwrap().lock;
    assert_eq!(before.passwords.pending, 1);
    step5
        .confirm(&s.bank, new.as_str(), &code, &Password::new("guess"))
        .unwrap_err();
    let after = s.bank.records().user(&s.admin).unwrap().unwrap().lock;
    assert_eq!((after.passwords.pending, after.passwords.failures), (0, 2));
}

/// An administrator changes their own approval password: only with the
/// current one, each wrong current password counted against their ID as
/// any wrong password (six lock it, and then even the right one is not
/// evaluated), a weak new password refused before any attempt is spent,
/// the change audited, the old password refused afterwards.
pub fn changing_a_password_needs_the_current_one_and_counts_wrong_entries<S: Store + 'static>(
    store: S,
) {
    let (s, shared, second) = seed(store);
    let admin = s.admin.clone();
    let general = s.general.clone();
    let new = Password::new("approve-2021-new");
    let kind = PasswordKind::Approval;

    // Weak or unchanged: refused, nothing counted.
    for weak in ["short", ADMIN_APPROVAL_PASSWORD] {
        assert_eq!(
            s.bank
                .change_password(&admin, kind, &approval(), &Password::new(weak))
                .unwrap_err(),
            Refusal::WeakPassword
        );
    }
    let lock = s.bank.records().user(&admin).unwrap().unwrap().lock;
    assert_eq!((lock.passwords.pending, lock.passwords.failures), (0, 0));

    // A per-transfer password W0009 does not have.
    assert_eq!(
        s.bank
            .change_password(&second, PasswordKind::PerTransfer, &approval(), &new)
            .unwrap_err(),
        Refusal::NoPasswordRegistered
    );
    // Nothing was evaluated, so nothing was reserved or counted.
    let lock = shared.user(&second).unwrap().unwrap().lock;
    assert_eq!((lock.passwords.pending, lock.passwords.failures), (0, 0));

    // Right: changed; the old one is refused, the new one accepted.
    s.bank
        .change_password(&admin, kind, &approval(), &new)
        .unwrap();
    s.bank.lock(&admin, &general).unwrap();
    assert_eq!(
        s.bank.unlock(&admin, &general, &approval()).unwrap_err(),
        Refusal::WrongPassword
    );
    s.bank.unlock(&admin, &general, &new).unwrap();
    let changed = s
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .iter()
        .filter(|r| {
            r.entry.reason.as_deref() == Some("approval_password_changed")
                && r.entry.result == AuditResult::Ok
                && r.entry.operator == admin.as_str()
        })
        .count();
    assert_eq!(changed, 1);

    // W0009 guesses its current password: five wrong, the sixth locks.
    let mut outcomes = Vec::new();
    for i in 0..8 {
        let guess = Password::new(&format!("guess-{i}"));
        outcomes.push(
            s.bank
                .change_password(&second, kind, &guess, &Password::new("whatever-new-1"))
                .unwrap_err(),
        );
    }
    assert!(
        outcomes[..5].iter().all(|r| *r == Refusal::WrongPassword),
        "{outcomes:?}"
    );
    assert!(
        outcomes[5..].iter().all(|r| *r == Refusal::OperatorLocked),
        "{outcomes:?}"
    );
    assert_eq!(
        s.bank
            .change_password(&second, kind, &approval(), &new)
            .unwrap_err(),
        Refusal::OperatorLocked
    );
    let user = shared.user(&second).unwrap().unwrap();
    assert!(user.lock.locked);
    assert!(user.approval_password.unwrap().matches(&approval()));
}

/// Concurrent guesses at the current password through password changes
/// spend the same limit as any password: of `THREADS` simultaneous wrong
/// guesses on a fresh ID, exactly six are evaluated (five refused as wrong, the sixth locking),
/// the rest refused unevaluated, and the ID is locked.
pub fn concurrent_password_change_guesses_spend_the_limit_brute<S: Store + 'static>(
    make: impl Fn() -> S,
    rounds: usize,
) {
    const THREADS: usize = 10;
    for round in 0..rounds {
        let (s, shared, second) = seed(make());
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let bank = server(&s, &shared);
                let barrier = Arc::clone(&barrier);
                let second = second.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    bank.change_password(
                        &second,
                        PasswordKind::Approval,
                        &Password::new(&format!("guess-{i}")),
                        &Password::new("whatever-new-1"),
                    )
                    .unwrap_err()
                })
            })
            .collect();
        let outcomes: Vec<Refusal> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let evaluated = outcomes
            .iter()
            .filter(|r| **r == Refusal::WrongPassword)
            .count();
        assert_eq!(evaluated, 5, "round {round}: {outcomes:?}");
        let wrong = s
            .bank
            .records()
            .audit_chain()
            .unwrap()
            .iter()
            .filter(|r| r.entry.reason.as_deref() == Some("wrong_password"))
            .count();
        assert_eq!(wrong, 6, "round {round}: wrong passwords evaluated");
        let user = shared.user(&second).unwrap().unwrap();
        assert!(user.lock.locked, "round {round}");
        assert!(user.approval_password.unwrap().matches(&approval()));
    }
}

/// The branch's registration is audited as the online one is: the new
/// token's code as `NewToken`, the switch as one `Register` (it wrote the
/// same `Register` record twice, for the code and for the switch).
pub fn a_branch_registration_is_one_register_record<S: Store + 'static>(store: S) {
    let (mut s, _shared, _) = seed(store);
    let user = s.without_token.clone();
    let new = s.stock()[0];
    let code = s.press(&new).unwrap();
    let before = s.bank.records().audit_chain().unwrap().len();
    s.bank
        .branch_register(&branch(), &user, new.as_str(), &code)
        .unwrap();
    let chain = s.bank.records().audit_chain().unwrap();
    let added: Vec<(Action, AuditResult)> = chain[before..]
        .iter()
        .map(|r| (r.entry.action, r.entry.result))
        .collect();
    assert_eq!(
        added,
        [
            (Action::NewToken, AuditResult::Ok),
            (Action::Register, AuditResult::Ok)
        ]
    );
}

/// The login password (ログインパスワード) is a third password kind,
/// hashed and stored like the others: every scenario user has
/// [`LOGIN_PASSWORD`], stored as an Argon2id hash and never shown by the
/// read-only records; the branch sets and removes it, the user changes it
/// with the current one (a wrong one counted against the ID), each act
/// audited as `login_password_*`; it is never an approval password.
pub fn the_login_password_is_a_third_kind_stored_hashed<S: Store + 'static>(store: S) {
    let (s, shared, _) = seed(store);
    let login = Password::new(LOGIN_PASSWORD);
    for user in [&s.admin, &s.general, &s.without_token] {
        let stored = shared.user(user).unwrap().unwrap();
        let hash = stored.login_password.unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$"), "{user}");
        assert!(hash.matches(&login), "{user}");
        assert!(!hash.matches(&approval()), "{user}");
        // The read-only view shows no hash.
        assert_eq!(
            s.bank.records().user(user).unwrap().unwrap().login_password,
            None
        );
    }
    assert!(
        s.bank
            .records()
            .users(0, 10)
            .unwrap()
            .users
            .iter()
            .all(|u| u.login_password.is_none())
    );
    // Not an approval password.
    let general = s.general.clone();
    s.bank.lock(&s.admin, &general).unwrap();
    assert_eq!(
        s.bank.unlock(&s.admin, &general, &login).unwrap_err(),
        Refusal::WrongPassword
    );
    s.bank.unlock(&s.admin, &general, &approval()).unwrap();

    // The user changes it: a wrong current one is counted, the right one
    // changes only the login password.
    let new = Password::new("login-2021-new");
    assert_eq!(
        s.bank
            .change_password(&general, PasswordKind::Login, &approval(), &new)
            .unwrap_err(),
        Refusal::WrongPassword
    );
    assert_eq!(
        shared
            .user(&general)
            .unwrap()
            .unwrap()
            .lock
            .passwords
            .failures,
        1
    );
    s.bank
        .change_password(&general, PasswordKind::Login, &login, &new)
        .unwrap();
    let after = shared.user(&general).unwrap().unwrap();
    assert!(after.login_password.unwrap().matches(&new));
    assert_eq!(after.lock.passwords.failures, 0);
    assert_eq!(after.approval_password, None);
    let admin_before = shared.user(&s.admin).unwrap().unwrap();

    // The branch sets and removes it; the administrator's other passwords stay.
    let branch_set = Password::new("branch-set-login");
    s.bank
        .set_password(&branch(), &s.admin, PasswordKind::Login, &branch_set)
        .unwrap();
    let admin = shared.user(&s.admin).unwrap().unwrap();
    assert!(admin.login_password.unwrap().matches(&branch_set));
    assert_eq!(admin.approval_password, admin_before.approval_password);
    assert_eq!(admin.transfer_password, admin_before.transfer_password);
    s.bank
        .remove_password(&branch(), &s.admin, PasswordKind::Login)
        .unwrap();
    assert_eq!(shared.user(&s.admin).unwrap().unwrap().login_password, None);
    assert_eq!(
        s.bank
            .change_password(&s.admin, PasswordKind::Login, &branch_set, &new)
            .unwrap_err(),
        Refusal::NoPasswordRegistered
    );
    let reasons: Vec<String> = s
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .into_iter()
        .filter_map(|r| r.entry.reason)
        .filter(|r| r.starts_with("login_password"))
        .collect();
    assert_eq!(
        reasons,
        [
            "login_password_set",
            "login_password_set",
            "login_password_set",
            "login_password_changed",
            "login_password_set",
            "login_password_removed",
        ]
    );
}

pub fn login_password() -> Password {
    Password::new(LOGIN_PASSWORD)
}

/// The web sign-in (ID + login password + a code from the user's own
/// token): every failure is the one `LoginFailed` (unknown ID, no login
/// password, no token, wrong password, wrong code, the last code typed
/// again, locked), each audited as `Login` with its reason and never the
/// password; a wrong password counts toward the ID's lock as a wrong code
/// does, and the code is not evaluated (the replay floor not moved) unless
/// the password is right; a right password clears nothing, a right sign-in
/// clears the wrong entries.
pub fn sign_in_refuses_every_failure_alike<S: Store + 'static>(store: S) {
    let (mut s, shared, second) = seed(store);
    let general = s.general.clone();
    let token = s.token_of(&general).unwrap().unwrap();
    let nobody = UserId::parse("W9999").unwrap();
    let pw = login_password();
    let code = s.press(&token).unwrap();
    assert_eq!(
        s.bank.sign_in(&nobody, &pw, &code),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(
        s.bank.sign_in(&second, &pw, &code),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(
        s.bank.sign_in(&s.without_token.clone(), &pw, &code),
        Err(Refusal::LoginFailed)
    );
    let state = s.bank.records().token_state(&token).unwrap();
    assert_eq!(
        s.bank.sign_in(&general, &approval(), &code),
        Err(Refusal::LoginFailed)
    );
    // The code was not evaluated: the token's state is as it was.
    assert_eq!(s.bank.records().token_state(&token).unwrap(), state);
    assert_eq!(
        s.bank.sign_in(&general, &pw, &wrong(&code)),
        Err(Refusal::LoginFailed)
    );
    // One wrong password and one wrong code, on the same counter; the
    // right password in between cleared nothing.
    let lock = shared.user(&general).unwrap().unwrap().lock;
    assert_eq!(
        (
            lock.codes.failures,
            lock.codes.pending,
            lock.passwords.failures
        ),
        (2, 0, 0)
    );
    let signed = s.bank.sign_in(&general, &pw, &code).unwrap();
    assert_eq!(signed.user(), &general);
    assert_eq!(signed.serial(), Some(token));
    let lock = shared.user(&general).unwrap().unwrap().lock;
    assert_eq!((lock.codes.failures, lock.codes.pending), (0, 0));
    assert_ne!(s.bank.records().token_state(&token).unwrap(), state);
    // The same code again: refused as any failure (`Replayed` would tell
    // whoever saw the code that the password is right), not counted.
    assert_eq!(
        s.bank.sign_in(&general, &pw, &code),
        Err(Refusal::LoginFailed)
    );
    let lock = shared.user(&general).unwrap().unwrap().lock;
    assert_eq!((lock.codes.failures, lock.codes.pending), (0, 0));
    // Typing mistakes: the same answer for every ID, nothing evaluated.
    for typed in ["１２３４５", "12345", "abcdef"] {
        let unknown = s.bank.sign_in(&nobody, &pw, typed).unwrap_err();
        assert!(matches!(unknown, Refusal::Code(..)), "{typed}: {unknown:?}");
        assert_eq!(s.bank.sign_in(&general, &pw, typed).unwrap_err(), unknown);
    }
    s.bank.lock(&s.admin, &general).unwrap();
    s.clock.advance(30);
    let code = s.press(&token).unwrap();
    assert_eq!(
        s.bank.sign_in(&general, &pw, &code),
        Err(Refusal::LoginFailed)
    );
    let chain = s.bank.records().audit_chain().unwrap();
    let logins: Vec<(AuditResult, Option<String>)> = chain
        .iter()
        .filter(|r| r.entry.action == Action::Login)
        .map(|r| (r.entry.result, r.entry.reason.clone()))
        .filter(|(_, r)| r.as_deref() != Some("malformed_code_current"))
        .collect();
    let refused = |r: &str| (AuditResult::Refused, Some(r.to_owned()));
    assert_eq!(
        logins,
        [
            refused("unknown_user"),
            refused("no_login_password"),
            refused("no_token_registered"),
            refused("wrong_login_password"),
            refused("wrong_code_current"),
            (AuditResult::Ok, None),
            refused("replayed_code_current"),
            refused("user_locked"),
        ]
    );
    assert!(!format!("{chain:?}").contains(LOGIN_PASSWORD));
}

/// Counts the credential checks a bank makes.
#[derive(Debug, Default, Clone)]
pub struct Counting(pub Arc<AtomicUsize>);

impl Credentials for Counting {
    fn required(&self, user: &UserRecord) -> Option<PasswordKind> {
        StoredHashes.required(user)
    }
    fn check(
        &self,
        user: &UserRecord,
        kind: PasswordKind,
        password: &Password,
    ) -> Result<bool, StoreError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        StoredHashes.check(user, kind, password)
    }
}

/// A locked ID's sign-in evaluates neither the password nor the code: no
/// credential check, the token's state and the lock's counters untouched.
pub fn a_locked_sign_in_evaluates_neither_password_nor_code<S: Store + 'static>(store: S) {
    let (mut s, shared, _) = seed(store);
    let checks = Counting::default();
    let bank = Bank::new(Arc::clone(&shared), Arc::new(s.clock.clone()))
        .unwrap()
        .with_audit_key(AuditKey::new(AUDIT_KEY))
        .with_hash_cost(HashCost::TESTING)
        .with_credentials(checks.clone());
    let general = s.general.clone();
    let token = s.token_of(&general).unwrap().unwrap();
    let code = s.press(&token).unwrap();
    assert_eq!(
        bank.sign_in(&general, &Password::new("guess-1"), &code),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(checks.0.load(Ordering::SeqCst), 1);
    s.bank.lock(&s.admin, &general).unwrap();
    let before = shared.user(&general).unwrap().unwrap().lock;
    let state = s.bank.records().token_state(&token).unwrap();
    assert_eq!(
        bank.sign_in(&general, &login_password(), &code),
        Err(Refusal::LoginFailed)
    );
    assert_eq!(checks.0.load(Ordering::SeqCst), 1, "a password was checked");
    assert_eq!(s.bank.records().token_state(&token).unwrap(), state);
    assert_eq!(shared.user(&general).unwrap().unwrap().lock, before);
    // Unlocked: the right password and code sign in.
    s.bank.unlock(&s.admin, &general, &approval()).unwrap();
    bank.sign_in(&general, &login_password(), &code).unwrap();
    assert_eq!(checks.0.load(Ordering::SeqCst), 2);
}

/// Concurrent sign-ins on one ID spend exactly the limit: of `THREADS`
/// simultaneous attempts (wrong login passwords, right passwords with
/// wrong codes, and plain logins with wrong codes), exactly six are
/// evaluated, the rest refused unevaluated, every answer `LoginFailed`,
/// and the ID is locked with nothing left reserved.
pub fn concurrent_sign_in_guesses_spend_the_limit_brute<S: Store + 'static>(
    make: impl Fn() -> S,
    rounds: usize,
) {
    const THREADS: usize = 12;
    for round in 0..rounds {
        let (mut s, shared, _) = seed(make());
        let general = s.general.clone();
        let token = s.token_of(&general).unwrap().unwrap();
        let code = wrong(&s.press(&token).unwrap());
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let bank = server(&s, &shared);
                let barrier = Arc::clone(&barrier);
                let general = general.clone();
                let code = code.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    match i % 3 {
                        0 => bank.sign_in(&general, &Password::new(&format!("guess-{i}")), &code),
                        1 => bank.sign_in(&general, &login_password(), &code),
                        _ => bank.login(&general, &code).map(|_| unreachable!()),
                    }
                    .unwrap_err()
                })
            })
            .collect();
        let outcomes: Vec<Refusal> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            outcomes.iter().all(|r| *r == Refusal::LoginFailed),
            "round {round}: {outcomes:?}"
        );
        let evaluated = s
            .bank
            .records()
            .audit_chain()
            .unwrap()
            .iter()
            .filter(|r| {
                matches!(
                    r.entry.reason.as_deref(),
                    Some("wrong_login_password" | "wrong_code_current")
                )
            })
            .count();
        assert_eq!(evaluated, 6, "round {round}: {outcomes:?}");
        let lock = shared.user(&general).unwrap().unwrap().lock;
        assert!(lock.locked, "round {round}");
        assert_eq!(
            (lock.codes.pending, lock.codes.failures),
            (0, 6),
            "round {round}"
        );
    }
}

/// The page header's previous login (前回ログイン日時): a user's first
/// sign-in has none, the next one carries the first one's time (on the
/// scenario's clock), `login` carries them too; the time is stored with
/// the login's verification, a failed login leaves it, and the branch's
/// changes to the user keep it.
pub fn sign_ins_carry_the_previous_login_time<S: Store + 'static>(store: S) {
    let (mut s, _shared, _) = seed(store);
    let general = s.general.clone();
    let token = s.token_of(&general).unwrap().unwrap();
    assert_eq!(
        s.bank.records().user(&general).unwrap().unwrap().last_login,
        None
    );
    let first_at = s.bank.now();
    let code = s.press(&token).unwrap();
    let first = s.bank.sign_in(&general, &login_password(), &code).unwrap();
    assert_eq!(
        (first.this_login(), first.previous_login()),
        (first_at, None)
    );
    assert_eq!(
        s.bank.records().user(&general).unwrap().unwrap().last_login,
        Some(first_at)
    );
    // A failed sign-in (a wrong code, after the right password) and the
    // branch's act on the user leave it.
    s.clock.advance(3_600);
    let code = s.press(&token).unwrap();
    assert_eq!(
        s.bank.sign_in(&general, &login_password(), &wrong(&code)),
        Err(Refusal::LoginFailed)
    );
    s.bank
        .set_password(&branch(), &general, PasswordKind::Login, &login_password())
        .unwrap();
    assert_eq!(
        s.bank.records().user(&general).unwrap().unwrap().last_login,
        Some(first_at)
    );
    let second_at = s.bank.now();
    let second = s.bank.sign_in(&general, &login_password(), &code).unwrap();
    assert_eq!(
        (second.this_login(), second.previous_login()),
        (second_at, Some(first_at))
    );
    // `login` (the code alone) counts as a login too.
    s.clock.advance(60);
    let third_at = s.bank.now();
    let code = s.press(&token).unwrap();
    let third = s.bank.login(&general, &code).unwrap();
    assert_eq!(
        third.login(),
        Some(otp_exchange::LoginTimes {
            this_login: third_at,
            previous_login: Some(second_at)
        })
    );
    assert_eq!(
        s.bank.records().user(&general).unwrap().unwrap().last_login,
        Some(third_at)
    );
    // Another user's is their own.
    assert_eq!(
        s.bank.records().user(&s.admin).unwrap().unwrap().last_login,
        None
    );
}

/// Two password changes of different kinds on one user, interleaved: the
/// administrator changes their approval password and, between that
/// change's read of the user and its write, the branch sets their
/// per-transfer password. Both changes are kept (a write of the whole
/// record from the read copy lost the branch's).
pub fn concurrent_changes_of_two_password_kinds_are_both_kept<S: Store + 'static>(store: S) {
    let (s, shared, _) = seed(store);
    let admin = s.admin.clone();
    let branch_bank = server(&s, &shared);
    let transfer = Password::new("transfer-set-by-branch");
    {
        let admin = admin.clone();
        let transfer = Password::new("transfer-set-by-branch");
        shared.before_password_write(move || {
            branch_bank
                .set_password(&branch(), &admin, PasswordKind::PerTransfer, &transfer)
                .unwrap();
        });
    }
    let new = Password::new("approve-2021-new");
    s.bank
        .change_password(&admin, PasswordKind::Approval, &approval(), &new)
        .unwrap();
    let user = shared.user(&admin).unwrap().unwrap();
    assert!(user.approval_password.unwrap().matches(&new));
    assert!(
        user.transfer_password.unwrap().matches(&transfer),
        "the branch's per-transfer password was lost"
    );
    assert!(user.login_password.unwrap().matches(&login_password()));
}

/// A self-service change whose password is reset by the branch between
/// its check of the current password and its write: refused as a
/// conflict, and the branch's password stays (the change was decided on
/// a password that is no longer the current one).
pub fn a_change_loses_to_a_reset_made_meanwhile<S: Store + 'static>(store: S) {
    let (s, shared, _) = seed(store);
    let general = s.general.clone();
    let branch_bank = server(&s, &shared);
    {
        let general = general.clone();
        shared.before_password_write(move || {
            branch_bank
                .set_password(
                    &branch(),
                    &general,
                    PasswordKind::Login,
                    &Password::new("reset-by-branch"),
                )
                .unwrap();
        });
    }
    assert_eq!(
        s.bank.change_password(
            &general,
            PasswordKind::Login,
            &login_password(),
            &Password::new("login-2021-new")
        ),
        Err(Refusal::Conflict)
    );
    let user = shared.user(&general).unwrap().unwrap();
    assert!(
        user.login_password
            .unwrap()
            .matches(&Password::new("reset-by-branch"))
    );
    assert_eq!(
        (user.lock.passwords.pending, user.lock.passwords.failures),
        (0, 0)
    );
}

/// The branch renames a user (enrolment of an existing ID) while a
/// password of theirs is set: the rename, written after its read of the
/// user, keeps the password set meanwhile (it wrote the read copy's
/// hashes back).
pub fn a_rename_keeps_a_password_set_meanwhile<S: Store + 'static>(store: S) {
    let (s, shared, _) = seed(store);
    let admin = s.admin.clone();
    let branch_bank = server(&s, &shared);
    {
        let admin = admin.clone();
        shared.before_password_write(move || {
            branch_bank
                .set_password(
                    &branch(),
                    &admin,
                    PasswordKind::PerTransfer,
                    &Password::new("transfer-set-by-branch"),
                )
                .unwrap();
        });
    }
    s.bank
        .enroll_user(&branch(), &admin, "しんきん一郎", Authority::Administrator)
        .unwrap();
    let user = shared.user(&admin).unwrap().unwrap();
    assert_eq!(user.name, "しんきん一郎");
    assert!(
        user.transfer_password
            .unwrap()
            .matches(&Password::new("transfer-set-by-branch")),
        "the per-transfer password set meanwhile was lost"
    );
    assert!(user.approval_password.unwrap().matches(&approval()));
}

// ---------------------------------------------------------------------
// Transaction signing (keypad tokens, RFC 6287 OCRA): the same lock,
// replay floor and audit as a login's code.
// ---------------------------------------------------------------------

/// W0005 (no token in the manual) with a keypad token of `suite`
/// registered by the branch; returns the token's serial.
fn keypad_user<S: Store + 'static>(s: &mut Scenario<Shared<S>>, suite: &str) -> SerialNumber {
    let serial = s.add_keypad_token(suite.parse().unwrap()).unwrap();
    let code = s.press(&serial).unwrap();
    let user = s.without_token.clone();
    s.bank
        .branch_register(&branch(), &user, serial.as_str(), &code)
        .unwrap();
    s.clock.advance(30);
    serial
}

/// The keypad's response to the bank's challenge for `t`.
fn sign<S: Store + 'static>(
    s: &mut Scenario<Shared<S>>,
    serial: &SerialNumber,
    t: &otp_exchange::Transaction,
) -> String {
    let user = s.without_token.clone();
    let q = s.bank.transaction_challenge(&user, t).unwrap();
    s.press_challenge(serial, &q).unwrap()
}

fn signature_records(chain: &[AuditRecord], reason: &str) -> usize {
    chain
        .iter()
        .filter(|r| r.entry.action == Action::SignTransaction)
        .filter(|r| r.entry.reason.as_deref() == Some(reason))
        .count()
}

/// A signature signs its own transaction once: another transfer's
/// response is wrong (and counted), the right one is accepted and audited
/// with the transaction's reference, the same one again is a replay; the
/// login's state is the button's own (a login after signatures, and a
/// signature after logins, both pass).
pub fn a_signature_signs_its_transaction_once<S: Store + 'static>(store: S) {
    use otp_exchange::Transaction;
    let (mut s, _shared, _) = seed(store);
    let serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA256-8:C-QN08");
    let user = s.without_token.clone();
    let pay = Transaction::new(150_000, "1234567").unwrap();
    let other = Transaction::new(150_000, "7654321").unwrap();

    let for_other = sign(&mut s, &serial, &other);
    assert_eq!(
        s.bank.sign_transaction(&user, &pay, &for_other),
        Err(Refusal::WrongSignature)
    );
    let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
    assert_eq!(lock.codes.failures, 1);

    let right = sign(&mut s, &serial, &pay);
    let signed = s.bank.sign_transaction(&user, &pay, &right).unwrap();
    assert_eq!(signed.serial(), serial);
    // The keypad's second challenge (counter 1): the first, for the other
    // transfer, used counter 0 and was never accepted.
    assert_eq!(signed.counter(), Some(1));
    assert_eq!(
        signed.reference(),
        s.bank.transaction_reference(&user, &pay).unwrap()
    );
    let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
    assert_eq!(lock.codes.failures, 0, "a right signature clears the count");
    assert_eq!(
        s.bank.sign_transaction(&user, &pay, &right),
        Err(Refusal::SignatureReplayed)
    );
    // The login's state is untouched by signatures, and a login leaves
    // the signing floor alone.
    let code = s.press(&serial).unwrap();
    s.bank.login(&user, &code).unwrap();
    let again = sign(&mut s, &serial, &pay);
    assert_eq!(
        s.bank
            .sign_transaction(&user, &pay, &again)
            .unwrap()
            .counter(),
        Some(2)
    );
    let chain = s.bank.records().audit_chain().unwrap();
    assert_eq!(
        signature_records(
            &chain,
            &format!(
                "transaction:{}",
                s.bank.transaction_reference(&user, &pay).unwrap()
            )
        ),
        2
    );
    assert_eq!(signature_records(&chain, "wrong_signature"), 1);
    assert_eq!(signature_records(&chain, "replayed_signature"), 1);
    s.bank.verify_audit().unwrap();
}

/// The challenge as anyone could compute it before it was keyed: a
/// SHA-256 of the user, the amount and the destination, digits drawn from
/// it. An attacker's model, to search offline for colliding transfers.
fn unkeyed_challenge(user: &UserId, t: &otp_exchange::Transaction, len: usize) -> String {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(b"otp-exchange transaction challenge v1\0");
    for field in [
        user.as_str().as_bytes(),
        t.amount().to_string().as_bytes(),
        t.destination().as_bytes(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field);
    }
    let seed = h.finalize();
    let mut out = String::new();
    for block in 0u64.. {
        let bytes = Sha256::new()
            .chain_update(seed)
            .chain_update(block.to_be_bytes())
            .finalize();
        for b in bytes.iter().filter(|&&b| b < 250) {
            if out.len() == len {
                return out;
            }
            out.push(char::from(b'0' + b % 10));
        }
    }
    out
}

/// Regression: the challenge was a public function of the transfer, so
/// whoever wanted their own transfer signed could search offline (10^5
/// hashes for a 5-digit question, 10^8 for 8) for one whose challenge
/// equals that of the transfer the customer means to sign; the customer's
/// response then signed theirs too. The challenge is keyed by the bank
/// (under its session key): the transfer found that way is refused, and
/// the customer's own is signed.
pub fn a_transfer_found_offline_with_the_same_challenge_is_refused<S: Store + 'static>(store: S) {
    use otp_exchange::Transaction;
    let (mut s, _shared, _) = seed(store);
    // A 5-digit challenge, below the policy's minimum of 8 (which keeps
    // the online search, asking the bank for challenges, out of reach),
    // allowed here so that the offline search takes 10^5 hashes.
    s.bank = s.bank.with_policy(otp_exchange::Policy {
        min_signing_challenge: 5,
        ..otp_exchange::Policy::default()
    });
    let serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA1-6:C-QN05");
    let user = s.without_token.clone();
    let honest = Transaction::new(150_000, "1234567").unwrap();
    let target = unkeyed_challenge(&user, &honest, 5);
    let forged = (1..)
        .map(|amount| Transaction::new(amount, "6666666").unwrap())
        .find(|t| unkeyed_challenge(&user, t, 5) == target)
        .unwrap();
    let response = sign(&mut s, &serial, &honest);
    assert_eq!(
        s.bank.sign_transaction(&user, &forged, &response),
        Err(Refusal::WrongSignature),
        "a transfer of {} to 6666666, found offline, was signed by the response for {}",
        forged.amount(),
        honest.amount()
    );
    s.bank.sign_transaction(&user, &honest, &response).unwrap();
}

/// Wrong signatures and wrong login codes count on the one lock: three of
/// each lock the ID, after which even the right signature verifies
/// nothing. Malformed responses are refused before anything is counted.
pub fn wrong_signatures_lock_the_id_with_wrong_codes<S: Store + 'static>(store: S) {
    use otp_exchange::Transaction;
    let (mut s, _shared, _) = seed(store);
    let serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA1-6:QN08-T1M");
    let user = s.without_token.clone();
    let pay = Transaction::new(9_800, "0012345").unwrap();
    for malformed in ["", "12345", "1234567", "12a456", "12345678901234567890"] {
        assert!(matches!(
            s.bank.sign_transaction(&user, &pay, malformed),
            Err(Refusal::Signature(_))
        ));
    }
    assert_eq!(
        s.bank
            .records()
            .user(&user)
            .unwrap()
            .unwrap()
            .lock
            .codes
            .failures,
        0
    );
    for _ in 0..3 {
        let code = wrong(&s.press(&serial).unwrap());
        assert_eq!(s.bank.login(&user, &code), Err(Refusal::LoginFailed));
        s.clock.advance(60);
        let bad = wrong(&sign(&mut s, &serial, &pay));
        assert!(matches!(
            s.bank.sign_transaction(&user, &pay, &bad),
            Err(Refusal::WrongSignature | Refusal::UserLocked)
        ));
    }
    let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
    assert!(lock.locked && lock.codes.failures == 6, "{lock:?}");
    s.clock.advance(60);
    let right = sign(&mut s, &serial, &pay);
    assert_eq!(
        s.bank.sign_transaction(&user, &pay, &right),
        Err(Refusal::UserLocked)
    );
    let chain = s.bank.records().audit_chain().unwrap();
    assert_eq!(
        signature_records(
            &chain,
            &format!(
                "transaction:{}",
                s.bank.transaction_reference(&user, &pay).unwrap()
            )
        ),
        0
    );
}

/// A time-based suite: one signature per time step (the step becomes the
/// floor), the next step's accepted.
pub fn a_timed_signature_is_accepted_once_per_step<S: Store + 'static>(store: S) {
    use otp_exchange::Transaction;
    let (mut s, _shared, _) = seed(store);
    let serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA512-8:QA10-T1M");
    let user = s.without_token.clone();
    let pay = Transaction::new(1, "ACCT-9").unwrap();
    let first = sign(&mut s, &serial, &pay);
    let step = s
        .bank
        .sign_transaction(&user, &pay, &first)
        .unwrap()
        .time_step();
    assert!(step.is_some());
    let same_step = sign(&mut s, &serial, &pay);
    assert_eq!(same_step, first);
    assert_eq!(
        s.bank.sign_transaction(&user, &pay, &same_step),
        Err(Refusal::SignatureReplayed)
    );
    s.clock.advance(60);
    let next = sign(&mut s, &serial, &pay);
    assert_eq!(
        s.bank
            .sign_transaction(&user, &pay, &next)
            .unwrap()
            .time_step(),
        step.map(|t| t + 1)
    );
}

/// Tokens the bank cannot take signatures from: a button-only token, a
/// suite without counter or time step (a response would be valid again
/// for the same transfer), no token at all.
pub fn only_a_safe_keypad_token_signs<S: Store + 'static>(store: S) {
    use otp_exchange::Transaction;
    let (mut s, _shared, _) = seed(store);
    let pay = Transaction::new(1, "1").unwrap();
    assert_eq!(
        s.bank.transaction_challenge(&s.general, &pay),
        Err(Refusal::NoSigningToken)
    );
    assert_eq!(
        s.bank.sign_transaction(&s.general, &pay, "123456"),
        Err(Refusal::NoSigningToken)
    );
    assert_eq!(
        s.bank.transaction_challenge(&s.without_token, &pay),
        Err(Refusal::NoTokenRegistered)
    );
    let _serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA1-6:QN08");
    assert_eq!(
        s.bank.transaction_challenge(&s.without_token, &pay),
        Err(Refusal::ReplayableSigningSuite)
    );
    assert_eq!(
        s.bank.sign_transaction(&s.without_token, &pay, "123456"),
        Err(Refusal::ReplayableSigningSuite)
    );
    let chain = s.bank.records().audit_chain().unwrap();
    assert_eq!(signature_records(&chain, "no_signing_token"), 1);
    assert_eq!(signature_records(&chain, "replayable_signing_suite"), 1);
}

/// A keypad token whose challenge is shorter than the policy's minimum
/// (8 digits by default) signs nothing: a colliding transfer would be
/// found by asking the bank for challenges. Lowered by the bank, it
/// signs.
pub fn a_short_challenge_signs_nothing_below_the_policy_minimum<S: Store + 'static>(store: S) {
    use otp_exchange::{Policy, Transaction};
    let (mut s, _shared, _) = seed(store);
    let serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA1-6:C-QN06");
    let user = s.without_token.clone();
    let pay = Transaction::new(150_000, "1234567").unwrap();
    assert_eq!(Policy::default().min_signing_challenge, 8);
    assert_eq!(
        s.bank.transaction_challenge(&user, &pay),
        Err(Refusal::NoSigningToken)
    );
    assert_eq!(
        s.bank.sign_transaction(&user, &pay, "123456"),
        Err(Refusal::NoSigningToken)
    );
    s.bank = s.bank.with_policy(Policy {
        min_signing_challenge: 6,
        ..Policy::default()
    });
    let q = s.bank.transaction_challenge(&user, &pay).unwrap();
    assert_eq!(q.len(), 6);
    let response = s.press_challenge(&serial, &q).unwrap();
    s.bank.sign_transaction(&user, &pay, &response).unwrap();
    let chain = s.bank.records().audit_chain().unwrap();
    assert_eq!(signature_records(&chain, "no_signing_token"), 1);
}

/// Deterministic race: another server accepts the same signature between
/// this request's read and its commit. This one's verdict (accepted, on
/// the floor it read) loses the compare-and-set, is verified again
/// against the winner's floor, and is refused as a replay.
pub fn a_signature_verdict_that_loses_the_race_is_verified_again<S: Store + 'static>(store: S) {
    use otp_exchange::Transaction;
    let (mut s, shared, _) = seed(store);
    let other = server(&s, &shared);
    let serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA256-8:C-QN08");
    let user = s.without_token.clone();
    let pay = Transaction::new(50_000, "2223334").unwrap();
    let right = sign(&mut s, &serial, &pay);
    let (target, tx, response) = (user.clone(), pay.clone(), right.clone());
    shared.before_verification(move || {
        assert!(other.sign_transaction(&target, &tx, &response).is_ok());
    });
    assert_eq!(
        s.bank.sign_transaction(&user, &pay, &right),
        Err(Refusal::SignatureReplayed)
    );
    let chain = s.bank.records().audit_chain().unwrap();
    assert_eq!(
        signature_records(
            &chain,
            &format!(
                "transaction:{}",
                s.bank.transaction_reference(&user, &pay).unwrap()
            )
        ),
        1
    );
}

/// A signature's verdict commits only while the token is the user's: the
/// branch revokes it between the read and the commit, and the signature
/// is refused.
pub fn a_signature_is_refused_when_the_token_is_revoked_meanwhile<S: Store + 'static>(store: S) {
    use otp_exchange::Transaction;
    let (mut s, shared, _) = seed(store);
    let other = server(&s, &shared);
    let serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA256-8:C-QN08");
    let user = s.without_token.clone();
    let pay = Transaction::new(50_000, "2223334").unwrap();
    let right = sign(&mut s, &serial, &pay);
    let target = user.clone();
    shared.before_verification(move || {
        other.branch_revoke(&branch(), &target).unwrap();
    });
    assert!(matches!(
        s.bank.sign_transaction(&user, &pay, &right),
        Err(Refusal::NoTokenRegistered | Refusal::Conflict)
    ));
    let chain = s.bank.records().audit_chain().unwrap();
    assert_eq!(
        signature_records(
            &chain,
            &format!(
                "transaction:{}",
                s.bank.transaction_reference(&user, &pay).unwrap()
            )
        ),
        0
    );
}

/// Brute force: 8 servers submit the same right signature at once,
/// `rounds` times: exactly one is accepted, the others are replays, and
/// the chain holds one accepted record per round.
pub fn concurrent_signatures_accept_one_brute<S: Store + 'static>(
    make: impl Fn() -> S,
    rounds: usize,
) {
    use otp_exchange::Transaction;
    for round in 0..rounds {
        let (mut s, shared, _) = seed(make());
        let serial = keypad_user(&mut s, "OCRA-1:HOTP-SHA256-8:C-QN08");
        let user = s.without_token.clone();
        let pay = Transaction::new(10_000 + round as u64, "5556667").unwrap();
        let right = sign(&mut s, &serial, &pay);
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (bank, barrier, user, pay, right) = (
                    server(&s, &shared),
                    Arc::clone(&barrier),
                    user.clone(),
                    pay.clone(),
                    right.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    bank.sign_transaction(&user, &pay, &right)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || *r == Err(Refusal::SignatureReplayed)),
            "round {round}: {results:?}"
        );
        let chain = s.bank.records().audit_chain().unwrap();
        assert_eq!(
            signature_records(
                &chain,
                &format!(
                    "transaction:{}",
                    s.bank.transaction_reference(&user, &pay).unwrap()
                )
            ),
            1,
            "round {round}"
        );
        // Replays of the last signature are not guesses.
        let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
        assert_eq!(lock.codes.failures, 0, "round {round}");
    }
}
