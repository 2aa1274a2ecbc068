//! Model-based test: random sequences of operations (exchanges,
//! registrations, unregistrations, logins, replays, locks, unlocks, branch
//! revocations, wrong codes and passwords) against the seed's bank, checked
//! after every step against a simple reference model of who holds which
//! token. It never reaches a state where a user has two active tokens, a
//! token is bound to two users, a revoked token verifies, or an exchange
//! completed without all three proofs.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    reason = "tests"
)]

use std::collections::{BTreeMap, BTreeSet};

use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{
    BranchAuthorization, HashCost, MemoryStore, Password, Refusal, Store, TokenStatus, UserId,
    verify_chain,
};
use otp_token::SerialNumber;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Exchange {
        user: usize,
        stock: usize,
        current_ok: bool,
        new_ok: bool,
        password_ok: bool,
    },
    Register {
        user: usize,
        stock: usize,
        new_ok: bool,
        password_ok: bool,
    },
    Unregister {
        user: usize,
        password_ok: bool,
    },
    Login {
        user: usize,
        ok: bool,
    },
    ReplayLastLogin {
        user: usize,
    },
    LoginWithRevoked {
        user: usize,
    },
    Lock {
        user: usize,
    },
    Unlock {
        user: usize,
    },
    BranchRevoke {
        user: usize,
    },
    WrongLoginBurst {
        user: usize,
        count: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0usize..3;
    prop_oneof![
        (
            user.clone(),
            0usize..8,
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(
                |(user, stock, current_ok, new_ok, password_ok)| Op::Exchange {
                    user,
                    stock,
                    current_ok,
                    new_ok,
                    password_ok
                }
            ),
        (user.clone(), 0usize..8, any::<bool>(), any::<bool>()).prop_map(
            |(user, stock, new_ok, password_ok)| Op::Register {
                user,
                stock,
                new_ok,
                password_ok
            }
        ),
        (user.clone(), any::<bool>())
            .prop_map(|(user, password_ok)| Op::Unregister { user, password_ok }),
        (user.clone(), any::<bool>()).prop_map(|(user, ok)| Op::Login { user, ok }),
        user.clone().prop_map(|user| Op::ReplayLastLogin { user }),
        user.clone().prop_map(|user| Op::LoginWithRevoked { user }),
        user.clone().prop_map(|user| Op::Lock { user }),
        user.clone().prop_map(|user| Op::Unlock { user }),
        user.clone().prop_map(|user| Op::BranchRevoke { user }),
        (user, 1u8..8).prop_map(|(user, count)| Op::WrongLoginBurst { user, count }),
    ]
}

/// The reference model: who holds which token, and which are revoked.
#[derive(Debug, Default)]
struct Model {
    binding: BTreeMap<UserId, SerialNumber>,
    revoked: BTreeSet<SerialNumber>,
}

struct World {
    s: Scenario<MemoryStore>,
    users: [UserId; 3],
    model: Model,
    last_login: BTreeMap<UserId, String>,
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

impl World {
    fn new() -> Self {
        let s = Scenario::setup(MemoryStore::new(), 1_601_512_200, HashCost::TESTING).unwrap();
        let users = [s.admin.clone(), s.general.clone(), s.without_token.clone()];
        let mut model = Model::default();
        for u in &users {
            if let Some(t) = s.token_of(u).unwrap() {
                model.binding.insert(u.clone(), t);
            }
        }
        Self {
            s,
            users,
            model,
            last_login: BTreeMap::new(),
        }
    }

    fn password(ok: bool) -> Password {
        Password::new(if ok {
            ADMIN_APPROVAL_PASSWORD
        } else {
            "not-the-password"
        })
    }

    fn code(&mut self, serial: &SerialNumber, ok: bool) -> String {
        let c = self.s.press(serial).unwrap();
        if ok { c } else { wrong(&c) }
    }

    fn pick_stock(&self, i: usize) -> Option<SerialNumber> {
        let stock = self.s.stock();
        (!stock.is_empty()).then(|| stock[i % stock.len()])
    }

    fn locked(&self, u: &UserId) -> bool {
        self.s.bank.store().user(u).unwrap().unwrap().lock.locked
    }

    fn run(&mut self, op: &Op) {
        // A new time step before every operation: every press shows a new code.
        self.s.clock.advance(30);
        let admin = self.users[0].clone();
        match *op {
            Op::Exchange {
                user,
                stock,
                current_ok,
                new_ok,
                password_ok,
            } => {
                let u = self.users[user].clone();
                let (Some(old), Some(new)) =
                    (self.model.binding.get(&u).copied(), self.pick_stock(stock))
                else {
                    return;
                };
                let all_ok = current_ok && new_ok && password_ok;
                let open = !self.locked(&admin) && !self.locked(&u);
                let result = (|| {
                    let step4 = self.s.bank.begin_exchange(&admin, &u)?;
                    let code = self.code(&old, current_ok);
                    let step5 = step4.submit_code(&self.s.bank, &code)?;
                    let new_code = self.code(&new, new_ok);
                    step5
                        .confirm(
                            &self.s.bank,
                            new.as_str(),
                            &new_code,
                            &Self::password(password_ok),
                        )
                        .map_err(Refusal::from)
                })();
                match result {
                    Ok(done) => {
                        assert!(
                            all_ok,
                            "an exchange completed without all three proofs: {op:?}"
                        );
                        assert_eq!((done.old_serial, done.new_serial), (Some(old), new));
                        self.model.binding.insert(u, new);
                        self.model.revoked.insert(old);
                    }
                    Err(r) => assert!(
                        !(all_ok && open),
                        "a valid exchange was refused: {r:?} ({op:?})"
                    ),
                }
            }
            Op::Register {
                user,
                stock,
                new_ok,
                password_ok,
            } => {
                let u = self.users[user].clone();
                let Some(new) = self.pick_stock(stock) else {
                    return;
                };
                let had = self.model.binding.contains_key(&u);
                let open = !self.locked(&admin) && !self.locked(&u);
                let code = self.code(&new, new_ok);
                let result = self
                    .s
                    .bank
                    .begin_registration(&admin, &u)
                    .and_then(|step5| {
                        step5
                            .confirm(
                                &self.s.bank,
                                new.as_str(),
                                &code,
                                &Self::password(password_ok),
                            )
                            .map_err(Refusal::from)
                    });
                match result {
                    Ok(done) => {
                        assert!(
                            new_ok && password_ok && !had,
                            "registration without its proofs: {op:?}"
                        );
                        assert_eq!(done.new_serial, new);
                        self.model.binding.insert(u, new);
                    }
                    Err(r) => assert!(
                        !(new_ok && password_ok && !had && open),
                        "a valid registration was refused: {r:?}"
                    ),
                }
            }
            Op::Unregister { user, password_ok } => {
                let u = self.users[user].clone();
                if self
                    .s
                    .bank
                    .unregister(&admin, &u, &Self::password(password_ok))
                    .is_ok()
                {
                    assert!(password_ok, "unregistered without the password");
                    let old = self
                        .model
                        .binding
                        .remove(&u)
                        .expect("unregistered a user without a token");
                    self.model.revoked.insert(old);
                }
            }
            Op::Login { user, ok } => {
                let u = self.users[user].clone();
                let Some(t) = self.model.binding.get(&u).copied() else {
                    let want = if self.locked(&u) {
                        Refusal::UserLocked
                    } else {
                        Refusal::NoTokenRegistered
                    };
                    assert_eq!(self.s.bank.login(&u, "000000").unwrap_err(), want);
                    return;
                };
                let code = self.code(&t, ok);
                let locked = self.locked(&u);
                match self.s.bank.login(&u, &code) {
                    Ok(_) => {
                        assert!(ok && !locked, "a wrong code or a locked ID logged in");
                        self.last_login.insert(u, code);
                    }
                    Err(r) => assert!(!ok || locked, "a right code was refused: {r:?}"),
                }
            }
            Op::ReplayLastLogin { user } => {
                let u = self.users[user].clone();
                if let Some(code) = self.last_login.get(&u).cloned() {
                    assert!(
                        self.s.bank.login(&u, &code).is_err(),
                        "a login code was accepted twice"
                    );
                }
            }
            Op::LoginWithRevoked { user } => {
                let u = self.users[user].clone();
                for revoked in self.model.revoked.clone() {
                    let code = self.code(&revoked, true);
                    assert!(
                        self.s.bank.login(&u, &code).is_err(),
                        "a revoked token's code logged in"
                    );
                }
            }
            Op::Lock { user } => {
                let _ = self.s.bank.lock(&admin, &self.users[user].clone());
            }
            Op::Unlock { user } => {
                let _ = self.s.bank.unlock(&admin, &self.users[user].clone());
            }
            Op::BranchRevoke { user } => {
                let u = self.users[user].clone();
                let auth = BranchAuthorization {
                    officer: "B-1".into(),
                    request: "R-1".into(),
                };
                if self.s.bank.branch_revoke(&auth, &u).is_ok() {
                    let old = self
                        .model
                        .binding
                        .remove(&u)
                        .expect("revoked a user without a token");
                    self.model.revoked.insert(old);
                }
            }
            Op::WrongLoginBurst { user, count } => {
                let u = self.users[user].clone();
                if let Some(t) = self.model.binding.get(&u).copied() {
                    for _ in 0..count {
                        let code = self.code(&t, false);
                        assert!(self.s.bank.login(&u, &code).is_err());
                    }
                }
            }
        }
        self.check();
    }

    /// The store agrees with the model, and the invariants hold.
    fn check(&self) {
        let store = self.s.bank.store();
        let mut holders: BTreeMap<SerialNumber, UserId> = BTreeMap::new();
        for u in &self.users {
            let record = store.user(u).unwrap().unwrap();
            assert_eq!(
                record.token.as_ref(),
                self.model.binding.get(u),
                "binding of {u}"
            );
            if let Some(t) = record.token {
                assert!(
                    holders.insert(t, u.clone()).is_none(),
                    "token {t:?} bound to two users"
                );
                assert_eq!(
                    store.token(&t).unwrap().unwrap().status,
                    TokenStatus::Assigned(u.clone())
                );
            }
        }
        for serial in self.s.tokens.keys() {
            let status = store.token(serial).unwrap().unwrap().status;
            match status {
                TokenStatus::Revoked => assert!(self.model.revoked.contains(serial)),
                TokenStatus::Assigned(u) => assert_eq!(holders.get(serial), Some(&u)),
                TokenStatus::Unassigned => {
                    assert!(!holders.contains_key(serial) && !self.model.revoked.contains(serial))
                }
            }
        }
        verify_chain(&store.audit_chain().unwrap()).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_operation_sequences_keep_the_invariants(ops in prop::collection::vec(op(), 1..40)) {
        let mut world = World::new();
        world.check();
        for op in &ops {
            world.run(op);
        }
    }
}

/// The harness itself: the fixed happy path changes the model, so the
/// random runs above are not vacuous.
#[test]
fn the_harness_sees_exchanges_and_registrations_succeed() {
    let mut world = World::new();
    let before = world.model.binding.clone();
    world.run(&Op::Exchange {
        user: 1,
        stock: 0,
        current_ok: true,
        new_ok: true,
        password_ok: true,
    });
    world.run(&Op::Register {
        user: 2,
        stock: 0,
        new_ok: true,
        password_ok: true,
    });
    world.run(&Op::Unregister {
        user: 0,
        password_ok: true,
    });
    assert_ne!(world.model.binding, before);
    assert_eq!(world.model.binding.len(), 2);
    assert_eq!(world.model.revoked.len(), 2);
    world.run(&Op::LoginWithRevoked { user: 1 });
}
