//! The conformance suite of `otp_exchange::Store`, written once and run
//! against every backend by [`conformance_suite!`]: the in-memory
//! reference store, SQLite and PostgreSQL must behave the same.
//!
//! Each function takes a fresh, empty store. Store-level changes are built
//! with the `for_test` constructors of otp-exchange's `test-util` feature;
//! every chain is verified under the suite's fixed key and against the
//! stored head.

use otp_core::{Algorithm, Digits, Mode, Secret, TimeStep, TokenState};
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{
    Action, Attempts, AuditEntry, AuditFormat, AuditHead, AuditRecord, Authority,
    BranchAuthorization, HashCost, IdLock, LockChange, Password, PasswordHash, PasswordKind,
    Refusal, StateSlot, Store, StoreError, Switch, SwitchError, TokenEntry, TokenStatus, UserId,
    UserRecord, Verification, Which, verify_chain,
};
use otp_provision::{Profile, SeedRecord, SerialNumber};

use crate::support::key;

/// The manual's start: 2020-10-01 09:30 JST.
pub const START: u64 = 1_601_512_200;

/// Instantiates every conformance test for one backend: `$make` is an
/// expression making a fresh, empty store; attributes (such as
/// `#[ignore = "..."]`) go on every test.
macro_rules! conformance_suite {
    ($(#[$attr:meta])* $name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports, reason = "used by some makers only")]
            use super::*;
            $(#[$attr])* #[test] fn users_are_paged_in_id_order() { crate::conformance::users_are_paged_in_id_order(&$make) }
            $(#[$attr])* #[test] fn put_user_keeps_binding_and_lock() { crate::conformance::put_user_keeps_binding_and_lock(&$make) }
            $(#[$attr])* #[test] fn replace_password_is_a_compare_and_set_on_one_kind() { crate::conformance::replace_password_is_a_compare_and_set_on_one_kind(&$make) }
            $(#[$attr])* #[test] fn tokens_round_trip_with_secret_and_profile() { crate::conformance::tokens_round_trip_with_secret_and_profile(&$make) }
            $(#[$attr])* #[test] fn add_tokens_is_all_or_nothing() { crate::conformance::add_tokens_is_all_or_nothing(&$make) }
            $(#[$attr])* #[test] fn verification_state_lock_and_audit_are_saved_together() { crate::conformance::verification_state_lock_and_audit_are_saved_together(&$make) }
            $(#[$attr])* #[test] fn a_signature_moves_the_signing_state_only() { crate::conformance::a_signature_moves_the_signing_state_only(&$make) }
            $(#[$attr])* #[test] fn verification_is_refused_when_the_binding_changed() { crate::conformance::verification_is_refused_when_the_binding_changed(&$make) }
            $(#[$attr])* #[test] fn verification_is_refused_when_state_or_lock_changed() { crate::conformance::verification_is_refused_when_state_or_lock_changed(&$make) }
            $(#[$attr])* #[test] fn verification_checks_the_operators_lock_too() { crate::conformance::verification_checks_the_operators_lock_too(&$make) }
            $(#[$attr])* #[test] fn locks_are_compare_and_set_all_or_nothing() { crate::conformance::locks_are_compare_and_set_all_or_nothing(&$make) }
            $(#[$attr])* #[test] fn user_and_token_read_the_user_and_their_bound_token() { crate::conformance::user_and_token_read_the_user_and_their_bound_token(&$make) }
            $(#[$attr])* #[test] fn switch_registers_exchanges_and_unregisters() { crate::conformance::switch_registers_exchanges_and_unregisters(&$make) }
            $(#[$attr])* #[test] fn switch_conflicts_change_nothing() { crate::conformance::switch_conflicts_change_nothing(&$make) }
            $(#[$attr])* #[test] fn switch_with_a_changed_lock_changes_nothing() { crate::conformance::switch_with_a_changed_lock_changes_nothing(&$make) }
            $(#[$attr])* #[test] fn audit_chain_verifies_and_filters() { crate::conformance::audit_chain_verifies_and_filters(&$make) }
            $(#[$attr])* #[test] fn audit_head_moves_with_every_append_only() { crate::conformance::audit_head_moves_with_every_append_only(&$make) }
            $(#[$attr])* #[test] fn api_keys_are_stored_revoked_once_and_touched_forward() { crate::conformance::api_keys_are_stored_revoked_once_and_touched_forward(&$make) }
            $(#[$attr])* #[test] fn nonces_are_consumed_once() { crate::conformance::nonces_are_consumed_once(&$make) }
            $(#[$attr])* #[test] fn seed_scenario_end_to_end() { crate::conformance::seed_scenario_end_to_end($make) }
            $(#[$attr])* #[test] fn seed_locks_and_unlocks_through_the_bank() { crate::conformance::seed_locks_and_unlocks_through_the_bank($make) }
        }
    };
}

pub fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

pub fn serial(n: u64) -> SerialNumber {
    SerialNumber::numbered("VT", n).unwrap()
}

/// An unassigned TOTP token with serial `VT000000000n` and a secret
/// derived from `n`.
pub fn token(n: u64) -> TokenEntry {
    let secret = Secret::from_bytes(&[u8::try_from(n % 251).unwrap().wrapping_add(1); 20]).unwrap();
    TokenEntry::unassigned(SeedRecord::new(
        serial(n).as_str(),
        secret,
        Profile::default(),
    ))
    .unwrap()
}

fn same_token(a: &TokenEntry, b: &TokenEntry) {
    assert_eq!(a.serial, b.serial);
    assert_eq!(a.status, b.status);
    assert_eq!(a.state, b.state);
    assert_eq!(a.seed.serial, b.seed.serial);
    assert_eq!(a.seed.manufacturer, b.seed.manufacturer);
    assert_eq!(a.seed.model, b.seed.model);
    assert_eq!(a.seed.issuer, b.seed.issuer);
    assert_eq!(a.seed.key_id, b.seed.key_id);
    assert_eq!(a.seed.profile, b.seed.profile);
    assert_eq!(a.seed.counter, b.seed.counter);
    assert_eq!(a.seed.time_drift, b.seed.time_drift);
    assert_eq!(a.seed.suite, b.seed.suite);
    assert_eq!(a.signing, b.signing);
    assert_eq!(
        a.seed.secret().expose_secret(),
        b.seed.secret().expose_secret()
    );
}

fn entry(at: u64, target: Option<&UserId>, action: Action) -> AuditEntry {
    AuditEntry::new(at, "W0001", target, action)
}

/// Creates or replaces a user, audited.
fn put(store: &impl Store, user: &UserRecord) -> AuditRecord {
    let audit = entry(START, Some(&user.id), Action::UserUpdate);
    let record = store.put_user(user, &audit, &key()).unwrap();
    assert_eq!(record.entry, audit);
    record
}

fn general(store: &impl Store, id: &UserId) {
    put(
        store,
        &UserRecord::new(id.clone(), "しんきん太郎", Authority::General),
    );
}

/// Adds tokens, audited.
fn add(store: &impl Store, tokens: Vec<TokenEntry>) -> Result<AuditRecord, StoreError> {
    store.add_tokens(tokens, &entry(START, None, Action::Import), &key())
}

/// The whole chain verifies under the key and ends at the stored head.
fn check_chain(store: &impl Store) -> Vec<AuditRecord> {
    let chain = store.audit_chain().unwrap();
    let head = store.audit_head().unwrap();
    verify_chain(&chain, &key(), head).unwrap();
    assert_eq!(
        head,
        chain.last().map(|r| AuditHead {
            seq: r.seq,
            hash: r.hash
        })
    );
    chain
}

fn lock_of(store: &impl Store, user: &UserId) -> IdLock {
    store.user(user).unwrap().unwrap().lock
}

fn state_of(store: &impl Store, n: u64) -> TokenState {
    store.token(&serial(n)).unwrap().unwrap().state
}

/// A lock with every field set (and distinct).
fn busy_lock(base: u64) -> IdLock {
    IdLock {
        codes: Attempts {
            failures: 1,
            pending: 2,
            pending_since: base + 3,
        },
        passwords: Attempts {
            failures: 4,
            pending: 5,
            pending_since: base + 6,
        },
        locked: false,
        unlock_day: base / 86_400,
        unlocks: 2,
        binding: base + 7,
    }
}

/// The lock with the largest value in every field.
fn max_lock() -> IdLock {
    let a = Attempts {
        failures: u32::MAX,
        pending: u32::MAX,
        pending_since: u64::MAX,
    };
    IdLock {
        codes: a,
        passwords: a,
        locked: true,
        unlock_day: u64::MAX,
        unlocks: u32::MAX,
        binding: u64::MAX,
    }
}

/// Every lock that differs from `lock` in exactly one field.
fn one_field_off(lock: IdLock) -> Vec<IdLock> {
    let mut out = Vec::new();
    for i in 0..10 {
        let mut l = lock;
        match i {
            0 => l.codes.failures ^= 1,
            1 => l.codes.pending ^= 1,
            2 => l.codes.pending_since ^= 1,
            3 => l.passwords.failures ^= 1,
            4 => l.passwords.pending ^= 1,
            5 => l.passwords.pending_since ^= 1,
            6 => l.locked = !l.locked,
            7 => l.unlock_day ^= 1,
            8 => l.unlocks ^= 1,
            _ => l.binding ^= 1,
        }
        assert_ne!(l, lock);
        out.push(l);
    }
    out
}

/// Sets a user's lock through `update_locks`.
fn set_lock(store: &impl Store, user: &UserId, lock: IdLock) {
    let change = LockChange::for_test(user.clone(), lock_of(store, user), lock);
    assert!(store.update_locks(&[change], &[], &key()).unwrap());
    assert_eq!(lock_of(store, user), lock);
}

/// The state a registration leaves on token `n`.
fn registered_state(n: u64) -> TokenState {
    TokenState {
        floor: 53_383_741 + n,
        drift: -1,
        ..TokenState::new()
    }
}

fn register(store: &impl Store, user: &UserId, n: u64) {
    let audit = entry(START, Some(user), Action::Register).with_new(Some(&serial(n)));
    let record = store
        .switch(
            &Switch::for_test(
                user.clone(),
                None,
                None,
                Some((serial(n), registered_state(n))),
                Vec::new(),
                audit.clone(),
            ),
            &key(),
        )
        .unwrap();
    assert_eq!(record.entry, audit);
}

/// Everything a write could touch.
fn snapshot(store: &impl Store, users: &[&UserId], serials: &[u64]) -> String {
    let mut out = String::new();
    for u in users {
        out.push_str(&format!("{:?}\n", store.user(u).unwrap()));
    }
    for n in serials {
        let t = store.token(&serial(*n)).unwrap();
        out.push_str(&format!("{:?}\n", t.map(|t| (t.status, t.state))));
    }
    out.push_str(&format!("{:?}\n", store.audit_chain().unwrap()));
    out.push_str(&format!("{:?}", store.audit_head().unwrap()));
    out
}

pub fn users_are_paged_in_id_order(store: &impl Store) {
    assert_eq!(store.users(0, 5).unwrap().total, 0);
    assert!(store.user(&uid("W0001")).unwrap().is_none());
    // Byte order, as the reference store's `BTreeMap<UserId, _>`: upper
    // case before lower case, digits before letters.
    for id in ["W0005", "W0001", "a0001", "W0002", "B9", "W0010", "Z1"] {
        general(store, &uid(id));
    }
    let page = store.users(0, 5).unwrap();
    assert_eq!(page.total, 7);
    let ids: Vec<_> = page
        .users
        .iter()
        .map(|u| u.id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["B9", "W0001", "W0002", "W0005", "W0010"]);
    let page = store.users(5, 5).unwrap();
    let ids: Vec<_> = page
        .users
        .iter()
        .map(|u| u.id.as_str().to_owned())
        .collect();
    assert_eq!(
        (ids, page.total),
        (vec!["Z1".to_owned(), "a0001".to_owned()], 7)
    );
    assert!(store.users(10, 5).unwrap().users.is_empty());
    assert!(store.users(0, 0).unwrap().users.is_empty());
    assert_eq!(store.users(usize::MAX, usize::MAX).unwrap().total, 7);
    // A new full record comes back equal, password hashes included.
    let mut admin = UserRecord::new(uid("W0003"), "管理者 太郎", Authority::Administrator);
    admin.approval_password =
        Some(PasswordHash::create(&Password::new("approve"), HashCost::TESTING).unwrap());
    admin.transfer_password =
        Some(PasswordHash::create(&Password::new("transfer"), HashCost::TESTING).unwrap());
    admin.login_password =
        Some(PasswordHash::create(&Password::new("login"), HashCost::TESTING).unwrap());
    put(store, &admin);
    assert_eq!(store.user(&uid("W0003")).unwrap().unwrap(), admin);
    assert_eq!(store.users(0, 100).unwrap().total, 8);
    // Every put was audited.
    assert_eq!(check_chain(store).len(), 8);
}

/// `replace_password` writes the hash of one kind only, if it is still
/// the expected one (no password is a value: `None`), with its audit
/// record; a stale expectation saves nothing; an unknown user is
/// `NotFound`.
pub fn replace_password_is_a_compare_and_set_on_one_kind(store: &impl Store) {
    let user = uid("W0001");
    let hash = |p: &str| PasswordHash::create(&Password::new(p), HashCost::TESTING).unwrap();
    let (approval, transfer, login, login2) = (
        hash("approve"),
        hash("transfer"),
        hash("login"),
        hash("login-2"),
    );
    let mut admin = UserRecord::new(user.clone(), "管理者 太郎", Authority::Administrator);
    admin.approval_password = Some(approval.clone());
    admin.transfer_password = Some(transfer.clone());
    put(store, &admin);
    let audit = entry(START, Some(&user), Action::UserUpdate);
    let k = key();
    let before = store.audit_chain().unwrap().len();
    // From none to a login password.
    assert!(
        store
            .replace_password(&user, PasswordKind::Login, None, Some(&login), &audit, &k)
            .unwrap()
    );
    // A stale expectation: nothing saved, nothing audited.
    assert!(
        !store
            .replace_password(&user, PasswordKind::Login, None, Some(&login2), &audit, &k)
            .unwrap()
    );
    assert!(
        !store
            .replace_password(
                &user,
                PasswordKind::Approval,
                Some(&transfer),
                None,
                &audit,
                &k
            )
            .unwrap()
    );
    let got = store.user(&user).unwrap().unwrap();
    assert_eq!(got.login_password, Some(login.clone()));
    assert_eq!(got.approval_password, Some(approval.clone()));
    assert_eq!(got.transfer_password, Some(transfer.clone()));
    // Removed, with the right expectation; the others untouched.
    assert!(
        store
            .replace_password(
                &user,
                PasswordKind::PerTransfer,
                Some(&transfer),
                None,
                &audit,
                &k
            )
            .unwrap()
    );
    let got = store.user(&user).unwrap().unwrap();
    assert_eq!(
        (
            got.approval_password,
            got.transfer_password,
            got.login_password
        ),
        (Some(approval), None, Some(login))
    );
    assert_eq!(check_chain(store).len(), before + 2);
    assert!(matches!(
        store.replace_password(
            &uid("W0404"),
            PasswordKind::Login,
            None,
            Some(&login2),
            &audit,
            &k
        ),
        Err(StoreError::NotFound(_))
    ));
}

pub fn put_user_keeps_binding_and_lock(store: &impl Store) {
    let user = uid("W0002");
    general(store, &user);
    add(store, vec![token(1), token(2)]).unwrap();
    register(store, &user, 1);
    let lock = busy_lock(START);
    set_lock(store, &user, lock);
    let transfer = PasswordHash::create(&Password::new("t"), HashCost::TESTING).unwrap();
    assert!(
        store
            .replace_password(
                &user,
                PasswordKind::PerTransfer,
                None,
                Some(&transfer),
                &entry(START, Some(&user), Action::UserUpdate),
                &key()
            )
            .unwrap()
    );
    // Putting an existing user changes name and authority only: the
    // token, lock and passwords in the record given are not the stored
    // ones (passwords change only through `replace_password`).
    let mut again = UserRecord::new(user.clone(), "信金花子", Authority::Administrator);
    again.approval_password =
        Some(PasswordHash::create(&Password::new("p"), HashCost::TESTING).unwrap());
    again.token = Some(serial(2));
    again.lock = IdLock::default();
    let before = store.audit_chain().unwrap().len();
    let record = put(store, &again);
    assert_eq!(record.seq, before as u64 + 1);
    let got = store.user(&user).unwrap().unwrap();
    assert_eq!(got.name, "信金花子");
    assert_eq!(got.authority, Authority::Administrator);
    assert_eq!(got.approval_password, None);
    assert_eq!(got.transfer_password, Some(transfer));
    assert_eq!(got.token, Some(serial(1)));
    assert_eq!(got.lock, lock);
    assert_eq!(
        store.token(&serial(2)).unwrap().unwrap().status,
        TokenStatus::Unassigned
    );
    // A new user is stored as given, lock included.
    let mut fresh = UserRecord::new(uid("W0003"), "x", Authority::General);
    fresh.lock = max_lock();
    put(store, &fresh);
    assert_eq!(store.user(&uid("W0003")).unwrap().unwrap(), fresh);
    check_chain(store);
}

pub fn tokens_round_trip_with_secret_and_profile(store: &impl Store) {
    assert!(store.token(&serial(1)).unwrap().is_none());
    let plain = token(1);
    let mut rich = SeedRecord::new(
        "vt0000000002",
        Secret::from_bytes(&[0xA5; 64]).unwrap(),
        Profile {
            mode: Mode::Totp(TimeStep::new(60, 1_000).unwrap()),
            algorithm: Algorithm::Sha512,
            digits: Digits::Eight,
        },
    );
    rich.manufacturer = "Virtual Token Co.".into();
    rich.model = "VT-6".into();
    rich.issuer = Some("しんきん".into());
    rich.key_id = "key-2".into();
    rich.time_drift = -3;
    rich.suite = Some("OCRA-1:HOTP-SHA512-8:C-QA64-T1M".parse().unwrap());
    let mut rich = TokenEntry::unassigned(rich).unwrap();
    rich.signing = TokenState {
        floor: u64::MAX - 7,
        drift: -2,
        failures: 3,
        locked: true,
    };
    let mut event = SeedRecord::new(
        "VT0000000003",
        Secret::from_bytes(&[7; 16]).unwrap(),
        Profile::hotp(),
    );
    event.counter = u64::MAX - 1;
    let mut event = TokenEntry::unassigned(event).unwrap();
    event.state = TokenState {
        floor: u64::MAX,
        drift: i64::MIN,
        failures: u32::MAX,
        locked: true,
    };
    let expected = [plain.duplicate(), rich.duplicate(), event.duplicate()];
    add(store, vec![plain, rich, event]).unwrap();
    for e in &expected {
        same_token(&store.token(&e.serial).unwrap().unwrap(), e);
    }
    // The serial is stored in its 12-character form, the manual's as written.
    assert_eq!(
        store.token(&serial(2)).unwrap().unwrap().seed.serial,
        "vt0000000002"
    );
}

pub fn add_tokens_is_all_or_nothing(store: &impl Store) {
    let first = add(store, vec![token(1), token(2)]).unwrap();
    assert_eq!((first.seq, first.entry.action), (1, Action::Import));
    add(store, Vec::new()).unwrap();
    // One serial already present: none of the batch is added, nothing
    // audited.
    let err = add(store, vec![token(3), token(2), token(4)]).unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref m) if m.contains("●")),
        "{err:?}"
    );
    assert!(store.token(&serial(3)).unwrap().is_none());
    assert!(store.token(&serial(4)).unwrap().is_none());
    // A serial twice in the batch: none added either.
    let err = add(store, vec![token(5), token(6), token(5)]).unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert!(store.token(&serial(5)).unwrap().is_none());
    assert!(store.token(&serial(6)).unwrap().is_none());
    assert_eq!(check_chain(store).len(), 2);
}

/// W0002 with token 1 registered and a lock with every field set.
fn bound_user(store: &impl Store) -> UserId {
    let user = uid("W0002");
    general(store, &user);
    add(store, vec![token(1), token(2), token(3), token(4)]).unwrap();
    register(store, &user, 1);
    set_lock(store, &user, busy_lock(START));
    user
}

fn verification(
    user: &UserId,
    n: u64,
    expected: TokenState,
    lock: IdLock,
    audit: Vec<AuditEntry>,
) -> Verification {
    let new_state = TokenState {
        floor: expected.floor.wrapping_add(1),
        drift: 1,
        ..expected
    };
    let new_lock = IdLock {
        codes: Attempts {
            failures: 0,
            pending: lock.codes.pending.saturating_sub(1),
            ..lock.codes
        },
        ..lock
    };
    Verification::for_test(
        user.clone(),
        serial(n),
        expected,
        new_state,
        vec![LockChange::for_test(user.clone(), lock, new_lock)],
        audit,
    )
}

/// A verification an administrator's step makes also carries the
/// operator's lock (unchanged): if it changed (the operator locked), nothing
/// is written.
pub fn verification_checks_the_operators_lock_too(store: &impl Store) {
    let user = bound_user(store);
    let op = uid("W0001");
    put(
        store,
        &UserRecord::new(op.clone(), "しんきん太郎", Authority::Administrator),
    );
    let (s0, l0, o0) = (
        state_of(store, 1),
        lock_of(store, &user),
        lock_of(store, &op),
    );
    let with_operator = |op_lock: IdLock| {
        let mut v = verification(
            &user,
            1,
            s0,
            l0,
            vec![entry(START, Some(&user), Action::CurrentCode)],
        );
        let mut locks = v.locks().to_vec();
        locks.push(LockChange::for_test(op.clone(), op_lock, op_lock));
        v = Verification::for_test(
            user.clone(),
            serial(1),
            *v.expected_state(),
            *v.new_state(),
            locks,
            v.audit().to_vec(),
        );
        v
    };
    let head = store.audit_head().unwrap();
    let stale = IdLock { locked: true, ..o0 };
    assert!(
        !store
            .record_verification(&with_operator(stale), &key())
            .unwrap()
    );
    assert_eq!(
        (
            state_of(store, 1),
            lock_of(store, &user),
            lock_of(store, &op)
        ),
        (s0, l0, o0)
    );
    assert_eq!(store.audit_head().unwrap(), head);
    let v = with_operator(o0);
    assert!(store.record_verification(&v, &key()).unwrap());
    assert_eq!(state_of(store, 1), *v.new_state());
    assert_eq!(lock_of(store, &op), o0);
}

pub fn verification_state_lock_and_audit_are_saved_together(store: &impl Store) {
    let user = bound_user(store);
    let s0 = state_of(store, 1);
    let l0 = lock_of(store, &user);
    let login = entry(START + 30, Some(&user), Action::Login).with_old(Some(&serial(1)));
    let locked = AuditEntry::new(START + 30, "policy", Some(&user), Action::Lock);
    let v = verification(&user, 1, s0, l0, vec![login.clone(), locked.clone()]);
    let before = store.audit_chain().unwrap().len();
    assert!(store.record_verification(&v, &key()).unwrap());
    assert_eq!(state_of(store, 1), *v.new_state());
    assert_eq!(lock_of(store, &user), *v.locks()[0].new_lock());
    assert_eq!(
        store.token(&serial(1)).unwrap().unwrap().status,
        TokenStatus::Assigned(user.clone())
    );
    // Both records, in order, after everything before.
    let chain = check_chain(store);
    assert_eq!(chain.len(), before + 2);
    assert_eq!(chain[before].entry, login);
    assert_eq!(chain[before + 1].entry, locked);
    assert!(chain.iter().all(|r| r.format == AuditFormat::V2));
    // Saved once: the same verification again is stale.
    let snap = snapshot(store, &[&user], &[1]);
    assert!(!store.record_verification(&v, &key()).unwrap());
    assert_eq!(snapshot(store, &[&user], &[1]), snap);
    // A verification with no audit record and extreme values.
    let s1 = state_of(store, 1);
    let l1 = lock_of(store, &user);
    let extreme = Verification::for_test(
        user.clone(),
        serial(1),
        s1,
        TokenState {
            floor: u64::MAX,
            drift: i64::MIN,
            failures: u32::MAX,
            locked: true,
        },
        vec![LockChange::for_test(user.clone(), l1, max_lock())],
        Vec::new(),
    );
    assert!(store.record_verification(&extreme, &key()).unwrap());
    assert_eq!(state_of(store, 1), *extreme.new_state());
    assert_eq!(lock_of(store, &user), max_lock());
    assert_eq!(check_chain(store).len(), before + 2);
}

/// A signature's verification compares and moves the token's signing
/// state, never its login state (and the other way round), with the same
/// checks of binding and lock.
pub fn a_signature_moves_the_signing_state_only(store: &impl Store) {
    let user = bound_user(store);
    let login0 = state_of(store, 1);
    let signing0 = store.token(&serial(1)).unwrap().unwrap().signing;
    assert_eq!(signing0, TokenState::new());
    let l0 = lock_of(store, &user);
    let record = entry(START + 30, Some(&user), Action::SignTransaction);
    let v = verification(&user, 1, signing0, l0, vec![record.clone()]).signing_for_test();
    assert_eq!(v.slot(), StateSlot::Signing);
    assert!(store.record_verification(&v, &key()).unwrap());
    let after = store.token(&serial(1)).unwrap().unwrap();
    assert_eq!(after.signing, *v.new_state());
    assert_eq!(after.state, login0, "the login state is the button's own");
    assert_eq!(lock_of(store, &user), *v.locks()[0].new_lock());
    assert_eq!(check_chain(store).last().unwrap().entry, record);
    // Saved once: the same signature's verification again is stale.
    let snap = snapshot(store, &[&user], &[1]);
    assert!(!store.record_verification(&v, &key()).unwrap());
    assert_eq!(snapshot(store, &[&user], &[1]), snap);
    // A login's verification is checked against the login state: one
    // expecting the signing state (now different) is stale, and the
    // signing state is not what a login moves.
    let l1 = lock_of(store, &user);
    let wrong_slot = verification(&user, 1, after.signing, l1, Vec::new());
    assert!(!store.record_verification(&wrong_slot, &key()).unwrap());
    let login = verification(&user, 1, login0, l1, Vec::new());
    assert!(store.record_verification(&login, &key()).unwrap());
    let last = store.token(&serial(1)).unwrap().unwrap();
    assert_eq!(last.state, *login.new_state());
    assert_eq!(last.signing, after.signing);
    // A signature on a token no longer the user's is refused.
    let other = uid("W0003");
    general(store, &other);
    let l2 = lock_of(store, &user);
    let stranger = verification(&other, 1, last.signing, lock_of(store, &other), Vec::new())
        .signing_for_test();
    assert!(!store.record_verification(&stranger, &key()).unwrap());
    assert_eq!(lock_of(store, &user), l2);
}

pub fn verification_is_refused_when_the_binding_changed(store: &impl Store) {
    let a = bound_user(store);
    let b = uid("W0003");
    general(store, &b);
    register(store, &b, 2); // a has 1, b has 2; 3 and 4 in stock
    let users = [&a, &b, &uid("W0099")];
    let serials = [1, 2, 3, 4, 99];
    let try_save = |v: &Verification| {
        let before = snapshot(store, &users, &serials);
        let saved = store.record_verification(v, &key()).unwrap();
        if !saved {
            assert_eq!(snapshot(store, &users, &serials), before, "nothing written");
        }
        saved
    };
    let la = lock_of(store, &a);
    let lb = lock_of(store, &b);
    let login = |u: &UserId| vec![entry(START + 60, Some(u), Action::Login)];
    // Another user's token, a token in stock, an unknown token, an
    // unknown user.
    assert!(
        !try_save(&verification(&a, 2, state_of(store, 2), la, login(&a))),
        "b's token"
    );
    assert!(
        !try_save(&verification(&b, 1, state_of(store, 1), lb, login(&b))),
        "a's token"
    );
    assert!(
        !try_save(&verification(&a, 3, state_of(store, 3), la, login(&a))),
        "in stock"
    );
    assert!(
        !try_save(&verification(&a, 99, state_of(store, 1), la, login(&a))),
        "unknown token"
    );
    assert!(
        !try_save(&verification(
            &uid("W0099"),
            1,
            state_of(store, 1),
            la,
            login(&a)
        )),
        "unknown user"
    );
    // Decided while a held token 1; then a's token is exchanged for 3
    // (1 revoked): the old verification is refused.
    let decided = verification(&a, 1, state_of(store, 1), la, login(&a));
    let exchanged = Switch::for_test(
        a.clone(),
        Some(serial(1)),
        Some(serial(1)),
        Some((serial(3), registered_state(3))),
        Vec::new(),
        entry(START + 60, Some(&a), Action::Exchange),
    );
    store.switch(&exchanged, &key()).unwrap();
    assert!(!try_save(&decided), "token revoked, user's token changed");
    // Decided while b held token 2; then b's token is unregistered.
    let decided = verification(&b, 2, state_of(store, 2), lb, login(&b));
    let unregistered = Switch::for_test(
        b.clone(),
        Some(serial(2)),
        Some(serial(2)),
        None,
        Vec::new(),
        entry(START + 60, Some(&b), Action::Unregister),
    );
    store.switch(&unregistered, &key()).unwrap();
    assert!(!try_save(&decided), "b has no token");
    // b registers token 4; a verification decided for a on token 4 (which
    // b now holds) is refused, one for b goes through.
    register(store, &b, 4);
    let lb = lock_of(store, &b);
    assert!(
        !try_save(&verification(&a, 4, state_of(store, 4), la, login(&a))),
        "reassigned"
    );
    assert!(try_save(&verification(
        &b,
        4,
        state_of(store, 4),
        lb,
        login(&b)
    )));
    // The new binding verifies.
    assert!(try_save(&verification(
        &a,
        3,
        state_of(store, 3),
        la,
        login(&a)
    )));
    check_chain(store);
}

pub fn verification_is_refused_when_state_or_lock_changed(store: &impl Store) {
    let user = bound_user(store);
    let users = [&user];
    let s0 = state_of(store, 1);
    let l0 = lock_of(store, &user);
    let login = vec![entry(START + 60, Some(&user), Action::Login)];
    let before = snapshot(store, &users, &[1]);
    // Each field of the token state and of the lock takes part.
    let states = [
        TokenState {
            floor: s0.floor + 1,
            ..s0
        },
        TokenState {
            drift: s0.drift + 1,
            ..s0
        },
        TokenState {
            failures: s0.failures + 1,
            ..s0
        },
        TokenState {
            locked: !s0.locked,
            ..s0
        },
    ];
    for (i, s) in states.into_iter().enumerate() {
        let v = verification(&user, 1, s, l0, login.clone());
        assert!(!store.record_verification(&v, &key()).unwrap(), "state {i}");
        assert_eq!(snapshot(store, &users, &[1]), before, "state {i}");
    }
    for (i, l) in one_field_off(l0).into_iter().enumerate() {
        let v = verification(&user, 1, s0, l, login.clone());
        assert!(!store.record_verification(&v, &key()).unwrap(), "lock {i}");
        assert_eq!(snapshot(store, &users, &[1]), before, "lock {i}");
    }
    // The lock changed between the decision and the save (another attempt
    // reserved): refused; decided again on the new lock: saved.
    let decided = verification(&user, 1, s0, l0, login.clone());
    let reserved = IdLock {
        codes: Attempts {
            pending: l0.codes.pending + 1,
            ..l0.codes
        },
        ..l0
    };
    set_lock(store, &user, reserved);
    let before = snapshot(store, &users, &[1]);
    assert!(!store.record_verification(&decided, &key()).unwrap());
    assert_eq!(snapshot(store, &users, &[1]), before);
    let again = verification(&user, 1, s0, reserved, login);
    assert!(store.record_verification(&again, &key()).unwrap());
    assert_eq!(lock_of(store, &user), *again.locks()[0].new_lock());
    check_chain(store);
}

pub fn locks_are_compare_and_set_all_or_nothing(store: &impl Store) {
    let (a, b) = (uid("W0002"), uid("W0003"));
    general(store, &a);
    general(store, &b);
    let users = [&a, &b];
    let l0 = IdLock::default();
    assert_eq!(lock_of(store, &a), l0);
    let one = busy_lock(START);
    let audit = |i: u64| entry(START + i, Some(&a), Action::Lock);
    let change = |u: &UserId, from: IdLock, to: IdLock| LockChange::for_test(u.clone(), from, to);
    let len = |store: &dyn Store| store.audit_chain().unwrap().len();
    let start = len(store);
    assert!(
        store
            .update_locks(&[change(&a, l0, one)], &[audit(1), audit(2)], &key())
            .unwrap()
    );
    assert_eq!(lock_of(store, &a), one);
    let chain = check_chain(store);
    assert_eq!(chain.len(), start + 2);
    assert_eq!(chain[start].entry, audit(1));
    assert_eq!(chain[start + 1].entry, audit(2));
    // Stale: refused, nothing written, nothing audited.
    let before = snapshot(store, &users, &[]);
    assert!(
        !store
            .update_locks(&[change(&a, l0, one)], &[audit(3)], &key())
            .unwrap()
    );
    assert_eq!(snapshot(store, &users, &[]), before);
    // Every field takes part in the comparison.
    for (i, stale) in one_field_off(one).into_iter().enumerate() {
        assert!(
            !store
                .update_locks(&[change(&a, stale, l0)], &[audit(3)], &key())
                .unwrap(),
            "field {i}"
        );
        assert_eq!(snapshot(store, &users, &[]), before, "field {i}");
    }
    // All or nothing: a's change holds, b's does not.
    let two = IdLock {
        locked: true,
        ..one
    };
    assert!(
        !store
            .update_locks(
                &[change(&a, one, two), change(&b, one, two)],
                &[audit(3)],
                &key()
            )
            .unwrap()
    );
    assert_eq!(snapshot(store, &users, &[]), before);
    assert!(
        !store
            .update_locks(
                &[change(&b, l0, two), change(&a, l0, two)],
                &[audit(3)],
                &key()
            )
            .unwrap()
    );
    assert_eq!(snapshot(store, &users, &[]), before);
    // An unknown user: NotFound, nothing written, whatever else holds.
    for changes in [
        vec![change(&a, one, two), change(&uid("W0099"), l0, two)],
        vec![change(&uid("W0099"), l0, two), change(&a, l0, two)],
    ] {
        assert!(matches!(
            store.update_locks(&changes, &[audit(3)], &key()),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(snapshot(store, &users, &[]), before);
    }
    // Both hold: both written, in one step.
    assert!(
        store
            .update_locks(
                &[change(&a, one, two), change(&b, l0, max_lock())],
                &[audit(3)],
                &key()
            )
            .unwrap()
    );
    assert_eq!((lock_of(store, &a), lock_of(store, &b)), (two, max_lock()));
    // Same to same holds (a check that the locks are unchanged); no change
    // at all with audit entries appends them.
    assert!(
        store
            .update_locks(&[change(&a, two, two)], &[], &key())
            .unwrap()
    );
    assert!(store.update_locks(&[], &[audit(4)], &key()).unwrap());
    let chain = check_chain(store);
    assert_eq!(chain.last().unwrap().entry, audit(4));
    assert_eq!(chain.len(), start + 4);
}

/// `user_and_token` (a login's one read) answers what `user` then
/// `token` answer: nobody for an unknown ID, no entry for a user without a
/// token, the bound token's entry (secret and state) for one with, and
/// the new token's after an exchange.
pub fn user_and_token_read_the_user_and_their_bound_token(store: &impl Store) {
    let (admin, user) = (uid("W0001"), uid("W0002"));
    assert!(store.user_and_token(&user).unwrap().is_none());
    put(
        store,
        &UserRecord::new(admin.clone(), "n", Authority::Administrator),
    );
    general(store, &user);
    add(store, vec![token(1), token(2)]).unwrap();
    let (read, none) = store.user_and_token(&user).unwrap().unwrap();
    assert_eq!(read, store.user(&user).unwrap().unwrap());
    assert!(none.is_none());
    let state = TokenState {
        floor: 100,
        drift: -1,
        ..TokenState::new()
    };
    for (old, new, at) in [(None, 1, START), (Some(serial(1)), 2, START + 60)] {
        store
            .switch(
                &Switch::for_test(
                    user.clone(),
                    old,
                    old,
                    Some((serial(new), state)),
                    vec![LockChange::for_test(
                        user.clone(),
                        IdLock::default(),
                        IdLock::default(),
                    )],
                    entry(at, Some(&user), Action::Exchange),
                ),
                &key(),
            )
            .unwrap();
        let (read, bound) = store.user_and_token(&user).unwrap().unwrap();
        assert_eq!(read, store.user(&user).unwrap().unwrap());
        assert_eq!(read.token, Some(serial(new)));
        let Some(bound) = bound else {
            panic!("no entry for the bound token")
        };
        same_token(&bound, &store.token(&serial(new)).unwrap().unwrap());
        assert_eq!(bound.state, state);
    }
    // An administrator without a token: the user, no entry.
    let (read, none) = store.user_and_token(&admin).unwrap().unwrap();
    assert_eq!(read.id, admin);
    assert!(none.is_none());
}

pub fn switch_registers_exchanges_and_unregisters(store: &impl Store) {
    let (admin, user) = (uid("W0001"), uid("W0002"));
    put(
        store,
        &UserRecord::new(admin.clone(), "n", Authority::Administrator),
    );
    general(store, &user);
    add(store, vec![token(1), token(2)]).unwrap();
    let base = store.audit_chain().unwrap().len();
    let admin_lock = busy_lock(START);
    set_lock(store, &admin, admin_lock);
    let first = TokenState {
        floor: 100,
        drift: 2,
        ..TokenState::new()
    };
    // The locks checked at commit are written with the switch.
    let user_lock = IdLock {
        unlocks: 1,
        ..IdLock::default()
    };
    let r = store
        .switch(
            &Switch::for_test(
                user.clone(),
                None,
                None,
                Some((serial(1), first)),
                vec![
                    LockChange::for_test(admin.clone(), admin_lock, admin_lock),
                    LockChange::for_test(user.clone(), IdLock::default(), user_lock),
                ],
                entry(START, Some(&user), Action::Register),
            ),
            &key(),
        )
        .unwrap();
    assert_eq!(r.seq, base as u64 + 1);
    assert_eq!(store.user(&user).unwrap().unwrap().token, Some(serial(1)));
    assert_eq!(lock_of(store, &user), user_lock);
    assert_eq!(lock_of(store, &admin), admin_lock);
    let t1 = store.token(&serial(1)).unwrap().unwrap();
    assert_eq!(
        (t1.status, t1.state),
        (TokenStatus::Assigned(user.clone()), first)
    );
    // Exchange: the old token revoked and the new bound, in one step.
    let second = TokenState {
        floor: 200,
        ..TokenState::new()
    };
    let r = store
        .switch(
            &Switch::for_test(
                user.clone(),
                Some(serial(1)),
                Some(serial(1)),
                Some((serial(2), second)),
                vec![LockChange::for_test(user.clone(), user_lock, user_lock)],
                entry(START + 60, Some(&user), Action::Exchange),
            ),
            &key(),
        )
        .unwrap();
    assert_eq!(r.seq, base as u64 + 2);
    assert_eq!(store.user(&user).unwrap().unwrap().token, Some(serial(2)));
    assert_eq!(
        store.token(&serial(1)).unwrap().unwrap().status,
        TokenStatus::Revoked
    );
    let t2 = store.token(&serial(2)).unwrap().unwrap();
    assert_eq!(
        (t2.status, t2.state),
        (TokenStatus::Assigned(user.clone()), second)
    );
    // Unregister.
    store
        .switch(
            &Switch::for_test(
                user.clone(),
                Some(serial(2)),
                Some(serial(2)),
                None,
                Vec::new(),
                entry(START + 120, Some(&user), Action::Unregister),
            ),
            &key(),
        )
        .unwrap();
    assert_eq!(store.user(&user).unwrap().unwrap().token, None);
    assert_eq!(
        store.token(&serial(2)).unwrap().unwrap().status,
        TokenStatus::Revoked
    );
    let chain = check_chain(store);
    assert_eq!(chain.len(), base + 3);
    assert_eq!(chain[base + 1].entry.action, Action::Exchange);
}

/// a -> 1, b -> 3, 2 revoked, 4 unassigned; both locks busy.
fn two_bound_users(store: &impl Store) -> (UserId, UserId) {
    let (a, b) = (uid("W0002"), uid("W0003"));
    general(store, &a);
    general(store, &b);
    add(store, vec![token(1), token(2), token(3), token(4)]).unwrap();
    register(store, &a, 1);
    register(store, &b, 2);
    store
        .switch(
            &Switch::for_test(
                b.clone(),
                Some(serial(2)),
                Some(serial(2)),
                Some((serial(3), TokenState::new())),
                Vec::new(),
                entry(START, Some(&b), Action::Exchange),
            ),
            &key(),
        )
        .unwrap();
    set_lock(store, &a, busy_lock(START));
    set_lock(store, &b, busy_lock(START + 1));
    (a, b)
}

pub fn switch_conflicts_change_nothing(store: &impl Store) {
    let (a, b) = two_bound_users(store);
    let (la, lb) = (lock_of(store, &a), lock_of(store, &b));
    // A revoked token is never bound again.
    assert_eq!(
        store.switch(
            &Switch::for_test(
                b.clone(),
                Some(serial(3)),
                Some(serial(3)),
                Some((serial(2), TokenState::new())),
                Vec::new(),
                entry(START, Some(&b), Action::Exchange),
            ),
            &key()
        ),
        Err(SwitchError::Conflict)
    );
    let before = snapshot(store, &[&a, &b], &[1, 2, 3, 4]);
    let audit = entry(START + 30, Some(&a), Action::Exchange);
    let locks = vec![
        LockChange::for_test(a.clone(), la, IdLock::default()),
        LockChange::for_test(b.clone(), lb, lb),
    ];
    let make = |user: &UserId, expect: Option<u64>, revoke: Option<u64>, bind: Option<u64>| {
        Switch::for_test(
            user.clone(),
            expect.map(serial),
            revoke.map(serial),
            bind.map(|n| (serial(n), TokenState::new())),
            locks.clone(),
            audit.clone(),
        )
    };
    let good = make(&a, Some(1), Some(1), Some(4));
    let conflicts = [
        // The user's binding changed since the decision.
        make(&a, None, Some(1), Some(4)),
        make(&a, Some(3), Some(1), Some(4)),
        // The new token is not unassigned: another user's, revoked,
        // the user's own, unknown.
        make(&a, Some(1), Some(1), Some(3)),
        make(&a, Some(1), Some(1), Some(2)),
        make(&a, Some(1), Some(1), Some(1)),
        make(&a, Some(1), Some(1), Some(99)),
        // The old token is not assigned to this user.
        make(&a, Some(1), Some(3), Some(4)),
        make(&a, Some(1), Some(4), Some(4)),
        make(&a, Some(1), Some(2), Some(4)),
        make(&a, Some(1), Some(98), Some(4)),
        // An unknown user.
        make(&uid("W0099"), Some(1), Some(1), Some(4)),
    ];
    for (i, c) in conflicts.iter().enumerate() {
        assert_eq!(
            store.switch(c, &key()),
            Err(SwitchError::Conflict),
            "case {i}"
        );
        assert_eq!(
            snapshot(store, &[&a, &b], &[1, 2, 3, 4]),
            before,
            "case {i}"
        );
    }
    // A conflict is reported before a changed lock.
    let stale_locks = Switch::for_test(
        a.clone(),
        None,
        None,
        Some((serial(4), TokenState::new())),
        vec![LockChange::for_test(a.clone(), lb, la)],
        audit.clone(),
    );
    assert_eq!(
        store.switch(&stale_locks, &key()),
        Err(SwitchError::Conflict)
    );
    assert_eq!(snapshot(store, &[&a, &b], &[1, 2, 3, 4]), before);
    // The same switch, right, goes through once; replayed, it conflicts.
    store.switch(&good, &key()).unwrap();
    assert_eq!(store.switch(&good, &key()), Err(SwitchError::Conflict));
    assert_eq!(store.user(&a).unwrap().unwrap().token, Some(serial(4)));
    assert_eq!(lock_of(store, &a), IdLock::default());
    check_chain(store);
}

pub fn switch_with_a_changed_lock_changes_nothing(store: &impl Store) {
    let (a, b) = two_bound_users(store);
    let (la, lb) = (lock_of(store, &a), lock_of(store, &b));
    let before = snapshot(store, &[&a, &b], &[1, 2, 3, 4]);
    let audit = entry(START + 30, Some(&a), Action::Exchange);
    let make = |locks: Vec<LockChange>| {
        Switch::for_test(
            a.clone(),
            Some(serial(1)),
            Some(serial(1)),
            Some((serial(4), TokenState::new())),
            locks,
            audit.clone(),
        )
    };
    let ch = |u: &UserId, from: IdLock, to: IdLock| LockChange::for_test(u.clone(), from, to);
    let mut cases = Vec::new();
    for stale in one_field_off(la) {
        cases.push(vec![ch(&a, stale, la)]);
        cases.push(vec![ch(&b, lb, lb), ch(&a, stale, la)]);
    }
    for stale in one_field_off(lb) {
        cases.push(vec![ch(&a, la, IdLock::default()), ch(&b, stale, lb)]);
    }
    // An unknown operator's lock does not hold either.
    cases.push(vec![ch(&a, la, la), ch(&uid("W0099"), la, la)]);
    for (i, locks) in cases.into_iter().enumerate() {
        assert_eq!(
            store.switch(&make(locks), &key()),
            Err(SwitchError::LockChanged),
            "case {i}"
        );
        assert_eq!(
            snapshot(store, &[&a, &b], &[1, 2, 3, 4]),
            before,
            "case {i}"
        );
    }
    // Decided on the locks as they are: applied, new locks written.
    let new_b = IdLock { locked: true, ..lb };
    let r = store
        .switch(
            &make(vec![ch(&a, la, IdLock::default()), ch(&b, lb, new_b)]),
            &key(),
        )
        .unwrap();
    assert_eq!(r.entry, audit);
    assert_eq!(store.user(&a).unwrap().unwrap().token, Some(serial(4)));
    assert_eq!(
        (lock_of(store, &a), lock_of(store, &b)),
        (IdLock::default(), new_b)
    );
    check_chain(store);
}

pub fn audit_chain_verifies_and_filters(store: &impl Store) {
    assert!(store.audit_chain().unwrap().is_empty());
    assert_eq!(store.audit_head().unwrap(), None);
    verify_chain(&[], &key(), None).unwrap();
    let (a, b) = (uid("W0002"), uid("W0005"));
    let plan: [(u64, Option<&UserId>); 7] = [
        (100, Some(&a)),
        (200, Some(&b)),
        (300, None),
        (300, Some(&a)),
        (400, Some(&a)),
        (u64::MAX, Some(&a)),
        (i64::MAX.unsigned_abs() + 1, None),
    ];
    for (i, (at, target)) in plan.iter().enumerate() {
        let e = entry(*at, *target, Action::Login)
            .with_old(Some(&serial(1)))
            .refused("wrong-code");
        let r = store.append_audit(&e, &key()).unwrap();
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!(r.entry, e);
        assert_eq!(r.format, AuditFormat::V2);
        assert_eq!(
            store.audit_head().unwrap(),
            Some(AuditHead {
                seq: r.seq,
                hash: r.hash
            })
        );
    }
    let chain = check_chain(store);
    assert_eq!(chain.len(), plan.len());
    // Under another key, the chain does not verify.
    assert!(
        verify_chain(
            &chain,
            &otp_exchange::AuditKey::new([0x4c; 32]),
            store.audit_head().unwrap()
        )
        .is_err()
    );
    let seqs = |v: Vec<AuditRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.audit(Some(&a), 0, u64::MAX).unwrap()),
        [1, 4, 5, 6]
    );
    assert_eq!(seqs(store.audit(Some(&a), 100, 300).unwrap()), [1, 4]);
    assert_eq!(seqs(store.audit(Some(&a), 101, 399).unwrap()), [4]);
    assert_eq!(seqs(store.audit(Some(&b), 0, 1_000).unwrap()), [2]);
    assert_eq!(seqs(store.audit(None, 300, 300).unwrap()), [3, 4]);
    assert_eq!(
        seqs(store.audit(None, 0, u64::MAX).unwrap()),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(seqs(store.audit(None, u64::MAX, u64::MAX).unwrap()), [6]);
    assert_eq!(
        seqs(
            store
                .audit(None, i64::MAX.unsigned_abs() + 1, u64::MAX - 1)
                .unwrap()
        ),
        [7]
    );
    assert!(store.audit(None, 500, 100).unwrap().is_empty());
    assert!(
        store
            .audit(Some(&uid("W0009")), 0, u64::MAX)
            .unwrap()
            .is_empty()
    );
    // The stored records are exactly the chain's.
    assert_eq!(store.audit(None, 0, u64::MAX).unwrap(), chain);
}

pub fn audit_head_moves_with_every_append_only(store: &impl Store) {
    let head = |store: &dyn Store| store.audit_head().unwrap().map(|h| h.seq);
    assert_eq!(head(store), None);
    let user = bound_user(store); // a put, an import, a switch, a lock change
    assert_eq!(head(store), Some(3));
    // Failures append nothing.
    add(store, vec![token(1)]).unwrap_err();
    let s0 = state_of(store, 1);
    let l0 = lock_of(store, &user);
    let stale = verification(
        &user,
        1,
        s0,
        IdLock::default(),
        vec![entry(START, Some(&user), Action::Login)],
    );
    assert!(!store.record_verification(&stale, &key()).unwrap());
    let stale_lock = LockChange::for_test(user.clone(), IdLock::default(), l0);
    assert!(
        !store
            .update_locks(&[stale_lock], &[entry(START, None, Action::Lock)], &key())
            .unwrap()
    );
    let conflict = Switch::for_test(
        user.clone(),
        None,
        None,
        Some((serial(2), TokenState::new())),
        Vec::new(),
        entry(START, Some(&user), Action::Register),
    );
    assert_eq!(store.switch(&conflict, &key()), Err(SwitchError::Conflict));
    assert_eq!(head(store), Some(3));
    // Each successful write appends its records and moves the head.
    let two = vec![
        entry(START, Some(&user), Action::Login),
        entry(START, Some(&user), Action::Lock),
    ];
    assert!(
        store
            .record_verification(&verification(&user, 1, s0, l0, two), &key())
            .unwrap()
    );
    assert_eq!(head(store), Some(5));
    store
        .append_audit(&entry(START, None, Action::Import), &key())
        .unwrap();
    assert_eq!(head(store), Some(6));
    check_chain(store);
}

pub fn nonces_are_consumed_once(store: &impl Store) {
    let (n1, n2) = ([1u8; 16], [2u8; 16]);
    assert!(store.consume_nonce(&n1, START + 600, START).unwrap());
    assert!(!store.consume_nonce(&n1, START + 600, START + 1).unwrap());
    assert!(store.consume_nonce(&n2, START + 600, START + 1).unwrap());
    assert!(!store.consume_nonce(&n2, START + 600, START + 600).unwrap());
    // Once expired, the store may forget it (its session is refused as
    // expired before the nonce is looked at).
    assert!(
        store
            .consume_nonce(&[3u8; 16], START + 10, START + 5)
            .unwrap()
    );
    assert!(!store.consume_nonce(&n1, START + 600, START + 600).unwrap());
}

/// The manual's bank on this store: set-up, an exchange, login with the new
/// token, the old token and a replay refused, the audit chain intact.
pub fn seed_scenario_end_to_end<S: Store>(store: S) {
    let mut s = Scenario::setup(store, START, HashCost::TESTING).unwrap();
    let list = s.bank.user_list(&s.admin, 0, 5).unwrap();
    assert_eq!((list.first, list.last, list.total), (1, 3, 3));
    assert!(list.rows[0].registered && list.rows[1].registered && !list.rows[2].registered);
    let user = s.general.clone();
    let old = s.token_of(&user).unwrap().unwrap();
    let new = s.stock()[0];
    s.clock.advance(30);
    let code = s.press(&old).unwrap();
    let step5 = s
        .bank
        .begin_exchange(&s.admin, &user)
        .unwrap()
        .submit_code(&s.bank, &code)
        .unwrap();
    // The ticket survives the store (the nonce is consumed once).
    let ticket = step5.into_ticket(&s.bank).unwrap();
    let step5 = match s.bank.resume(&s.admin, &ticket).unwrap() {
        otp_exchange::Pending::ExpectNewToken(st) => st,
        other @ otp_exchange::Pending::ExpectCurrentCode(_) => panic!("{other:?}"),
    };
    assert_eq!(
        s.bank.resume(&s.admin, &ticket).unwrap_err(),
        Refusal::SessionUsed
    );
    let new_code = s.press(&new).unwrap();
    let done = step5
        .confirm(
            &s.bank,
            new.as_str(),
            &new_code,
            &Password::new(ADMIN_APPROVAL_PASSWORD),
        )
        .unwrap();
    assert_eq!((done.old_serial, done.new_serial), (Some(old), new));
    s.clock.advance(30);
    // The old token's code is a wrong code for the new token (a login
    // does not say which).
    let old_code = s.press(&old).unwrap();
    assert_eq!(
        s.bank.login(&user, &old_code).unwrap_err(),
        Refusal::LoginFailed
    );
    let new_code = s.press(&new).unwrap();
    s.bank.login(&user, &new_code).unwrap();
    assert_eq!(
        s.bank.login(&user, &new_code).unwrap_err(),
        Refusal::Replayed(Which::Current)
    );
    assert_eq!(
        s.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
    // The wrong code counted once and the right one cleared it; nothing
    // is left in flight.
    let lock = s.bank.records().user(&user).unwrap().unwrap().lock;
    assert_eq!((lock.codes.failures, lock.codes.pending), (0, 0));
    let trail = s.bank.audit_trail(&s.admin, &user, 0, u64::MAX).unwrap();
    assert!(trail.iter().any(|r| r.entry.action == Action::Exchange));
    let n = s.bank.verify_audit().unwrap();
    assert_eq!(n, s.bank.records().audit_chain().unwrap().len() as u64);
}

/// A code that is not `code` (each digit moved by one).
fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| char::from_digit((c.to_digit(10).unwrap() + 1) % 10, 10).unwrap())
        .collect()
}

/// The lock through the policy on this store: six wrong codes lock the
/// user; an administrator unlocks with the approval password; six wrong
/// passwords lock the administrator, whom only the branch unlocks;
/// unregistration needs the token's code and the password.
pub fn seed_locks_and_unlocks_through_the_bank<S: Store>(store: S) {
    let mut s = Scenario::setup(store, START, HashCost::TESTING).unwrap();
    let (admin, user) = (s.admin.clone(), s.general.clone());
    let serial = s.token_of(&user).unwrap().unwrap();
    let limit = s.bank.policy().max_wrong_entries;
    let lock = |s: &Scenario<S>, u: &UserId| s.bank.records().user(u).unwrap().unwrap().lock;
    for i in 0..limit {
        s.clock.advance(30);
        let code = s.press(&serial).unwrap();
        assert_eq!(
            s.bank.login(&user, &wrong(&code)).unwrap_err(),
            Refusal::LoginFailed,
            "wrong code {i}"
        );
    }
    let l = lock(&s, &user);
    assert!(l.locked);
    assert_eq!((l.codes.failures, l.codes.pending), (limit, 0));
    s.clock.advance(30);
    let code = s.press(&serial).unwrap();
    assert_eq!(
        s.bank.login(&user, &code).unwrap_err(),
        Refusal::LoginFailed
    );
    let approval = Password::new(ADMIN_APPROVAL_PASSWORD);
    s.bank.unlock(&admin, &user, &approval).unwrap();
    let l = lock(&s, &user);
    assert!(!l.locked);
    assert_eq!((l.codes.failures, l.unlocks), (0, 1));
    s.clock.advance(30);
    let code = s.press(&serial).unwrap();
    s.bank.login(&user, &code).unwrap();
    // Wrong approval passwords count against the administrator.
    for _ in 0..limit {
        assert!(
            s.bank
                .unlock(&admin, &user, &Password::new("not-it"))
                .is_err()
        );
    }
    let l = lock(&s, &admin);
    assert!(l.locked);
    assert_eq!(l.passwords.failures, limit);
    assert_eq!(
        s.bank.unlock(&admin, &user, &approval).unwrap_err(),
        Refusal::OperatorLocked
    );
    s.bank
        .branch_unlock(&BranchAuthorization::new("officer-1", "REQ-1"), &admin)
        .unwrap();
    assert!(!lock(&s, &admin).locked);
    // Unregistration: the token's code and the approval password.
    s.clock.advance(30);
    let code = s.press(&serial).unwrap();
    assert!(
        s.bank
            .unregister(&admin, &user, &wrong(&code), &approval)
            .is_err()
    );
    assert_eq!(s.token_of(&user).unwrap(), Some(serial));
    s.clock.advance(30);
    let code = s.press(&serial).unwrap();
    s.bank.unregister(&admin, &user, &code, &approval).unwrap();
    assert_eq!(s.token_of(&user).unwrap(), None);
    assert_eq!(
        s.bank.records().token_status(&serial).unwrap(),
        Some(TokenStatus::Revoked)
    );
    let trail = s.bank.audit_trail(&admin, &user, 0, u64::MAX).unwrap();
    for action in [Action::Lock, Action::Unlock, Action::Unregister] {
        assert!(trail.iter().any(|r| r.entry.action == action), "{action:?}");
    }
    s.bank.verify_audit().unwrap();
}

/// API keys: stored with their audit record, read back exactly, listed by
/// id, a duplicate id refused (nothing appended), revoked once (with its
/// audit record; a second revocation and an unknown id change nothing),
/// and `last_used_at` only moving forward.
pub fn api_keys_are_stored_revoked_once_and_touched_forward<S: Store>(store: &S) {
    use otp_exchange::{ApiKeyRecord, ApiScope};
    let record = |id: &str, scope| ApiKeyRecord {
        id: id.to_owned(),
        name: "ネットバンキング web".to_owned(),
        scope,
        secret_hash: [0xa5; 32],
        created_at: START,
        created_by: "ops-1".to_owned(),
        revoked_at: None,
        last_used_at: None,
    };
    let web = record("00000000000000ff", ApiScope::Validate);
    let admin = record("0123456789abcdef", ApiScope::Admin);
    let create = AuditEntry::new(START, "ops-1", None, Action::ApiKeyCreate);
    store.put_api_key(&admin, &create, &key()).unwrap();
    store.put_api_key(&web, &create, &key()).unwrap();
    assert_eq!(
        store.api_key("0123456789abcdef").unwrap(),
        Some(admin.clone())
    );
    assert_eq!(store.api_key("ffffffffffffffff").unwrap(), None);
    assert_eq!(store.api_keys().unwrap(), vec![web.clone(), admin.clone()]);
    let head = store.audit_head().unwrap();
    assert!(matches!(
        store.put_api_key(&web, &create, &key()),
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(store.audit_head().unwrap(), head);

    let revoke = AuditEntry::new(START + 60, "ops-1", None, Action::ApiKeyRevoke);
    assert!(
        store
            .revoke_api_key(&web.id, START + 60, &revoke, &key())
            .unwrap()
    );
    assert!(
        !store
            .revoke_api_key(&web.id, START + 90, &revoke, &key())
            .unwrap()
    );
    assert!(
        !store
            .revoke_api_key("ffffffffffffffff", START + 90, &revoke, &key())
            .unwrap()
    );
    assert_eq!(
        store.api_key(&web.id).unwrap().unwrap().revoked_at,
        Some(START + 60)
    );

    store.touch_api_key(&admin.id, START + 120).unwrap();
    store.touch_api_key(&admin.id, START + 100).unwrap();
    store
        .touch_api_key("ffffffffffffffff", START + 100)
        .unwrap();
    let read = store.api_key(&admin.id).unwrap().unwrap();
    assert_eq!(read.last_used_at, Some(START + 120));
    assert_eq!(read.revoked_at, None);

    let chain = store.audit_chain().unwrap();
    let actions: Vec<Action> = chain.iter().map(|r| r.entry.action).collect();
    assert_eq!(
        actions,
        vec![
            Action::ApiKeyCreate,
            Action::ApiKeyCreate,
            Action::ApiKeyRevoke
        ]
    );
    assert!(verify_chain(&chain, &key(), store.audit_head().unwrap()).is_ok());
}

/// PostgreSQL's batches (`PgStore::record_batch`, what its group commit
/// runs): one transaction for several verifications, each answered by its
/// own outcome.
#[cfg(feature = "postgres")]
pub mod pg_batch {
    use super::*;

    /// The same token twice in one batch (both verified against the same
    /// state, as two callers racing would): one acceptance, one stale; one
    /// audit record; the chain verifies.
    pub fn same_token_twice_in_one_batch_is_accepted_once(store: &otp_store::PgStore) {
        let user = bound_user(store);
        let (s0, l0) = (state_of(store, 1), lock_of(store, &user));
        let login = entry(START + 30, Some(&user), Action::Login);
        let v = verification(&user, 1, s0, l0, vec![login.clone()]);
        let before = check_chain(store).len();
        let results = store.record_batch(&[v.clone(), v.clone()], &key());
        assert!(
            matches!(results.as_slice(), [Ok(true), Ok(false)]),
            "{results:?}"
        );
        assert_eq!(state_of(store, 1), *v.new_state());
        assert_eq!(lock_of(store, &user), *v.locks()[0].new_lock());
        let chain = check_chain(store);
        assert_eq!(chain.len(), before + 1);
        assert_eq!(chain[before].entry, login);
    }

    /// A job whose compare-and-set fails (a stale state) is `Ok(false)`;
    /// its batch-mates, before and after it, are saved, their records
    /// chained in queue order.
    pub fn a_failing_compare_and_set_does_not_fail_its_batch_mates(store: &otp_store::PgStore) {
        let a = bound_user(store);
        let b = uid("W0003");
        let c = uid("W0004");
        general(store, &b);
        general(store, &c);
        register(store, &b, 2);
        register(store, &c, 3);
        let va = verification(
            &a,
            1,
            state_of(store, 1),
            lock_of(store, &a),
            vec![entry(START + 1, Some(&a), Action::Login)],
        );
        let stale = TokenState {
            floor: state_of(store, 2).floor.wrapping_add(7),
            ..state_of(store, 2)
        };
        let vb = verification(
            &b,
            2,
            stale,
            lock_of(store, &b),
            vec![entry(START + 2, Some(&b), Action::Login)],
        );
        let vc = verification(
            &c,
            3,
            state_of(store, 3),
            lock_of(store, &c),
            vec![entry(START + 3, Some(&c), Action::Login)],
        );
        let (sb, lb) = (state_of(store, 2), lock_of(store, &b));
        let before = check_chain(store).len();
        let results = store.record_batch(&[vc.clone(), vb, va.clone()], &key());
        assert!(
            matches!(results.as_slice(), [Ok(true), Ok(false), Ok(true)]),
            "{results:?}"
        );
        assert_eq!(state_of(store, 1), *va.new_state());
        assert_eq!(state_of(store, 3), *vc.new_state());
        assert_eq!((state_of(store, 2), lock_of(store, &b)), (sb, lb));
        let chain = check_chain(store);
        assert_eq!(chain.len(), before + 2);
        // Queue order (c, then a), not the order the users were locked in.
        assert_eq!(chain[before].entry, vc.audit()[0]);
        assert_eq!(chain[before + 1].entry, va.audit()[0]);
    }

    /// A batch whose transaction fails (here: the chain's head row gone)
    /// answers nobody accepted and saves nothing, even for the jobs whose
    /// compare-and-set had applied before the failure.
    pub fn a_failed_batch_answers_nobody_accepted(
        store: &otp_store::PgStore,
        client: &mut postgres::Client,
    ) {
        let a = bound_user(store);
        let b = uid("W0003");
        general(store, &b);
        register(store, &b, 2);
        let va = verification(
            &a,
            1,
            state_of(store, 1),
            lock_of(store, &a),
            vec![entry(START + 1, Some(&a), Action::Login)],
        );
        let vb = verification(
            &b,
            2,
            state_of(store, 2),
            lock_of(store, &b),
            vec![entry(START + 2, Some(&b), Action::Login)],
        );
        let snap = (
            state_of(store, 1),
            lock_of(store, &a),
            state_of(store, 2),
            lock_of(store, &b),
        );
        let chain = store.audit_chain().unwrap();
        client.batch_execute("DELETE FROM otp_audit_head").unwrap();
        let results = store.record_batch(&[va, vb], &key());
        assert!(results.iter().all(Result::is_err), "{results:?}");
        assert_eq!(
            (
                state_of(store, 1),
                lock_of(store, &a),
                state_of(store, 2),
                lock_of(store, &b)
            ),
            snap
        );
        assert_eq!(store.audit_chain().unwrap(), chain);
    }
}
