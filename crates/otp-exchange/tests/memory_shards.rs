//! The sharded `MemoryStore` under races: verifications, switches and lock
//! changes of overlapping users and tokens from several threads at once,
//! 1,000 rounds, each checked against the store's promises (one commit per
//! compare-and-set, the old token refused after a switch, one owner per
//! token, a chain that verifies with contiguous numbers, no record of a
//! write that did not commit).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    unreachable_pub,
    missing_docs,
    reason = "tests"
)]

use std::sync::Barrier;

use otp_core::{Secret, TokenState};
use otp_exchange::{
    Action, Attempts, AuditEntry, AuditKey, Authority, IdLock, LockChange, MemoryStore, Store,
    Switch, SwitchError, TokenEntry, TokenStatus, UserId, UserRecord, Verification, verify_chain,
};
use otp_provision::{Profile, SeedRecord, SerialNumber};

const START: u64 = 1_601_512_200;

fn key() -> AuditKey {
    AuditKey::new([9; 32])
}

fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn serial(n: u64) -> SerialNumber {
    SerialNumber::numbered("VT", n).unwrap()
}

fn token(n: u64) -> TokenEntry {
    let secret = Secret::from_bytes(&[u8::try_from(n % 251).unwrap().wrapping_add(1); 20]).unwrap();
    TokenEntry::unassigned(SeedRecord::new(
        serial(n).as_str(),
        secret,
        Profile::default(),
    ))
    .unwrap()
}

fn entry(target: &UserId, action: Action, reason: &str) -> AuditEntry {
    // The reason names the write, so the chain tells which ones committed.
    let mut e = AuditEntry::new(START, "W0001", Some(target), action);
    e.reason = Some(reason.to_owned());
    e
}

fn state(n: u64) -> TokenState {
    TokenState {
        floor: 53_383_741 + n,
        ..TokenState::new()
    }
}

fn lock_of(store: &MemoryStore, user: &UserId) -> IdLock {
    store.user(user).unwrap().unwrap().lock
}

/// A fresh store: users U, V, W bound to tokens 1, 3 and 4; token 2 in
/// stock.
fn setup() -> MemoryStore {
    let store = MemoryStore::new();
    let k = key();
    for id in ["U0001", "V0001", "W0001"] {
        let u = uid(id);
        store
            .put_user(
                &UserRecord::new(u.clone(), "しんきん太郎", Authority::General),
                &entry(&u, Action::UserUpdate, "setup"),
                &k,
            )
            .unwrap();
    }
    store
        .add_tokens(
            vec![token(1), token(2), token(3), token(4)],
            &entry(&uid("U0001"), Action::Import, "setup"),
            &k,
        )
        .unwrap();
    for (id, n) in [("U0001", 1), ("V0001", 3), ("W0001", 4)] {
        let u = uid(id);
        store
            .switch(
                &Switch::for_test(
                    u.clone(),
                    None,
                    None,
                    Some((serial(n), state(n))),
                    Vec::new(),
                    entry(&u, Action::Register, "setup"),
                ),
                &k,
            )
            .unwrap();
    }
    store
}

fn counted(lock: IdLock) -> IdLock {
    IdLock {
        codes: Attempts {
            failures: lock.codes.failures + 1,
            ..lock.codes
        },
        ..lock
    }
}

fn verification(user: &UserId, n: u64, lock: IdLock, reason: &str) -> Verification {
    Verification::for_test(
        user.clone(),
        serial(n),
        state(n),
        TokenState {
            floor: state(n).floor + 1,
            ..state(n)
        },
        vec![LockChange::for_test(user.clone(), lock, counted(lock))],
        vec![entry(user, Action::Login, reason)],
    )
}

/// `user` leaves `old` for `new` (from stock), its lock's binding moved.
fn exchange(user: &UserId, old: u64, new: u64, lock: IdLock, reason: &str) -> Switch {
    let moved = IdLock {
        binding: lock.binding + 1,
        ..lock
    };
    Switch::for_test(
        user.clone(),
        Some(serial(old)),
        Some(serial(old)),
        Some((serial(new), state(new))),
        vec![LockChange::for_test(user.clone(), lock, moved)],
        entry(user, Action::Exchange, reason),
    )
}

#[derive(Debug, Default)]
struct Outcomes {
    u_verified: Vec<&'static str>,
    u_switched: bool,
    u_locked: bool,
    w_switched: bool,
}

/// One round: two verifications of U's token 1, U's exchange to token 2
/// and a lock change of U (all four expecting U's lock as it is: exactly
/// one commits), W's exchange to the same token 2 (one owner), and V's
/// verification (shares only shards and the chain: always commits), all
/// released at once.
fn round(store: &MemoryStore) -> Outcomes {
    let (u, v, w) = (uid("U0001"), uid("V0001"), uid("W0001"));
    let k = key();
    let (lu, lv, lw) = (lock_of(store, &u), lock_of(store, &v), lock_of(store, &w));
    let barrier = Barrier::new(6);
    let mut out = Outcomes::default();
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            barrier.wait();
            store.record_verification(&verification(&u, 1, lu, "a"), &k)
        });
        let b = s.spawn(|| {
            barrier.wait();
            store.record_verification(&verification(&u, 1, lu, "b"), &k)
        });
        let c = s.spawn(|| {
            barrier.wait();
            store.switch(&exchange(&u, 1, 2, lu, "c"), &k)
        });
        let d = s.spawn(|| {
            barrier.wait();
            let change = LockChange::for_test(u.clone(), lu, IdLock { locked: true, ..lu });
            store.update_locks(&[change], &[entry(&u, Action::Lock, "d")], &k)
        });
        let e = s.spawn(|| {
            barrier.wait();
            store.switch(&exchange(&w, 4, 2, lw, "e"), &k)
        });
        barrier.wait();
        let f = store
            .record_verification(&verification(&v, 3, lv, "f"), &k)
            .unwrap();
        assert!(f, "V shares nothing with the others but shards: it commits");
        for (name, h) in [("a", a), ("b", b)] {
            if h.join().unwrap().unwrap() {
                out.u_verified.push(name);
            }
        }
        match c.join().unwrap() {
            Ok(_) => out.u_switched = true,
            Err(SwitchError::LockChanged | SwitchError::Conflict) => {}
            Err(e) => panic!("{e:?}"),
        }
        out.u_locked = d.join().unwrap().unwrap();
        match e.join().unwrap() {
            Ok(_) => out.w_switched = true,
            Err(SwitchError::Conflict) => {}
            Err(e) => panic!("{e:?}"),
        }
    });
    out
}

fn check(store: &MemoryStore, out: &Outcomes) {
    let (u, w) = (uid("U0001"), uid("W0001"));
    let k = key();
    let committed_on_u =
        out.u_verified.len() + usize::from(out.u_switched) + usize::from(out.u_locked);
    assert_eq!(committed_on_u, 1, "{out:?}");
    assert!(
        !(out.u_switched && out.w_switched),
        "token 2 given twice: {out:?}"
    );
    let user_u = store.user(&u).unwrap().unwrap();
    let t1 = store.token(&serial(1)).unwrap().unwrap();
    let t2 = store.token(&serial(2)).unwrap().unwrap();
    if out.u_switched {
        assert_eq!(user_u.token, Some(serial(2)));
        assert_eq!(t1.status, TokenStatus::Revoked);
        assert_eq!(t2.status, TokenStatus::Assigned(u.clone()));
        // The old token is refused after the switch.
        let late = verification(&u, 1, user_u.lock, "late");
        assert!(!store.record_verification(&late, &k).unwrap());
    } else {
        assert_eq!(user_u.token, Some(serial(1)));
        assert_eq!(t1.status, TokenStatus::Assigned(u.clone()));
        let expected = if out.u_verified.is_empty() {
            state(1)
        } else {
            TokenState {
                floor: state(1).floor + 1,
                ..state(1)
            }
        };
        assert_eq!(t1.state, expected);
    }
    assert_eq!(user_u.lock.locked, out.u_locked);
    let user_w = store.user(&w).unwrap().unwrap();
    if out.w_switched {
        assert_eq!(user_w.token, Some(serial(2)));
        assert_eq!(t2.status, TokenStatus::Assigned(w.clone()));
    } else {
        assert_eq!(user_w.token, Some(serial(4)));
    }
    if !out.u_switched && !out.w_switched {
        assert_eq!(t2.status, TokenStatus::Unassigned);
    }
    // The chain: verifies, numbers 1..n, exactly the committed writes.
    let chain = store.audit_chain().unwrap();
    verify_chain(&chain, &k, store.audit_head().unwrap()).unwrap();
    for (i, r) in (1u64..).zip(&chain) {
        assert_eq!(r.seq, i);
    }
    let reasons: Vec<&str> = chain
        .iter()
        .filter_map(|r| r.entry.reason.as_deref())
        .filter(|r| *r != "setup")
        .collect();
    let mut expected: Vec<&str> = out.u_verified.clone();
    if out.u_switched {
        expected.push("c");
    }
    if out.u_locked {
        expected.push("d");
    }
    if out.w_switched {
        expected.push("e");
    }
    expected.push("f");
    let mut got = reasons.clone();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected, "chain {reasons:?} for {out:?}");
}

#[test]
fn racing_writes_on_the_sharded_memory_store_keep_every_invariant() {
    let mut seen = [0usize; 4];
    for _ in 0..1_000 {
        let store = setup();
        let out = round(&store);
        check(&store, &out);
        let i = if out.u_switched {
            0
        } else if out.u_locked {
            1
        } else if out.u_verified.is_empty() {
            2
        } else {
            3
        };
        if let Some(n) = seen.get_mut(i) {
            *n += 1;
        }
    }
    // Not a promise, a check that the race was run: some verification won.
    assert!(seen.iter().sum::<usize>() == 1_000, "{seen:?}");
}

/// Many rounds on one store: every verification of U's token, each
/// expecting the state and lock it read, from four threads; each state is
/// accepted exactly once, and the chain stays whole.
#[test]
fn concurrent_verifications_of_one_token_accept_each_state_once() {
    let store = setup();
    let u = uid("U0001");
    let k = key();
    let mut accepted = 0u64;
    for round in 0..1_000u64 {
        let lock = lock_of(&store, &u);
        let current = store.token(&serial(1)).unwrap().unwrap().state;
        let barrier = Barrier::new(4);
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let (barrier, store, u, k) = (&barrier, &store, &u, &k);
                    s.spawn(move || {
                        let v = Verification::for_test(
                            u.clone(),
                            serial(1),
                            current,
                            TokenState {
                                floor: current.floor + 1,
                                ..current
                            },
                            vec![LockChange::for_test(u.clone(), lock, lock)],
                            vec![entry(u, Action::Login, &format!("{round}-{i}"))],
                        );
                        barrier.wait();
                        store.record_verification(&v, k).unwrap()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum()
        });
        assert_eq!(wins, 1, "round {round}");
        accepted += 1;
    }
    let chain = store.audit_chain().unwrap();
    verify_chain(&chain, &k, store.audit_head().unwrap()).unwrap();
    let logins = chain
        .iter()
        .filter(|r| r.entry.action == Action::Login)
        .count();
    assert_eq!(u64::try_from(logins).unwrap(), accepted);
    assert_eq!(
        store.token(&serial(1)).unwrap().unwrap().state.floor,
        state(1).floor + accepted
    );
}
