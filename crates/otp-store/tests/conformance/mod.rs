//! The conformance suite of `otp_exchange::Store`, written once and run
//! against every backend by [`conformance_suite!`]: the in-memory
//! reference store, SQLite and PostgreSQL must behave the same.
//!
//! Each function takes a fresh, empty store.

use otp_core::{Algorithm, Digits, Secret, TimeStep, TokenState};
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{
    Action, AuditEntry, Authority, HashCost, IdLock, Password, PasswordHash, Refusal, Store,
    StoreError, Switch, SwitchError, TokenEntry, TokenStatus, UserId, UserRecord, Which,
    verify_chain,
};
use otp_token::{Profile, SeedRecord, SerialNumber, TokenKind};

/// The seed's start: 2020-10-01 09:30 JST.
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
            $(#[$attr])* #[test] fn tokens_round_trip_with_secret_and_profile() { crate::conformance::tokens_round_trip_with_secret_and_profile(&$make) }
            $(#[$attr])* #[test] fn add_tokens_is_all_or_nothing() { crate::conformance::add_tokens_is_all_or_nothing(&$make) }
            $(#[$attr])* #[test] fn token_state_is_compare_and_set() { crate::conformance::token_state_is_compare_and_set(&$make) }
            $(#[$attr])* #[test] fn verification_and_its_audit_are_saved_together() { crate::conformance::verification_and_its_audit_are_saved_together(&$make) }
            $(#[$attr])* #[test] fn lock_is_compare_and_set() { crate::conformance::lock_is_compare_and_set(&$make) }
            $(#[$attr])* #[test] fn switch_registers_exchanges_and_unregisters() { crate::conformance::switch_registers_exchanges_and_unregisters(&$make) }
            $(#[$attr])* #[test] fn switch_conflicts_change_nothing() { crate::conformance::switch_conflicts_change_nothing(&$make) }
            $(#[$attr])* #[test] fn audit_chain_verifies_and_filters() { crate::conformance::audit_chain_verifies_and_filters(&$make) }
            $(#[$attr])* #[test] fn nonces_are_consumed_once() { crate::conformance::nonces_are_consumed_once(&$make) }
            $(#[$attr])* #[test] fn seed_scenario_end_to_end() { crate::conformance::seed_scenario_end_to_end($make) }
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
    assert_eq!(
        a.seed.secret().expose_secret(),
        b.seed.secret().expose_secret()
    );
}

fn entry(at: u64, target: Option<&UserId>, action: Action) -> AuditEntry {
    AuditEntry::new(at, "W0001", target, action)
}

fn register(store: &impl Store, user: &UserId, n: u64) {
    let state = TokenState {
        floor: 53_383_741,
        drift: -1,
        ..TokenState::new()
    };
    store
        .switch(&Switch {
            user: user.clone(),
            expect_current: None,
            revoke: None,
            bind: Some((serial(n), state)),
            audit: entry(START, Some(user), Action::Register).with_new(Some(&serial(n))),
        })
        .unwrap();
}

pub fn users_are_paged_in_id_order(store: &impl Store) {
    assert_eq!(store.users(0, 5).unwrap().total, 0);
    assert!(store.user(&uid("W0001")).unwrap().is_none());
    // Byte order, as the reference store's `BTreeMap<UserId, _>`: upper
    // case before lower case, digits before letters.
    for id in ["W0005", "W0001", "a0001", "W0002", "B9", "W0010", "Z1"] {
        store
            .put_user(&UserRecord::new(
                uid(id),
                "しんきん太郎",
                Authority::General,
            ))
            .unwrap();
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
    // A full record comes back equal, password hashes included.
    let mut admin = UserRecord::new(uid("W0001"), "管理者 太郎", Authority::Administrator);
    admin.approval_password =
        Some(PasswordHash::create(&Password::new("approve"), HashCost::TESTING).unwrap());
    admin.transfer_password =
        Some(PasswordHash::create(&Password::new("transfer"), HashCost::TESTING).unwrap());
    store.put_user(&admin).unwrap();
    assert_eq!(store.user(&uid("W0001")).unwrap().unwrap(), admin);
    assert_eq!(store.users(0, 100).unwrap().total, 7);
}

pub fn put_user_keeps_binding_and_lock(store: &impl Store) {
    let user = uid("W0002");
    store
        .put_user(&UserRecord::new(
            user.clone(),
            "しんきん太郎",
            Authority::General,
        ))
        .unwrap();
    store.add_tokens(vec![token(1)]).unwrap();
    register(store, &user, 1);
    let locked = IdLock {
        failures: 6,
        locked: true,
    };
    assert!(
        store
            .update_lock(&user, &IdLock::default(), &locked)
            .unwrap()
    );
    // Replacing the user changes name, authority and passwords only.
    let mut again = UserRecord::new(user.clone(), "信金花子", Authority::Administrator);
    again.approval_password =
        Some(PasswordHash::create(&Password::new("p"), HashCost::TESTING).unwrap());
    store.put_user(&again).unwrap();
    let got = store.user(&user).unwrap().unwrap();
    assert_eq!(got.name, "信金花子");
    assert_eq!(got.authority, Authority::Administrator);
    assert_eq!(got.approval_password, again.approval_password);
    assert_eq!(got.token, Some(serial(1)));
    assert_eq!(got.lock, locked);
    // A new user is stored as given.
    let mut fresh = UserRecord::new(uid("W0003"), "x", Authority::General);
    fresh.lock = IdLock {
        failures: 2,
        locked: false,
    };
    store.put_user(&fresh).unwrap();
    assert_eq!(store.user(&uid("W0003")).unwrap().unwrap(), fresh);
}

pub fn tokens_round_trip_with_secret_and_profile(store: &impl Store) {
    assert!(store.token(&serial(1)).unwrap().is_none());
    let plain = token(1);
    let mut rich = SeedRecord::new(
        "vt0000000002",
        Secret::from_bytes(&[0xA5; 64]).unwrap(),
        Profile {
            kind: TokenKind::Totp(TimeStep::new(60, 1_000).unwrap()),
            algorithm: Algorithm::Sha512,
            digits: Digits::Eight,
        },
    );
    rich.manufacturer = "Virtual Token Co.".into();
    rich.model = "VT-6".into();
    rich.issuer = Some("しんきん".into());
    rich.key_id = "key-2".into();
    rich.time_drift = -3;
    let rich = TokenEntry::unassigned(rich).unwrap();
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
    store.add_tokens(vec![plain, rich, event]).unwrap();
    for e in &expected {
        same_token(&store.token(&e.serial).unwrap().unwrap(), e);
    }
    // The serial is stored in its 12-character form, the seed's as written.
    assert_eq!(
        store.token(&serial(2)).unwrap().unwrap().seed.serial,
        "vt0000000002"
    );
}

pub fn add_tokens_is_all_or_nothing(store: &impl Store) {
    store.add_tokens(vec![token(1), token(2)]).unwrap();
    store.add_tokens(Vec::new()).unwrap();
    // One serial already present: none of the batch is added.
    let err = store
        .add_tokens(vec![token(3), token(2), token(4)])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref m) if m.contains("●")),
        "{err:?}"
    );
    assert!(store.token(&serial(3)).unwrap().is_none());
    assert!(store.token(&serial(4)).unwrap().is_none());
    // A serial twice in the batch: none added either.
    let err = store
        .add_tokens(vec![token(5), token(6), token(5)])
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert!(store.token(&serial(5)).unwrap().is_none());
    assert!(store.token(&serial(6)).unwrap().is_none());
    // The error names no secret and shows the serial masked only.
    assert!(!err.to_string().contains(serial(5).as_str()));
    store.add_tokens(vec![token(3)]).unwrap();
    assert_eq!(
        store.token(&serial(3)).unwrap().unwrap().status,
        TokenStatus::Unassigned
    );
}

pub fn verification_and_its_audit_are_saved_together(store: &impl Store) {
    store.add_tokens(vec![token(1)]).unwrap();
    let s0 = store.token(&serial(1)).unwrap().unwrap().state;
    let s1 = TokenState { floor: 7, ..s0 };
    let entry = AuditEntry::new(1_000, "W0002", Some(&uid("W0002")), Action::Login);
    let before = store.audit_chain().unwrap().len();
    assert!(
        store
            .record_verification(&serial(1), &s0, &s1, &entry)
            .unwrap()
    );
    assert_eq!(store.token(&serial(1)).unwrap().unwrap().state, s1);
    let chain = store.audit_chain().unwrap();
    assert_eq!(chain.len(), before + 1);
    assert_eq!(chain.last().unwrap().entry, entry);
    verify_chain(&chain).unwrap();
    // A stale expectation saves neither the state nor the record.
    let s2 = TokenState { floor: 8, ..s0 };
    assert!(
        !store
            .record_verification(&serial(1), &s0, &s2, &entry)
            .unwrap()
    );
    assert_eq!(store.token(&serial(1)).unwrap().unwrap().state, s1);
    assert_eq!(store.audit_chain().unwrap().len(), before + 1);
    // An unknown token is an error, not a silent no-op.
    assert!(
        store
            .record_verification(&serial(9), &s0, &s1, &entry)
            .is_err()
    );
    assert_eq!(store.audit_chain().unwrap().len(), before + 1);
}

pub fn token_state_is_compare_and_set(store: &impl Store) {
    store.add_tokens(vec![token(1)]).unwrap();
    let s0 = store.token(&serial(1)).unwrap().unwrap().state;
    let s1 = TokenState {
        floor: 53_383_742,
        drift: 1,
        failures: 0,
        locked: false,
    };
    assert!(store.update_token_state(&serial(1), &s0, &s1).unwrap());
    assert_eq!(store.token(&serial(1)).unwrap().unwrap().state, s1);
    // A stale expectation (another server won): refused, nothing changed.
    let s2 = TokenState {
        floor: 53_383_743,
        ..s1
    };
    assert!(!store.update_token_state(&serial(1), &s0, &s2).unwrap());
    assert_eq!(store.token(&serial(1)).unwrap().unwrap().state, s1);
    // Each field takes part in the comparison.
    for stale in [
        TokenState {
            floor: s1.floor + 1,
            ..s1
        },
        TokenState { drift: 0, ..s1 },
        TokenState { failures: 1, ..s1 },
        TokenState { locked: true, ..s1 },
    ] {
        assert!(!store.update_token_state(&serial(1), &stale, &s2).unwrap());
    }
    // Same-to-same succeeds (the row exists and matches).
    assert!(store.update_token_state(&serial(1), &s1, &s1).unwrap());
    // Extremes survive.
    let extreme = TokenState {
        floor: u64::MAX,
        drift: i64::MIN,
        failures: u32::MAX,
        locked: true,
    };
    assert!(store.update_token_state(&serial(1), &s1, &extreme).unwrap());
    assert_eq!(store.token(&serial(1)).unwrap().unwrap().state, extreme);
    assert!(matches!(
        store.update_token_state(&serial(9), &s0, &s1),
        Err(StoreError::NotFound(_))
    ));
}

pub fn lock_is_compare_and_set(store: &impl Store) {
    let user = uid("W0002");
    store
        .put_user(&UserRecord::new(user.clone(), "n", Authority::General))
        .unwrap();
    let one = IdLock {
        failures: 1,
        locked: false,
    };
    assert!(store.update_lock(&user, &IdLock::default(), &one).unwrap());
    assert!(!store.update_lock(&user, &IdLock::default(), &one).unwrap());
    let six = IdLock {
        failures: u32::MAX,
        locked: true,
    };
    assert!(
        !store
            .update_lock(
                &user,
                &IdLock {
                    locked: true,
                    ..one
                },
                &six
            )
            .unwrap()
    );
    assert!(store.update_lock(&user, &one, &six).unwrap());
    assert_eq!(store.user(&user).unwrap().unwrap().lock, six);
    assert!(matches!(
        store.update_lock(&uid("W0099"), &IdLock::default(), &one),
        Err(StoreError::NotFound(_))
    ));
}

pub fn switch_registers_exchanges_and_unregisters(store: &impl Store) {
    let user = uid("W0002");
    store
        .put_user(&UserRecord::new(user.clone(), "n", Authority::General))
        .unwrap();
    store.add_tokens(vec![token(1), token(2)]).unwrap();
    let first = TokenState {
        floor: 100,
        drift: 2,
        ..TokenState::new()
    };
    let r = store
        .switch(&Switch {
            user: user.clone(),
            expect_current: None,
            revoke: None,
            bind: Some((serial(1), first)),
            audit: entry(START, Some(&user), Action::Register),
        })
        .unwrap();
    assert_eq!(r.seq, 1);
    assert_eq!(store.user(&user).unwrap().unwrap().token, Some(serial(1)));
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
        .switch(&Switch {
            user: user.clone(),
            expect_current: Some(serial(1)),
            revoke: Some(serial(1)),
            bind: Some((serial(2), second)),
            audit: entry(START + 60, Some(&user), Action::Exchange),
        })
        .unwrap();
    assert_eq!(r.seq, 2);
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
        .switch(&Switch {
            user: user.clone(),
            expect_current: Some(serial(2)),
            revoke: Some(serial(2)),
            bind: None,
            audit: entry(START + 120, Some(&user), Action::Unregister),
        })
        .unwrap();
    assert_eq!(store.user(&user).unwrap().unwrap().token, None);
    assert_eq!(
        store.token(&serial(2)).unwrap().unwrap().status,
        TokenStatus::Revoked
    );
    let chain = store.audit_chain().unwrap();
    assert_eq!(chain.len(), 3);
    verify_chain(&chain).unwrap();
    assert_eq!(chain[1].entry.action, Action::Exchange);
}

/// Everything a switch could touch.
fn snapshot(store: &impl Store, users: &[&UserId], serials: &[u64]) -> String {
    let mut out = String::new();
    for u in users {
        out.push_str(&format!("{:?}\n", store.user(u).unwrap()));
    }
    for n in serials {
        let t = store.token(&serial(*n)).unwrap();
        out.push_str(&format!("{:?}\n", t.map(|t| (t.status, t.state))));
    }
    out.push_str(&format!("{:?}", store.audit_chain().unwrap()));
    out
}

pub fn switch_conflicts_change_nothing(store: &impl Store) {
    let (a, b) = (uid("W0002"), uid("W0003"));
    for u in [&a, &b] {
        store
            .put_user(&UserRecord::new(u.clone(), "n", Authority::General))
            .unwrap();
    }
    store
        .add_tokens(vec![token(1), token(2), token(3), token(4)])
        .unwrap();
    register(store, &a, 1); // a has 1
    register(store, &b, 2); // b has 2
    // 3 revoked
    store
        .switch(&Switch {
            user: b.clone(),
            expect_current: Some(serial(2)),
            revoke: Some(serial(2)),
            bind: Some((serial(3), TokenState::new())),
            audit: entry(START, Some(&b), Action::Exchange),
        })
        .unwrap();
    store
        .switch(&Switch {
            user: b.clone(),
            expect_current: Some(serial(3)),
            revoke: Some(serial(3)),
            bind: Some((serial(2), TokenState::new())),
            audit: entry(START, Some(&b), Action::Exchange),
        })
        .unwrap_err();
    // Now: a -> 1, b -> 3, 2 revoked, 4 unassigned.
    let before = snapshot(store, &[&a, &b], &[1, 2, 3, 4]);
    let good = Switch {
        user: a.clone(),
        expect_current: Some(serial(1)),
        revoke: Some(serial(1)),
        bind: Some((serial(4), TokenState::new())),
        audit: entry(START + 30, Some(&a), Action::Exchange),
    };
    let conflicts = [
        // The user's binding changed since the decision.
        Switch {
            expect_current: None,
            ..good.clone()
        },
        Switch {
            expect_current: Some(serial(3)),
            ..good.clone()
        },
        // The new token is not unassigned: another user's, revoked, unknown.
        Switch {
            bind: Some((serial(3), TokenState::new())),
            ..good.clone()
        },
        Switch {
            bind: Some((serial(2), TokenState::new())),
            ..good.clone()
        },
        Switch {
            bind: Some((serial(1), TokenState::new())),
            ..good.clone()
        },
        Switch {
            bind: Some((serial(99), TokenState::new())),
            ..good.clone()
        },
        // The old token is not assigned to this user.
        Switch {
            revoke: Some(serial(3)),
            ..good.clone()
        },
        Switch {
            revoke: Some(serial(4)),
            ..good.clone()
        },
        Switch {
            revoke: Some(serial(2)),
            ..good.clone()
        },
        Switch {
            revoke: Some(serial(98)),
            ..good.clone()
        },
        // An unknown user.
        Switch {
            user: uid("W0099"),
            ..good.clone()
        },
    ];
    for (i, c) in conflicts.iter().enumerate() {
        assert_eq!(store.switch(c), Err(SwitchError::Conflict), "case {i}");
        assert_eq!(
            snapshot(store, &[&a, &b], &[1, 2, 3, 4]),
            before,
            "case {i}"
        );
    }
    // The same switch, right, goes through once; replayed, it conflicts.
    store.switch(&good).unwrap();
    assert_eq!(store.switch(&good), Err(SwitchError::Conflict));
    assert_eq!(store.user(&a).unwrap().unwrap().token, Some(serial(4)));
    verify_chain(&store.audit_chain().unwrap()).unwrap();
}

pub fn audit_chain_verifies_and_filters(store: &impl Store) {
    assert!(store.audit_chain().unwrap().is_empty());
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
        let r = store.append_audit(&e).unwrap();
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!(r.entry, e);
    }
    let chain = store.audit_chain().unwrap();
    assert_eq!(chain.len(), plan.len());
    verify_chain(&chain).unwrap();
    let seqs = |v: Vec<otp_exchange::AuditRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
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

/// The seed's bank on this store: set-up, an exchange, login with the new
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
    let ticket = step5.ticket(&s.bank).unwrap();
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
    let old_code = s.press(&old).unwrap();
    assert_eq!(
        s.bank.login(&user, &old_code).unwrap_err(),
        Refusal::WrongCode(Which::Current)
    );
    let new_code = s.press(&new).unwrap();
    s.bank.login(&user, &new_code).unwrap();
    assert_eq!(
        s.bank.login(&user, &new_code).unwrap_err(),
        Refusal::Replayed(Which::Current)
    );
    assert_eq!(
        s.bank.store().token(&old).unwrap().unwrap().status,
        TokenStatus::Revoked
    );
    let trail = s.bank.audit_trail(&s.admin, &user, 0, u64::MAX).unwrap();
    assert!(trail.iter().any(|r| r.entry.action == Action::Exchange));
    verify_chain(&s.bank.store().audit_chain().unwrap()).unwrap();
}
