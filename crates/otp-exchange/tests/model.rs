//! Model-based test: random sequences of operations (exchanges,
//! registrations, unregistrations, logins, replays, locks, unlocks, the
//! branch's revocations, unlocks and registrations, wrong codes and
//! passwords, two administrators acting on each other and on themselves)
//! against the manual's bank, checked after every step against a reference
//! model of who holds which token and of every ID's lock: its separate
//! code and password counters, the lock, the unlock cap. It never reaches a
//! state where a user has two active tokens, a token is bound to two
//! users, a revoked token verifies, an exchange completed without all
//! three proofs, an administrator operated on their own ID, or more wrong
//! approval passwords were evaluated between two clears than the limit.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    reason = "tests"
)]

use std::collections::{BTreeMap, BTreeSet};

use otp_exchange::scenario::{
    ADMIN_APPROVAL_PASSWORD, AUDIT_KEY, LOGIN_PASSWORD, Scenario, branch,
};
use otp_exchange::{
    Action, AuditKey, AuditResult, Authority, HashCost, MemoryStore, Password, PasswordKind,
    Policy, Refusal, TokenStatus, Transaction, UsageMode, UserId, verify_chain,
};
use otp_provision::SerialNumber;
use proptest::prelude::*;

const LIMIT: u32 = 6;
const SECOND_ADMIN_PASSWORD: &str = "approve-w0009";

#[derive(Clone, Debug)]
enum Op {
    Exchange {
        op: usize,
        user: usize,
        stock: usize,
        current_ok: bool,
        new_ok: bool,
        password_ok: bool,
    },
    Register {
        op: usize,
        user: usize,
        stock: usize,
        new_ok: bool,
        password_ok: bool,
    },
    Unregister {
        op: usize,
        user: usize,
        code_ok: bool,
        password_ok: bool,
    },
    Login {
        user: usize,
        ok: bool,
    },
    ReplayLastLogin {
        user: usize,
    },
    /// The web sign-in: login password right or wrong, code right or
    /// wrong (W0009 has no login password).
    SignIn {
        user: usize,
        password_ok: bool,
        code_ok: bool,
    },
    LoginWithRevoked {
        user: usize,
    },
    Lock {
        op: usize,
        user: usize,
    },
    Unlock {
        op: usize,
        user: usize,
        password_ok: bool,
    },
    BranchUnlock {
        user: usize,
    },
    BranchRevoke {
        user: usize,
    },
    WrongLoginBurst {
        user: usize,
        count: u8,
    },
    WrongPasswordBurst {
        op: usize,
        user: usize,
        count: u8,
    },
    /// An administrator changes their own approval password, typing the
    /// current one right or wrong; the new one toggles between two.
    ChangePassword {
        op: usize,
        password_ok: bool,
    },
    /// 利用形態設定: an administrator sets a user's usage mode (0 hardware
    /// token, 1 software token, 2 not used; the bank allows "not used").
    SetUsageMode {
        op: usize,
        user: usize,
        mode: usize,
        password_ok: bool,
    },
    /// A sign-in with the login password and no code.
    SignInWithoutCode {
        user: usize,
    },
    /// A transfer signed on the user's keypad token (RFC 6287 OCRA): the
    /// response right or wrong, or the user's last accepted signature
    /// typed again.
    Sign {
        user: usize,
        ok: bool,
        replay: bool,
    },
    NextDay,
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0usize..4;
    let admin = 0usize..2;
    prop_oneof![
        (
            admin.clone(),
            user.clone(),
            0usize..8,
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(
                |(op, user, stock, current_ok, new_ok, password_ok)| Op::Exchange {
                    op,
                    user,
                    stock,
                    current_ok,
                    new_ok,
                    password_ok
                }
            ),
        (
            admin.clone(),
            user.clone(),
            0usize..8,
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(op, user, stock, new_ok, password_ok)| Op::Register {
                op,
                user,
                stock,
                new_ok,
                password_ok
            }),
        (admin.clone(), user.clone(), any::<bool>(), any::<bool>()).prop_map(
            |(op, user, code_ok, password_ok)| Op::Unregister {
                op,
                user,
                code_ok,
                password_ok
            }
        ),
        (user.clone(), any::<bool>()).prop_map(|(user, ok)| Op::Login { user, ok }),
        user.clone().prop_map(|user| Op::ReplayLastLogin { user }),
        (user.clone(), any::<bool>(), any::<bool>()).prop_map(|(user, password_ok, code_ok)| {
            Op::SignIn {
                user,
                password_ok,
                code_ok,
            }
        }),
        user.clone().prop_map(|user| Op::LoginWithRevoked { user }),
        (admin.clone(), user.clone()).prop_map(|(op, user)| Op::Lock { op, user }),
        (admin.clone(), user.clone(), any::<bool>()).prop_map(|(op, user, password_ok)| {
            Op::Unlock {
                op,
                user,
                password_ok,
            }
        }),
        user.clone().prop_map(|user| Op::BranchUnlock { user }),
        user.clone().prop_map(|user| Op::BranchRevoke { user }),
        (user.clone(), 1u8..8).prop_map(|(user, count)| Op::WrongLoginBurst { user, count }),
        (admin, user, 1u8..8).prop_map(|(op, user, count)| Op::WrongPasswordBurst {
            op,
            user,
            count
        }),
        (0usize..2, any::<bool>())
            .prop_map(|(op, password_ok)| Op::ChangePassword { op, password_ok }),
        (0usize..2, 0usize..4, 0usize..3, any::<bool>()).prop_map(
            |(op, user, mode, password_ok)| Op::SetUsageMode {
                op,
                user,
                mode,
                password_ok
            }
        ),
        (0usize..4).prop_map(|user| Op::SignInWithoutCode { user }),
        (0usize..4, any::<bool>(), any::<bool>()).prop_map(|(user, ok, replay)| Op::Sign {
            user,
            ok,
            replay
        }),
        Just(Op::NextDay),
    ]
}

/// One ID's lock as the reference model sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Lock {
    codes: u32,
    passwords: u32,
    locked: bool,
    unlock_day: u64,
    unlocks: u32,
}

/// The reference model: who holds which token, which are revoked, and
/// every ID's lock.
#[derive(Debug, Default)]
struct Model {
    binding: BTreeMap<UserId, SerialNumber>,
    revoked: BTreeSet<SerialNumber>,
    locks: BTreeMap<UserId, Lock>,
    /// Wrong approval passwords observed since the operator's counter was
    /// last cleared (a right password, an unlock).
    wrong_passwords: BTreeMap<UserId, u32>,
    /// Each user's usage mode (hardware token when absent).
    modes: BTreeMap<UserId, UsageMode>,
}

impl Model {
    fn lock(&mut self, u: &UserId) -> &mut Lock {
        self.locks.entry(u.clone()).or_default()
    }

    /// A code evaluated against `u`'s ID.
    fn code(&mut self, u: &UserId, right: bool) {
        let l = self.lock(u);
        if right {
            l.codes = 0;
        } else {
            l.codes += 1;
            if l.codes >= LIMIT {
                l.locked = true;
            }
        }
    }

    /// A password evaluated for `op`.
    fn password(&mut self, op: &UserId, right: bool) {
        let l = self.lock(op);
        if right {
            l.passwords = 0;
            self.wrong_passwords.insert(op.clone(), 0);
        } else {
            l.passwords += 1;
            if l.passwords >= LIMIT {
                l.locked = true;
            }
            *self.wrong_passwords.entry(op.clone()).or_default() += 1;
        }
    }

    fn mode(&self, u: &UserId) -> UsageMode {
        self.modes.get(u).copied().unwrap_or_default()
    }

    fn unlocked(&mut self, u: &UserId, day: u64) {
        let l = self.lock(u);
        l.unlocks = if l.unlock_day == day {
            l.unlocks + 1
        } else {
            1
        };
        l.unlock_day = day;
        l.codes = 0;
        l.passwords = 0;
        l.locked = false;
        self.wrong_passwords.insert(u.clone(), 0);
    }
}

struct World {
    s: Scenario<MemoryStore>,
    users: [UserId; 4],
    admins: [UserId; 2],
    model: Model,
    last_login: BTreeMap<UserId, String>,
    /// When each user last logged in (by `login` or `sign_in`).
    last_login_at: BTreeMap<UserId, u64>,
    /// Each administrator's approval password now (changed by
    /// `Op::ChangePassword`).
    approvals: [String; 2],
    /// Each keypad token's signing floor as the model sees it: the
    /// counter after its last accepted signature.
    sign_floor: BTreeMap<SerialNumber, u64>,
    /// Each user's last accepted signature: the token, the transaction's
    /// amount and the response.
    last_signature: BTreeMap<UserId, (SerialNumber, u64, String)>,
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// A response with its last digit changed.
fn flip_last(response: &str) -> String {
    let (head, last) = response.split_at(response.len() - 1);
    let d = last.parse::<u8>().unwrap();
    format!("{head}{}", (d + 1) % 10)
}

impl World {
    fn new() -> Self {
        let s = Scenario::setup(MemoryStore::new(), 1_601_512_200, HashCost::TESTING).unwrap();
        // The bank allows the usage mode "not used".
        let Scenario {
            bank,
            clock,
            tokens,
            admin,
            general,
            without_token,
        } = s;
        let mut s = Scenario {
            bank: bank.with_policy(Policy {
                allow_not_used: true,
                ..Policy::default()
            }),
            clock,
            tokens,
            admin,
            general,
            without_token,
        };
        // A second administrator, with a token registered by the branch.
        let second = UserId::parse("W0009").unwrap();
        s.bank
            .enroll_user(&branch(), &second, "しんきん花子", Authority::Administrator)
            .unwrap();
        s.bank
            .set_password(
                &branch(),
                &second,
                PasswordKind::Approval,
                &Password::new(SECOND_ADMIN_PASSWORD),
            )
            .unwrap();
        // Two keypad (signing) tokens in stock; the first in the stock's
        // order (`KP…` before `VT…`) goes to the second administrator.
        for suite in ["OCRA-1:HOTP-SHA256-8:C-QN08", "OCRA-1:HOTP-SHA1-6:C-QA08"] {
            s.add_keypad_token(suite.parse().unwrap()).unwrap();
        }
        let serial = s.stock()[0];
        let code = s.press(&serial).unwrap();
        s.bank
            .branch_register(&branch(), &second, serial.as_str(), &code)
            .unwrap();
        let users = [
            s.admin.clone(),
            second.clone(),
            s.general.clone(),
            s.without_token.clone(),
        ];
        let mut model = Model::default();
        for u in &users {
            if let Some(t) = s.token_of(u).unwrap() {
                model.binding.insert(u.clone(), t);
            }
            model.lock(u);
        }
        Self {
            admins: [s.admin.clone(), second],
            s,
            users,
            model,
            last_login: BTreeMap::new(),
            last_login_at: BTreeMap::new(),
            approvals: [
                ADMIN_APPROVAL_PASSWORD.to_owned(),
                SECOND_ADMIN_PASSWORD.to_owned(),
            ],
            sign_floor: BTreeMap::new(),
            last_signature: BTreeMap::new(),
        }
    }

    fn password(&self, op: &UserId, ok: bool) -> Password {
        Password::new(match (ok, op == &self.admins[0]) {
            (false, _) => "not-the-password",
            (true, true) => &self.approvals[0],
            (true, false) => &self.approvals[1],
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

    /// `Op::Sign`: the outcome the model expects, checked.
    fn sign(&mut self, user: usize, ok: bool, replay: bool) {
        let u = self.users[user].clone();
        let Some(t) = self.model.binding.get(&u).copied() else {
            let tx = Transaction::new(1, "1").unwrap();
            assert_eq!(
                self.s.bank.sign_transaction(&u, &tx, "123456"),
                Err(Refusal::NoTokenRegistered)
            );
            return;
        };
        let amount = 1_000 + self.s.bank.now() % 97;
        let tx = Transaction::new(amount, "1234567").unwrap();
        if self
            .s
            .tokens
            .get(&t)
            .and_then(otp_token::Token::suite)
            .is_none()
        {
            assert_eq!(
                self.s.bank.sign_transaction(&u, &tx, "123456"),
                Err(Refusal::NoSigningToken)
            );
            return;
        }
        let locked = self.locked(&u);
        if replay {
            let Some((serial, amount, response)) = self.last_signature.get(&u).cloned() else {
                return;
            };
            if serial != t {
                return;
            }
            let tx = Transaction::new(amount, "1234567").unwrap();
            let want = if locked {
                Refusal::UserLocked
            } else {
                Refusal::SignatureReplayed
            };
            // The last signature typed again is not a guess.
            assert_eq!(self.s.bank.sign_transaction(&u, &tx, &response), Err(want));
            return;
        }
        let floor = self.sign_floor.get(&t).copied().unwrap_or(0);
        let q = self.s.bank.transaction_challenge(&u, &tx).unwrap();
        let counter = self.s.tokens[&t].sign_counter();
        let right = self.s.press_challenge(&t, &q).unwrap();
        let typed = if ok { right.clone() } else { flip_last(&right) };
        let result = self.s.bank.sign_transaction(&u, &tx, &typed);
        if locked {
            assert_eq!(result, Err(Refusal::UserLocked));
            return;
        }
        // The counter must be in the window ahead of the floor.
        let accepted = ok && counter >= floor && counter - floor <= 10;
        self.model.code(&u, accepted);
        match result {
            Ok(signed) => {
                assert!(
                    accepted,
                    "a signature accepted against the model: {signed:?}"
                );
                assert_eq!(signed.counter(), Some(counter));
                assert_eq!(signed.serial(), t);
                self.sign_floor.insert(t, counter + 1);
                self.last_signature.insert(u, (t, amount, typed));
            }
            Err(r) => {
                assert!(!accepted, "a right signature was refused: {r:?}");
                let want = if self.locked(&u) {
                    Refusal::UserLocked
                } else {
                    Refusal::WrongSignature
                };
                assert_eq!(r, want);
            }
        }
    }

    fn locked(&self, u: &UserId) -> bool {
        self.model.locks.get(u).is_some_and(|l| l.locked)
    }

    fn is_admin(&self, u: &UserId) -> bool {
        self.admins.contains(u)
    }

    fn day(&self) -> u64 {
        (self.s.bank.now() + 9 * 3600) / 86_400
    }

    /// Whether `op` may start an operation on `u` at all: an unlocked
    /// administrator, on another ID.
    fn may_operate(&self, op: &UserId, u: &UserId) -> Result<(), Refusal> {
        if self.locked(op) {
            Err(Refusal::OperatorLocked)
        } else if op == u {
            Err(Refusal::OwnId)
        } else {
            Ok(())
        }
    }

    #[allow(clippy::too_many_lines, reason = "one arm per operation")]
    fn run(&mut self, op: &Op) {
        // A new time step before every operation: every press shows a new code.
        self.s.clock.advance(30);
        match *op {
            Op::Exchange {
                op,
                user,
                stock,
                current_ok,
                new_ok,
                password_ok,
            } => {
                let o = self.admins[op].clone();
                let u = self.users[user].clone();
                let (Some(old), Some(new)) =
                    (self.model.binding.get(&u).copied(), self.pick_stock(stock))
                else {
                    return;
                };
                let open = self.may_operate(&o, &u).is_ok() && !self.locked(&u);
                let result = (|| {
                    let step4 = self.s.bank.begin_exchange(&o, &u)?;
                    let code = self.code(&old, current_ok);
                    let step5 = step4.submit_code(&self.s.bank, &code);
                    self.model.code(&u, current_ok);
                    let step5 = step5?;
                    let new_code = self.code(&new, new_ok);
                    let done = step5.confirm(
                        &self.s.bank,
                        new.as_str(),
                        &new_code,
                        &self.password(&o, password_ok),
                    );
                    if !self.locked(&u) {
                        self.model.code(&u, new_ok);
                        if new_ok {
                            self.model.password(&o, password_ok);
                        }
                    }
                    done.map_err(Refusal::from)
                })();
                match result {
                    Ok(done) => {
                        assert!(
                            open && current_ok && new_ok && password_ok,
                            "an exchange completed without all three proofs: {op:?}"
                        );
                        assert_eq!((done.old_serial, done.new_serial), (Some(old), new));
                        self.model.modes.insert(u.clone(), UsageMode::HardwareToken);
                        self.model.binding.insert(u, new);
                        self.model.revoked.insert(old);
                    }
                    Err(r) => {
                        if o == u && !self.locked(&o) {
                            assert_eq!(r, Refusal::OwnId, "{op:?}");
                        }
                        assert!(
                            !(current_ok && new_ok && password_ok && open),
                            "a valid exchange was refused: {r:?} ({op:?})"
                        );
                    }
                }
            }
            Op::Register {
                op,
                user,
                stock,
                new_ok,
                password_ok,
            } => {
                let o = self.admins[op].clone();
                let u = self.users[user].clone();
                let Some(new) = self.pick_stock(stock) else {
                    return;
                };
                let had = self.model.binding.contains_key(&u);
                let open = self.may_operate(&o, &u).is_ok() && !self.locked(&u);
                let code = self.code(&new, new_ok);
                let result = self.s.bank.begin_registration(&o, &u).and_then(|step5| {
                    step5
                        .confirm(
                            &self.s.bank,
                            new.as_str(),
                            &code,
                            &self.password(&o, password_ok),
                        )
                        .map_err(Refusal::from)
                });
                if open && !had {
                    self.model.code(&u, new_ok);
                    if new_ok {
                        self.model.password(&o, password_ok);
                    }
                }
                match result {
                    Ok(done) => {
                        assert!(
                            open && new_ok && password_ok && !had,
                            "registration without its proofs: {op:?}"
                        );
                        assert_eq!(done.new_serial, new);
                        self.model.modes.insert(u.clone(), UsageMode::HardwareToken);
                        self.model.binding.insert(u, new);
                    }
                    Err(r) => {
                        if o == u && !self.locked(&o) {
                            assert_eq!(r, Refusal::OwnId, "{op:?}");
                        }
                        assert!(
                            !(new_ok && password_ok && !had && open),
                            "a valid registration was refused: {r:?}"
                        );
                    }
                }
            }
            Op::Unregister {
                op,
                user,
                code_ok,
                password_ok,
            } => {
                let o = self.admins[op].clone();
                let u = self.users[user].clone();
                let token = self.model.binding.get(&u).copied();
                let code = match token {
                    Some(t) => self.code(&t, code_ok),
                    None => "000000".into(),
                };
                let open = self.may_operate(&o, &u).is_ok() && !self.locked(&u);
                let result = self
                    .s
                    .bank
                    .unregister(&o, &u, &code, &self.password(&o, password_ok));
                if open && token.is_some() {
                    self.model.code(&u, code_ok);
                    if code_ok && !self.locked(&u) {
                        self.model.password(&o, password_ok);
                    }
                }
                match result {
                    Ok(()) => {
                        assert!(
                            open && code_ok && password_ok,
                            "unregistered without the code and the password: {op:?}"
                        );
                        let old = self
                            .model
                            .binding
                            .remove(&u)
                            .expect("unregistered a user without a token");
                        self.model.revoked.insert(old);
                    }
                    Err(r) => {
                        if o == u && !self.locked(&o) {
                            assert_eq!(r, Refusal::OwnId, "{op:?}");
                        }
                        assert!(
                            !(open && code_ok && password_ok && token.is_some()),
                            "a valid unregistration was refused: {r:?}"
                        );
                    }
                }
            }
            Op::Sign { user, ok, replay } => self.sign(user, ok, replay),
            Op::Login { user, ok } => {
                let u = self.users[user].clone();
                let Some(t) = self.model.binding.get(&u).copied() else {
                    // One refusal whatever the reason.
                    assert_eq!(
                        self.s.bank.login(&u, "000000").unwrap_err(),
                        Refusal::LoginFailed
                    );
                    return;
                };
                let code = self.code(&t, ok);
                let locked = self.locked(&u);
                let result = self.s.bank.login(&u, &code);
                if !locked {
                    self.model.code(&u, ok);
                }
                match result {
                    Ok(proof) => {
                        assert!(ok && !locked, "a wrong code or a locked ID logged in");
                        let now = self.s.bank.now();
                        assert_eq!(
                            proof.login(),
                            Some(otp_exchange::LoginTimes {
                                this_login: now,
                                previous_login: self.last_login_at.insert(u.clone(), now),
                            })
                        );
                        self.last_login.insert(u, code);
                    }
                    Err(r) => {
                        assert!(!ok || locked, "a right code was refused: {r:?}");
                        assert_eq!(r, Refusal::LoginFailed);
                    }
                }
            }
            Op::SignIn {
                user,
                password_ok,
                code_ok,
            } => {
                let u = self.users[user].clone();
                let has_password = u != self.admins[1];
                let locked = self.locked(&u);
                let token = self.model.binding.get(&u).copied();
                let code = match token {
                    Some(t) => self.code(&t, code_ok),
                    None => "000000".to_owned(),
                };
                let password = Password::new(if password_ok {
                    LOGIN_PASSWORD
                } else {
                    "not-the-login-password"
                });
                let result = self.s.bank.sign_in(&u, &password, &code);
                if has_password && !locked {
                    if !password_ok {
                        self.model.code(&u, false);
                    } else if token.is_some() {
                        self.model.code(&u, code_ok);
                    }
                }
                match result {
                    Ok(signed) => {
                        assert!(
                            has_password && !locked && password_ok && code_ok && token.is_some(),
                            "a sign-in without all of its proofs: {op:?}"
                        );
                        let now = self.s.bank.now();
                        assert_eq!(signed.this_login(), now);
                        assert_eq!(
                            signed.previous_login(),
                            self.last_login_at.insert(u.clone(), now)
                        );
                        self.last_login.insert(u, code);
                    }
                    Err(r) => {
                        assert_eq!(r, Refusal::LoginFailed, "{op:?}");
                        assert!(
                            !(has_password && !locked && password_ok && code_ok && token.is_some()),
                            "a valid sign-in was refused: {op:?}"
                        );
                    }
                }
            }
            Op::ReplayLastLogin { user } => {
                let u = self.users[user].clone();
                if let Some(code) = self.last_login.get(&u).cloned() {
                    let result = self.s.bank.login(&u, &code);
                    // Within the window it is a replay (not counted); once
                    // outside, a wrong code (counted).
                    match result {
                        Ok(_) => panic!("a login code was accepted twice"),
                        Err(Refusal::Replayed(_)) => {}
                        Err(r) => {
                            assert_eq!(r, Refusal::LoginFailed);
                            if !self.locked(&u) && self.model.binding.contains_key(&u) {
                                self.model.code(&u, false);
                            }
                        }
                    }
                }
            }
            Op::LoginWithRevoked { user } => {
                let u = self.users[user].clone();
                for revoked in self.model.revoked.clone() {
                    let locked = self.locked(&u);
                    let code = self.code(&revoked, true);
                    assert!(
                        self.s.bank.login(&u, &code).is_err(),
                        "a revoked token's code logged in"
                    );
                    // A wrong code for the user's own token, if they have one.
                    if !locked && self.model.binding.contains_key(&u) {
                        self.model.code(&u, false);
                    }
                }
            }
            Op::Lock { op, user } => {
                let o = self.admins[op].clone();
                let u = self.users[user].clone();
                let result = self.s.bank.lock(&o, &u);
                if self.locked(&o) {
                    assert_eq!(result, Err(Refusal::OperatorLocked));
                } else {
                    result.unwrap();
                    self.model.lock(&u).locked = true;
                }
            }
            Op::Unlock {
                op,
                user,
                password_ok,
            } => {
                let o = self.admins[op].clone();
                let u = self.users[user].clone();
                let day = self.day();
                let result = self.s.bank.unlock(&o, &u, &self.password(&o, password_ok));
                let want = self.may_operate(&o, &u).and_then(|()| {
                    let l = self.model.locks[&u];
                    if self.is_admin(&u) {
                        Err(Refusal::BranchUnlockRequired)
                    } else if l.unlock_day == day && l.unlocks >= 3 {
                        Err(Refusal::UnlockLimit)
                    } else {
                        Ok(())
                    }
                });
                match want {
                    Err(w) => assert_eq!(result, Err(w), "{op:?}"),
                    Ok(()) => {
                        self.model.password(&o, password_ok);
                        if password_ok {
                            assert_eq!(result, Ok(()), "{op:?}");
                            self.model.unlocked(&u, day);
                        } else {
                            assert!(
                                matches!(
                                    result,
                                    Err(Refusal::WrongPassword | Refusal::OperatorLocked)
                                ),
                                "{result:?}"
                            );
                        }
                    }
                }
            }
            Op::BranchUnlock { user } => {
                let u = self.users[user].clone();
                self.s.bank.branch_unlock(&branch(), &u).unwrap();
                let day = self.day();
                self.model.unlocked(&u, day);
            }
            Op::BranchRevoke { user } => {
                let u = self.users[user].clone();
                if self.s.bank.branch_revoke(&branch(), &u).is_ok() {
                    let old = self
                        .model
                        .binding
                        .remove(&u)
                        .expect("revoked a user without a token");
                    self.model.revoked.insert(old);
                } else {
                    assert!(!self.model.binding.contains_key(&u));
                }
            }
            Op::WrongLoginBurst { user, count } => {
                let u = self.users[user].clone();
                if let Some(t) = self.model.binding.get(&u).copied() {
                    for _ in 0..count {
                        let code = self.code(&t, false);
                        assert!(self.s.bank.login(&u, &code).is_err());
                        if !self.locked(&u) {
                            self.model.code(&u, false);
                        }
                    }
                }
            }
            Op::WrongPasswordBurst { op, user, count } => {
                // Unlock attempts with wrong passwords: the cheapest way to
                // guess an approval password.
                for _ in 0..count {
                    self.run(&Op::Unlock {
                        op,
                        user,
                        password_ok: false,
                    });
                }
            }
            Op::ChangePassword { op, password_ok } => {
                let i = op;
                let o = self.admins[i].clone();
                let initial = [ADMIN_APPROVAL_PASSWORD, SECOND_ADMIN_PASSWORD][i];
                let new = if self.approvals[i] == initial {
                    format!("{initial}-changed")
                } else {
                    initial.to_owned()
                };
                let result = self.s.bank.change_password(
                    &o,
                    PasswordKind::Approval,
                    &self.password(&o, password_ok),
                    &Password::new(&new),
                );
                if self.locked(&o) {
                    assert_eq!(
                        result,
                        Err(Refusal::OperatorLocked),
                        "change {i} {password_ok}"
                    );
                } else {
                    self.model.password(&o, password_ok);
                    if password_ok {
                        assert_eq!(result, Ok(()), "change {i} {password_ok}");
                        self.approvals[i] = new;
                    } else if self.locked(&o) {
                        assert_eq!(
                            result,
                            Err(Refusal::OperatorLocked),
                            "change {i} {password_ok}"
                        );
                    } else {
                        assert_eq!(
                            result,
                            Err(Refusal::WrongPassword),
                            "change {i} {password_ok}"
                        );
                    }
                }
            }
            Op::SetUsageMode {
                op,
                user,
                mode,
                password_ok,
            } => {
                let o = self.admins[op].clone();
                let u = self.users[user].clone();
                let mode = UsageMode::ALL[mode];
                let result =
                    self.s
                        .bank
                        .set_usage_mode(&o, &u, mode, &self.password(&o, password_ok));
                let want = self.may_operate(&o, &u).and_then(|()| {
                    if mode == UsageMode::SoftwareToken {
                        Err(Refusal::SoftwareTokenByEnrollment)
                    } else if mode == UsageMode::NotUsed && self.is_admin(&u) {
                        Err(Refusal::NotUsedForAdministrator)
                    } else if self.locked(&u) {
                        Err(Refusal::UserLocked)
                    } else {
                        Ok(())
                    }
                });
                match want {
                    Err(w) => assert_eq!(result.map(|_| ()), Err(w), "{op:?}"),
                    Ok(()) => {
                        self.model.password(&o, password_ok);
                        if password_ok {
                            let done = result.unwrap();
                            let before = self.model.mode(&u);
                            assert_eq!((done.previous, done.mode), (before, mode));
                            let revoked = if mode == UsageMode::NotUsed {
                                self.model.binding.remove(&u)
                            } else {
                                None
                            };
                            assert_eq!(done.revoked, revoked, "{op:?}");
                            self.model.revoked.extend(revoked);
                            self.model.modes.insert(u, mode);
                        } else {
                            assert!(
                                matches!(
                                    result,
                                    Err(Refusal::WrongPassword | Refusal::OperatorLocked)
                                ),
                                "{result:?}"
                            );
                        }
                    }
                }
            }
            Op::SignInWithoutCode { user } => {
                let u = self.users[user].clone();
                let result = self.s.bank.sign_in(
                    &u,
                    &Password::new(otp_exchange::scenario::LOGIN_PASSWORD),
                    "",
                );
                // W0009 has no login password: nothing is evaluated.
                let has_password = u != self.admins[1];
                let may = has_password
                    && !self.locked(&u)
                    && !self.is_admin(&u)
                    && self.model.mode(&u) == UsageMode::NotUsed
                    && !self.model.binding.contains_key(&u);
                if may {
                    let signed = result.unwrap();
                    let now = self.s.bank.now();
                    assert_eq!(signed.this_login(), now);
                    // The login without a code is a login like any other:
                    // its time is the next one's previous login.
                    assert_eq!(
                        signed.previous_login(),
                        self.last_login_at.insert(u.clone(), now)
                    );
                    self.model.code(&u, true);
                } else {
                    assert_eq!(result.map(|_| ()), Err(Refusal::LoginFailed), "{op:?}");
                }
            }
            Op::NextDay => {
                self.s.clock.advance(86_400);
            }
        }
        self.check();
    }

    /// The store agrees with the model, and the invariants hold.
    fn check(&self) {
        let records = self.s.bank.records();
        let mut holders: BTreeMap<SerialNumber, UserId> = BTreeMap::new();
        for u in &self.users {
            let record = records.user(u).unwrap().unwrap();
            assert_eq!(
                record.token.as_ref(),
                self.model.binding.get(u),
                "binding of {u}"
            );
            assert_eq!(record.usage_mode, self.model.mode(u), "usage mode of {u}");
            // "Not used" never holds a token, and never an administrator.
            if record.usage_mode == UsageMode::NotUsed {
                assert!(record.token.is_none() && !self.is_admin(u), "{u}");
            }
            let want = self.model.locks[u];
            let got = record.lock;
            assert_eq!(
                (got.codes.failures, got.passwords.failures, got.locked),
                (want.codes, want.passwords, want.locked),
                "lock of {u}"
            );
            assert_eq!((got.codes.pending, got.passwords.pending), (0, 0));
            assert_eq!(
                record.last_login,
                self.last_login_at.get(u).copied(),
                "last login of {u}"
            );
            assert_eq!(
                (got.unlock_day, got.unlocks),
                (want.unlock_day, want.unlocks),
                "unlocks of {u}"
            );
            if let Some(t) = record.token {
                assert!(
                    holders.insert(t, u.clone()).is_none(),
                    "token {t:?} bound to two users"
                );
                assert_eq!(
                    records.token_status(&t).unwrap(),
                    Some(TokenStatus::Assigned(u.clone()))
                );
            }
        }
        for serial in self.s.tokens.keys() {
            match records.token_status(serial).unwrap().unwrap() {
                TokenStatus::Revoked => assert!(self.model.revoked.contains(serial)),
                TokenStatus::Assigned(u) => assert_eq!(holders.get(serial), Some(&u)),
                TokenStatus::Unassigned => {
                    assert!(!holders.contains_key(serial) && !self.model.revoked.contains(serial));
                }
                // The scenario's stock is hardware: nothing is minted here.
                TokenStatus::Reserved(u) => panic!("stock token {serial:?} reserved for {u}"),
            }
        }
        // Never more wrong approval passwords evaluated between two clears
        // than the limit: as observed, and as the audit trail records them.
        for (op, n) in &self.model.wrong_passwords {
            assert!(*n <= LIMIT, "{op}: {n} wrong passwords evaluated");
        }
        let chain = records.audit_chain().unwrap();
        verify_chain(
            &chain,
            &AuditKey::new(AUDIT_KEY),
            records.audit_head().unwrap(),
        )
        .unwrap();
        let mut since_clear: BTreeMap<String, u32> = BTreeMap::new();
        for r in &chain {
            let e = &r.entry;
            if e.action == Action::Unlock
                && e.result == AuditResult::Ok
                && let Some(t) = &e.target
            {
                since_clear.insert(t.to_string(), 0);
            }
            if matches!(
                e.action,
                Action::Exchange
                    | Action::Register
                    | Action::Unregister
                    | Action::Unlock
                    | Action::UsageMode
            ) && e.result == AuditResult::Ok
            {
                // A completed operation by an administrator passed their
                // password: their counter was cleared.
                since_clear.insert(e.operator.clone(), 0);
            }
            if e.action == Action::UserUpdate
                && e.result == AuditResult::Ok
                && e.reason.as_deref() == Some("approval_password_changed")
            {
                // A password changed: the current one was right.
                since_clear.insert(e.operator.clone(), 0);
            }
            if e.reason.as_deref() == Some("wrong_password") {
                let n = since_clear.entry(e.operator.clone()).or_default();
                *n += 1;
                assert!(
                    *n <= LIMIT,
                    "{}: {n} wrong passwords in the audit trail",
                    e.operator
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
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
        op: 0,
        user: 2,
        stock: 0,
        current_ok: true,
        new_ok: true,
        password_ok: true,
    });
    world.run(&Op::Register {
        op: 1,
        user: 3,
        stock: 0,
        new_ok: true,
        password_ok: true,
    });
    world.run(&Op::Unregister {
        op: 1,
        user: 0,
        code_ok: true,
        password_ok: true,
    });
    assert_ne!(world.model.binding, before);
    assert_eq!(world.model.binding.len(), 3);
    assert_eq!(world.model.revoked.len(), 2);
    world.run(&Op::LoginWithRevoked { user: 2 });
    // Six wrong passwords lock W0009; the branch unlocks it.
    world.run(&Op::WrongPasswordBurst {
        op: 1,
        user: 2,
        count: 7,
    });
    assert!(world.locked(&world.admins[1].clone()));
    world.run(&Op::BranchUnlock { user: 1 });
    assert!(!world.locked(&world.admins[1].clone()));
    // Three unlocks a day, then the branch.
    for _ in 0..3 {
        world.run(&Op::Lock { op: 0, user: 2 });
        world.run(&Op::Unlock {
            op: 0,
            user: 2,
            password_ok: true,
        });
    }
    world.run(&Op::Lock { op: 0, user: 2 });
    world.run(&Op::Unlock {
        op: 0,
        user: 2,
        password_ok: true,
    });
    assert!(world.locked(&world.users[2].clone()));
    world.run(&Op::NextDay);
    world.run(&Op::Unlock {
        op: 0,
        user: 2,
        password_ok: true,
    });
    assert!(!world.locked(&world.users[2].clone()));
}

/// The sequence CI's run of the model found (the usage mode and the
/// previous login merged without the model recording a login without a
/// code): a user set to "not used" signs in without a code, twice; the
/// second sign-in's previous login is the first's, as the store keeps it.
#[test]
fn a_sign_in_without_a_code_is_the_next_ones_previous_login() {
    let mut world = World::new();
    world.run(&Op::SetUsageMode {
        op: 0,
        user: 3,
        mode: 2,
        password_ok: true,
    });
    world.run(&Op::SignInWithoutCode { user: 3 });
    world.run(&Op::NextDay);
    world.run(&Op::SignInWithoutCode { user: 3 });
}

/// The harness sees signatures accepted, replayed and refused, on the
/// keypad token W0009 starts with and on one an exchange gives W0002.
#[test]
fn the_harness_sees_signatures_accepted_and_refused() {
    let mut world = World::new();
    let w0009 = world.admins[1].clone();
    world.run(&Op::Sign {
        user: 1,
        ok: true,
        replay: false,
    });
    assert_eq!(world.sign_floor.values().copied().collect::<Vec<_>>(), [1]);
    world.run(&Op::Sign {
        user: 1,
        ok: true,
        replay: true,
    });
    world.run(&Op::Sign {
        user: 1,
        ok: false,
        replay: false,
    });
    assert_eq!(world.model.locks[&w0009].codes, 1);
    world.run(&Op::Sign {
        user: 1,
        ok: true,
        replay: false,
    });
    assert_eq!(world.model.locks[&w0009].codes, 0);
    assert_eq!(world.sign_floor.values().copied().collect::<Vec<_>>(), [3]);
    // W0002 gets the other keypad token (first in stock) by exchange.
    world.run(&Op::Exchange {
        op: 0,
        user: 2,
        stock: 0,
        current_ok: true,
        new_ok: true,
        password_ok: true,
    });
    world.run(&Op::Sign {
        user: 2,
        ok: true,
        replay: false,
    });
    assert_eq!(world.sign_floor.len(), 2);
    // W0001's button-only token signs nothing.
    world.run(&Op::Sign {
        user: 0,
        ok: true,
        replay: false,
    });
    world.check();
}
