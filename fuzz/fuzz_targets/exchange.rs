//! The exchange policy under arbitrary sequences of operations against the
//! seed's bank (W0001 administrator, W0002 and W0005 general users, eight
//! virtual tokens), on a `MemoryStore` with `HashCost::TESTING`.
//!
//! After every operation:
//! - never two users bound to one token; each user's token (at most one)
//!   has status `Assigned(user)`, and every assigned token is its user's;
//! - a revoked token stays revoked and is never bound again; a token's
//!   status only moves Unassigned -> Assigned -> Revoked;
//! - bindings change only through a successful confirm, unregister or
//!   branch revocation; a refused operation changes no binding;
//! - a confirm succeeds only with all three proofs: the current token's
//!   code (exchange) verified earlier in the flow, a code that verifies
//!   for the new token, and the administrator's approval password;
//! - a login or current-token step succeeds only with a code that
//!   verifies for the user's bound token;
//! - locks hold: a locked ID is refused as user and as operator, and only
//!   a successful unlock clears a lock;
//! - tickets: forged, tampered or random ones are refused, a genuine one
//!   works once and only for its administrator;
//! - the audit chain verifies and never holds a password.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_core::{Code, Params, verify};
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{
    BranchAuthorization, ExpectCurrentCode, ExpectNewToken, HashCost, MemoryStore, Password,
    Pending, Refusal, Store, Ticket, TokenStatus, UserId, verify_chain,
};
use otp_token::{Clock as _, SerialNumber};

const START: u64 = 1_601_512_200; // 2020-10-01 09:30 JST
const TRANSFER_PASSWORD: &str = "transfer-2020";
const MAX_OPS: usize = 40;

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    General,
    NoToken,
    Unknown,
}

#[derive(Arbitrary, Debug)]
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

#[derive(Arbitrary, Debug)]
enum SerialChoice {
    Stock(u8),
    Any(u8),
    CurrentOf(Who),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum PasswordChoice {
    Approval,
    Transfer,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum TicketChoice {
    Saved(u8),
    Tampered(u8, u16, u8),
    Random(Vec<u8>),
    Text(String),
}

#[derive(Arbitrary, Debug)]
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
    Unregister(Who, Who, PasswordChoice),
    Lock(Who, Who),
    Unlock(Who, Who),
    BranchRevoke(Who),
    UserList(Who),
}

enum Slot {
    Empty,
    Current(ExpectCurrentCode),
    New(ExpectNewToken),
}

struct World {
    s: Scenario<MemoryStore>,
    serials: Vec<SerialNumber>,
    last_code: BTreeMap<SerialNumber, String>,
    slot: Slot,
    tickets: Vec<(Ticket, UserId, bool)>,
    ever_revoked: BTreeSet<SerialNumber>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Snapshot {
    users: BTreeMap<String, (Option<SerialNumber>, bool)>,
    tokens: BTreeMap<SerialNumber, TokenStatus>,
}

fn id(who: Who) -> UserId {
    UserId::parse(match who {
        Who::Admin => "W0001",
        Who::General => "W0002",
        Who::NoToken => "W0005",
        Who::Unknown => "W0099",
    })
    .expect("a valid ID")
}

fn password(choice: &PasswordChoice) -> (Password, bool) {
    match choice {
        PasswordChoice::Approval => (Password::new(ADMIN_APPROVAL_PASSWORD), true),
        // W0001 has an approval password, so the per-transfer one is not
        // the password it must type.
        PasswordChoice::Transfer => (Password::new(TRANSFER_PASSWORD), false),
        PasswordChoice::Other(p) => (Password::new(p), p == ADMIN_APPROVAL_PASSWORD),
    }
}

impl World {
    fn snapshot(&self) -> Snapshot {
        let store = self.s.bank.store();
        let page = store.users(0, 100).expect("users");
        Snapshot {
            users: page
                .users
                .iter()
                .map(|u| (u.id.as_str().to_owned(), (u.token, u.lock.locked)))
                .collect(),
            tokens: self
                .serials
                .iter()
                .map(|s| (*s, store.token(s).expect("token").expect("known").status))
                .collect(),
        }
    }

    fn locked(&self, who: &UserId, snap: &Snapshot) -> bool {
        snap.users.get(who.as_str()).is_some_and(|u| u.1)
    }

    fn code_for(&mut self, serial: Option<SerialNumber>, choice: &CodeChoice) -> String {
        let Some(serial) = serial.filter(|s| self.s.tokens.contains_key(s)) else {
            return match choice {
                CodeChoice::Raw(t) => t.clone(),
                _ => "000000".to_owned(),
            };
        };
        match choice {
            CodeChoice::Raw(t) => t.clone(),
            CodeChoice::Previous => self
                .last_code
                .get(&serial)
                .cloned()
                .unwrap_or_else(|| "000000".to_owned()),
            CodeChoice::Right | CodeChoice::Offset(_) => {
                let Ok(code) = self.s.press(&serial) else {
                    return "000000".to_owned();
                };
                self.last_code.insert(serial, code.clone());
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

    /// Whether `typed` verifies for `serial` now, from its stored state,
    /// with its normal window or the first-use window.
    fn would_verify(&self, serial: &SerialNumber, typed: &str, first_use: bool) -> bool {
        let Ok(Some(entry)) = self.s.bank.store().token(serial) else {
            return false;
        };
        let mut params = entry.seed.verifier_params();
        if first_use {
            params = Params {
                window: self.s.bank.policy().first_use_window,
                ..params
            };
        }
        let Ok(code) = Code::parse(typed, params.digits) else {
            return false;
        };
        verify(
            &entry.seed.key(),
            &params,
            &entry.state,
            &code,
            self.s.clock.now(),
        )
        .is_accepted()
    }

    fn serial(&self, choice: &SerialChoice, snap: &Snapshot) -> String {
        let stock: Vec<SerialNumber> = snap
            .tokens
            .iter()
            .filter(|(_, st)| **st == TokenStatus::Unassigned)
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
                .users
                .get(id(*w).as_str())
                .and_then(|u| u.0)
                .map_or_else(|| "-".to_owned(), |s| s.as_str().to_owned()),
            SerialChoice::Raw(t) => t.clone(),
        }
    }
}

fn check_invariants(w: &World, before: &Snapshot, after: &Snapshot, op: &Op, ok: bool) {
    // One token per user, one user per token, statuses agree.
    let mut bound = BTreeSet::new();
    for (user, (token, _)) in &after.users {
        if let Some(t) = token {
            assert!(bound.insert(*t), "token bound to two users");
            assert_eq!(
                after.tokens.get(t),
                Some(&TokenStatus::Assigned(UserId::parse(user).expect("id"))),
                "{user}'s token is not Assigned to them"
            );
        }
    }
    for (serial, status) in &after.tokens {
        if let TokenStatus::Assigned(u) = status {
            assert_eq!(
                after.users.get(u.as_str()).and_then(|x| x.0),
                Some(*serial),
                "an assigned token is not its user's"
            );
        }
        match (before.tokens.get(serial), status) {
            (Some(a), b) if a == b => {}
            (Some(TokenStatus::Unassigned), TokenStatus::Assigned(_)) => {}
            (Some(TokenStatus::Assigned(_)), TokenStatus::Revoked) => {}
            (a, b) => panic!("token status moved {a:?} -> {b:?} on {op:?}"),
        }
        if w.ever_revoked.contains(serial) {
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
                Op::Confirm(..) | Op::Unregister(..) | Op::BranchRevoke(_)
            ),
            "{op:?} changed a binding"
        );
    }
    // Only a successful unlock clears a lock.
    for (user, (_, locked)) in &before.users {
        if *locked && !after.users.get(user).is_some_and(|x| x.1) {
            assert!(
                ok && matches!(op, Op::Unlock(_, t) if id(*t).as_str() == user),
                "{user}'s lock cleared by {op:?}"
            );
        }
    }
    // The audit chain verifies and holds no password.
    let chain = w.s.bank.store().audit_chain().expect("chain");
    verify_chain(&chain).expect("the audit chain verifies");
    if let Some(last) = chain.last() {
        let json = format!("{:?}", last.entry);
        assert!(!json.contains(ADMIN_APPROVAL_PASSWORD) && !json.contains(TRANSFER_PASSWORD));
    }
}

fn run(w: &mut World, op: &Op) {
    let before = w.snapshot();
    let ok: bool = match op {
        Op::Advance(secs) => {
            w.s.clock.advance(u64::from(*secs));
            true
        }
        Op::AdvanceFar(secs) => {
            w.s.clock.advance(u64::from(*secs));
            true
        }
        Op::BeginExchange(op_who, target) => {
            let r = w.s.bank.begin_exchange(&id(*op_who), &id(*target));
            if w.locked(&id(*op_who), &before) || w.locked(&id(*target), &before) {
                assert!(r.is_err(), "a locked ID began an exchange");
            }
            match r {
                Ok(state) => {
                    w.slot = Slot::Current(state);
                    true
                }
                Err(_) => false,
            }
        }
        Op::BeginRegistration(op_who, target) => {
            let r = w.s.bank.begin_registration(&id(*op_who), &id(*target));
            if w.locked(&id(*op_who), &before) || w.locked(&id(*target), &before) {
                assert!(r.is_err(), "a locked ID began a registration");
            }
            match r {
                Ok(state) => {
                    w.slot = Slot::New(state);
                    true
                }
                Err(_) => false,
            }
        }
        Op::SubmitCode(choice) => match std::mem::replace(&mut w.slot, Slot::Empty) {
            Slot::Current(state) => {
                let (operator, target) = (state.parties().0.clone(), state.parties().1.clone());
                let serial = state.old_serial();
                let typed = w.code_for(serial, choice);
                let verifies = serial.is_some_and(|s| w.would_verify(&s, &typed, false));
                match state.submit_code(&w.s.bank, &typed) {
                    Ok(next) => {
                        assert!(verifies, "submit_code accepted a code that does not verify");
                        assert!(!w.locked(&target, &before), "a locked user passed screen 4");
                        assert!(
                            !w.locked(&operator, &before),
                            "a locked administrator passed screen 4"
                        );
                        w.slot = Slot::New(next);
                        true
                    }
                    Err(retry) => {
                        if let Some(state) = retry.resume {
                            w.slot = Slot::Current(state);
                        }
                        false
                    }
                }
            }
            other => {
                w.slot = other;
                false
            }
        },
        Op::NoCurrentToken => match std::mem::replace(&mut w.slot, Slot::Empty) {
            Slot::Current(state) => {
                assert_eq!(state.no_current_token(&w.s.bank), Refusal::BranchRequired);
                false
            }
            other => {
                w.slot = other;
                false
            }
        },
        Op::Confirm(serial_choice, code_choice, pw) => {
            match std::mem::replace(&mut w.slot, Slot::Empty) {
                Slot::New(state) => {
                    let (operator, target) = (state.parties().0.clone(), state.parties().1.clone());
                    let text = w.serial(serial_choice, &before);
                    let parsed = SerialNumber::parse(&text).ok();
                    let typed = w.code_for(parsed, code_choice);
                    let code_ok = parsed.is_some_and(|s| {
                        before.tokens.get(&s) == Some(&TokenStatus::Unassigned)
                            && w.would_verify(&s, &typed, true)
                    });
                    let (password, password_ok) = password(pw);
                    match state.confirm(&w.s.bank, &text, &typed, &password) {
                        Ok(done) => {
                            assert!(code_ok, "confirm without a verifying new-token code");
                            assert!(password_ok, "confirm without the approval password");
                            assert!(!w.locked(&target, &before) && !w.locked(&operator, &before));
                            assert_eq!(Some(done.new_serial), parsed);
                            assert_eq!(done.user, target);
                            let before_token = before.users.get(target.as_str()).and_then(|u| u.0);
                            assert_eq!(done.old_serial, before_token);
                            if let Some(old) = done.old_serial {
                                w.ever_revoked.insert(old);
                            }
                            true
                        }
                        Err(retry) => {
                            if let Some(state) = retry.resume {
                                w.slot = Slot::New(state);
                            }
                            false
                        }
                    }
                }
                other => {
                    w.slot = other;
                    false
                }
            }
        }
        Op::Park => {
            let made = match std::mem::replace(&mut w.slot, Slot::Empty) {
                Slot::Current(state) => Some((state.ticket(&w.s.bank), state.parties().0.clone())),
                Slot::New(state) => Some((state.ticket(&w.s.bank), state.parties().0.clone())),
                Slot::Empty => None,
            };
            match made {
                Some((Ok(ticket), operator)) => {
                    w.tickets.push((ticket, operator, false));
                    true
                }
                _ => false,
            }
        }
        Op::Resume(who, choice) => {
            let operator = id(*who);
            let (text, genuine) = match choice {
                TicketChoice::Saved(i) if !w.tickets.is_empty() => {
                    let i = usize::from(*i) % w.tickets.len();
                    (w.tickets[i].0.as_str().to_owned(), Some(i))
                }
                TicketChoice::Tampered(i, at, byte) if !w.tickets.is_empty() => {
                    let original = w.tickets[usize::from(*i) % w.tickets.len()].0.as_str();
                    let mut bytes = original.as_bytes().to_vec();
                    let at = usize::from(*at) % bytes.len();
                    bytes[at] = *byte;
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if text == original {
                        return;
                    }
                    (text, None)
                }
                TicketChoice::Random(bytes) => (String::from_utf8_lossy(bytes).into_owned(), None),
                TicketChoice::Text(t) => (t.clone(), None),
                _ => ("".to_owned(), None),
            };
            let r = w.s.bank.resume(&operator, &Ticket::from_text(&text));
            match genuine {
                None => assert!(r.is_err(), "a forged or tampered ticket was accepted"),
                Some(i) => {
                    let (_, owner, used) = &w.tickets[i];
                    if r.is_ok() {
                        assert!(!used, "a ticket was used twice");
                        assert_eq!(
                            *owner, operator,
                            "a ticket resumed by another administrator"
                        );
                    }
                    if r.is_ok() {
                        w.tickets[i].2 = true;
                    }
                }
            }
            match r {
                Ok(Pending::ExpectCurrentCode(state)) => {
                    w.slot = Slot::Current(state);
                    true
                }
                Ok(Pending::ExpectNewToken(state)) => {
                    w.slot = Slot::New(state);
                    true
                }
                Err(_) => false,
            }
        }
        Op::Login(who, choice) => {
            let user = id(*who);
            let token = before.users.get(user.as_str()).and_then(|u| u.0);
            let typed = w.code_for(token.or_else(|| w.serials.first().copied()), choice);
            let verifies = token.is_some_and(|t| w.would_verify(&t, &typed, false));
            let r = w.s.bank.login(&user, &typed);
            if r.is_ok() {
                assert!(verifies, "a login with a code that does not verify");
                assert!(!w.locked(&user, &before), "a locked user logged in");
            }
            r.is_ok()
        }
        Op::Unregister(op_who, target, pw) => {
            let (password, password_ok) = password(pw);
            let r = w.s.bank.unregister(&id(*op_who), &id(*target), &password);
            if r.is_ok() {
                assert!(password_ok, "unregistered without the approval password");
                assert!(
                    !w.locked(&id(*op_who), &before),
                    "a locked administrator unregistered"
                );
                if let Some(old) = before.users.get(id(*target).as_str()).and_then(|u| u.0) {
                    w.ever_revoked.insert(old);
                }
            }
            r.is_ok()
        }
        Op::Lock(op_who, target) => {
            let r = w.s.bank.lock(&id(*op_who), &id(*target));
            if w.locked(&id(*op_who), &before) {
                assert!(r.is_err(), "a locked administrator locked an ID");
            }
            r.is_ok()
        }
        Op::Unlock(op_who, target) => {
            let r = w.s.bank.unlock(&id(*op_who), &id(*target));
            if w.locked(&id(*op_who), &before) {
                assert!(r.is_err(), "a locked administrator unlocked an ID");
            }
            r.is_ok()
        }
        Op::BranchRevoke(target) => {
            let auth = BranchAuthorization {
                officer: "B-001".into(),
                request: "REQ-1".into(),
            };
            let r = w.s.bank.branch_revoke(&auth, &id(*target));
            if r.is_ok()
                && let Some(old) = before.users.get(id(*target).as_str()).and_then(|u| u.0)
            {
                w.ever_revoked.insert(old);
            }
            r.is_ok()
        }
        Op::UserList(who) => {
            let r = w.s.bank.user_list(&id(*who), 0, 5);
            if w.locked(&id(*who), &before) {
                assert!(r.is_err(), "a locked administrator listed users");
            }
            if let Ok(list) = &r {
                assert_eq!(list.total, 3);
            }
            r.is_ok()
        }
    };
    let after = w.snapshot();
    check_invariants(w, &before, &after, op, ok);
}

/// `FUZZ_PRINT=1` prints each input's operations (to read a crash file).
fn print_ops() -> bool {
    static PRINT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PRINT.get_or_init(|| std::env::var_os("FUZZ_PRINT").is_some())
}

fuzz_target!(|ops: Vec<Op>| {
    if print_ops() {
        eprintln!("{:#?}", ops.iter().take(MAX_OPS).collect::<Vec<_>>());
    }
    let s = Scenario::setup(MemoryStore::new(), START, HashCost::TESTING).expect("the seed's bank");
    let serials = s.tokens.keys().copied().collect();
    let mut w = World {
        s,
        serials,
        last_code: BTreeMap::new(),
        slot: Slot::Empty,
        tickets: Vec::new(),
        ever_revoked: BTreeSet::new(),
    };
    for op in ops.iter().take(MAX_OPS) {
        run(&mut w, op);
    }
});
