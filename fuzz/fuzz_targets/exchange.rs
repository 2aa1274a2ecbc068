//! The exchange policy under arbitrary sequences of operations against the
//! seed's bank (W0001 administrator, W0002 and W0005 general users, eight
//! virtual tokens) plus a second administrator, W0003, without a token, on
//! a `MemoryStore` with `HashCost::TESTING`. W0003 lets sequences reach
//! what one administrator cannot: another administrator's token exchanged
//! or unregistered, an administrator's ID unlocked (refused online).
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
//! - tickets: forged, tampered or random ones are refused, a genuine one
//!   works once, only for its administrator, and never for a locked one;
//! - the keyed audit chain verifies with its stored head after every
//!   operation, only grows, and never holds a password.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_core::{Code, Digits, Params, Rejected, TokenState, verify};
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{
    Authority, BranchAuthorization, ExpectCurrentCode, ExpectNewToken, HashCost, IdLock,
    MemoryStore, Password, PasswordKind, Pending, Refusal, Store, Ticket, TokenStatus, UserId,
    Which,
};
use otp_token::{Clock as _, SerialNumber};

const START: u64 = 1_601_512_200; // 2020-10-01 09:30 JST
const TRANSFER_PASSWORD: &str = "transfer-2020";
/// W0003's approval password (W0003 has no per-transfer password).
const ADMIN2_APPROVAL_PASSWORD: &str = "approve-w0003";
const MAX_OPS: usize = 40;

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    General,
    NoToken,
    Unknown,
    Admin2,
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
    /// The operator's own approval password.
    Approval,
    /// W0001's per-transfer confirmation password.
    Transfer,
    /// Any text.
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
    /// Operator, target, a code from the target's current token, password.
    Unregister(Who, Who, CodeChoice, PasswordChoice),
    Lock(Who, Who),
    Unlock(Who, Who, PasswordChoice),
    BranchRevoke(Who),
    UserList(Who),
    BranchUnlock(Who),
    BranchRegister(Who, SerialChoice, CodeChoice),
}

enum Slot {
    Empty,
    Current(ExpectCurrentCode),
    New(ExpectNewToken),
}

struct World {
    s: Scenario<Arc<MemoryStore>>,
    /// The bank's store, shared, read by the oracle only (token secrets and
    /// states, to tell whether a code verifies).
    store: Arc<MemoryStore>,
    serials: Vec<SerialNumber>,
    last_code: BTreeMap<SerialNumber, String>,
    slot: Slot,
    tickets: Vec<(Ticket, UserId, bool)>,
    ever_revoked: BTreeSet<SerialNumber>,
    /// Successful online unlocks by (ID, the bank's calendar day).
    online_unlocks: BTreeMap<(String, u64), u32>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Snapshot {
    users: BTreeMap<String, (Option<SerialNumber>, IdLock, Authority)>,
    tokens: BTreeMap<SerialNumber, TokenStatus>,
    audit_head: u64,
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

/// The approval password registered for `operator`, if any.
fn approval_of(operator: &UserId) -> Option<&'static str> {
    match operator.as_str() {
        "W0001" => Some(ADMIN_APPROVAL_PASSWORD),
        "W0003" => Some(ADMIN2_APPROVAL_PASSWORD),
        _ => None,
    }
}

/// The password typed by `operator`, and whether it is the one the bank
/// must accept: their approval password. Both administrators have one, so
/// the per-transfer password is never the right one.
fn password(choice: &PasswordChoice, operator: &UserId) -> (Password, bool) {
    let right = approval_of(operator);
    match choice {
        PasswordChoice::Approval => (
            Password::new(right.unwrap_or(ADMIN_APPROVAL_PASSWORD)),
            right.is_some(),
        ),
        PasswordChoice::Transfer => (Password::new(TRANSFER_PASSWORD), false),
        PasswordChoice::Other(p) => (Password::new(p), right == Some(p.as_str())),
    }
}

impl World {
    fn snapshot(&self) -> Snapshot {
        let records = self.s.bank.records();
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
                .map(|s| (*s, records.token_status(s).expect("token").expect("known")))
                .collect(),
            audit_head: records.audit_head().expect("head").map_or(0, |h| h.seq),
        }
    }

    fn locked(&self, who: &UserId, snap: &Snapshot) -> bool {
        snap.users.get(who.as_str()).is_some_and(|u| u.1.locked)
    }

    fn token_of(who: &UserId, snap: &Snapshot) -> Option<SerialNumber> {
        snap.users.get(who.as_str()).and_then(|u| u.0)
    }

    fn is_admin(who: &UserId, snap: &Snapshot) -> bool {
        snap.users
            .get(who.as_str())
            .is_some_and(|u| u.2 == Authority::Administrator)
    }

    /// The bank's calendar day now.
    fn day(&self) -> u64 {
        self.s
            .clock
            .now()
            .saturating_add_signed(self.s.bank.policy().utc_offset_seconds)
            / 86_400
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

    /// The verifier's verdict on `typed` for `serial` now, from its stored
    /// state, as the bank runs it: the policy's window (or the first-use
    /// window) and no lock of the core's own (the policy's ID lock is the
    /// one lock authority). `None` for an unknown serial or a malformed
    /// code.
    fn verdict(
        &self,
        serial: &SerialNumber,
        typed: &str,
        first_use: bool,
    ) -> Option<Result<u64, Rejected>> {
        let entry = self.store.token(serial).ok()??;
        let policy = self.s.bank.policy();
        let params = Params {
            window: if first_use {
                policy.first_use_window
            } else {
                policy.window
            },
            max_failures: 0,
            ..entry.seed.verifier_params()
        };
        let code = Code::parse(typed, params.digits).ok()?;
        let state = TokenState {
            locked: false,
            failures: 0,
            ..entry.state
        };
        Some(
            verify(
                &entry.seed.key(),
                &params,
                &state,
                &code,
                self.s.clock.now(),
            )
            .outcome
            .map(|a| a.position()),
        )
    }

    /// Whether `typed` verifies for `serial` now (see [`World::verdict`]).
    fn would_verify(&self, serial: &SerialNumber, typed: &str, first_use: bool) -> bool {
        matches!(self.verdict(serial, typed, first_use), Some(Ok(_)))
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
            SerialChoice::CurrentOf(w) => Self::token_of(&id(*w), snap)
                .map_or_else(|| "-".to_owned(), |s| s.as_str().to_owned()),
            SerialChoice::Raw(t) => t.clone(),
        }
    }
}

fn check_invariants(w: &World, before: &Snapshot, after: &Snapshot, op: &Op, ok: bool) {
    // One token per user, one user per token, statuses agree.
    let mut bound = BTreeSet::new();
    for (user, (token, _, _)) in &after.users {
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
    let cap = w.s.bank.policy().max_unlocks_per_day;
    for ((user, day), n) in &w.online_unlocks {
        assert!(*n <= cap, "{user} unlocked online {n} times on day {day}");
    }
    // The keyed chain verifies up to its stored head, only grows, and holds
    // no password.
    let head = w.s.bank.verify_audit().expect("the audit chain verifies");
    assert_eq!(head, after.audit_head);
    assert!(
        head >= before.audit_head,
        "the audit chain shrank on {op:?}"
    );
    let chain = w.s.bank.records().audit_chain().expect("chain");
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

#[allow(clippy::too_many_lines, reason = "one arm per operation")]
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
            let (operator, target) = (id(*op_who), id(*target));
            let r = w.s.bank.begin_exchange(&operator, &target);
            if w.locked(&operator, &before) || w.locked(&target, &before) {
                assert!(r.is_err(), "a locked ID began an exchange");
            }
            if operator == target {
                assert!(r.is_err(), "an administrator began their own exchange");
            }
            match r {
                Ok(state) => {
                    assert!(World::is_admin(&operator, &before));
                    assert!(World::token_of(&target, &before).is_some());
                    w.slot = Slot::Current(state);
                    true
                }
                Err(_) => false,
            }
        }
        Op::BeginRegistration(op_who, target) => {
            let (operator, target) = (id(*op_who), id(*target));
            let r = w.s.bank.begin_registration(&operator, &target);
            if w.locked(&operator, &before) || w.locked(&target, &before) {
                assert!(r.is_err(), "a locked ID began a registration");
            }
            if operator == target {
                assert!(r.is_err(), "an administrator began their own registration");
            }
            match r {
                Ok(state) => {
                    assert!(World::is_admin(&operator, &before));
                    assert!(World::token_of(&target, &before).is_none());
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
                    let (password, password_ok) = password(pw, &operator);
                    match state.confirm(&w.s.bank, &text, &typed, &password) {
                        Ok(done) => {
                            assert!(code_ok, "confirm without a verifying new-token code");
                            assert!(password_ok, "confirm without the approval password");
                            assert!(!w.locked(&target, &before) && !w.locked(&operator, &before));
                            assert_ne!(operator, target, "an administrator's own token switched");
                            assert_eq!(Some(done.new_serial), parsed);
                            assert_eq!(done.user, target);
                            assert_eq!(done.old_serial, World::token_of(&target, &before));
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
                Slot::Current(state) => {
                    let operator = state.parties().0.clone();
                    Some((state.into_ticket(&w.s.bank), operator))
                }
                Slot::New(state) => {
                    let operator = state.parties().0.clone();
                    Some((state.into_ticket(&w.s.bank), operator))
                }
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
            if r.is_ok() {
                assert!(
                    !w.locked(&operator, &before),
                    "a locked administrator resumed a session"
                );
            }
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
            let token = World::token_of(&user, &before);
            let typed = w.code_for(token.or_else(|| w.serials.first().copied()), choice);
            let verdict = token.and_then(|t| w.verdict(&t, &typed, false));
            let r = w.s.bank.login(&user, &typed);
            match &r {
                Ok(_) => {
                    assert!(
                        matches!(verdict, Some(Ok(_))),
                        "a login with a code that does not verify"
                    );
                    assert!(!w.locked(&user, &before), "a locked user logged in");
                }
                Err(refusal) => {
                    let well_formed = [Digits::Six, Digits::Seven, Digits::Eight]
                        .into_iter()
                        .any(|d| Code::parse(&typed, d).is_ok());
                    if !well_formed {
                        // The typing rules are checked before the ID is
                        // looked up: the same answer for every ID.
                        assert!(
                            matches!(refusal, Refusal::Code(Which::Current, _)),
                            "{op:?}: {refusal:?}"
                        );
                    } else if token.is_none()
                        || w.locked(&user, &before)
                        || matches!(
                            verdict,
                            None | Some(Err(Rejected::Invalid | Rejected::DigitsMismatch))
                        )
                    {
                        // One refusal for an unknown ID, an ID without a
                        // token, a locked ID and a wrong code: nothing
                        // tells them apart.
                        assert_eq!(*refusal, Refusal::LoginFailed, "{op:?}");
                    }
                }
            }
            r.is_ok()
        }
        Op::Unregister(op_who, target, code, pw) => {
            let (operator, target) = (id(*op_who), id(*target));
            let token = World::token_of(&target, &before);
            let typed = w.code_for(token.or_else(|| w.serials.first().copied()), code);
            let verifies = token.is_some_and(|t| w.would_verify(&t, &typed, false));
            let (password, password_ok) = password(pw, &operator);
            let r = w.s.bank.unregister(&operator, &target, &typed, &password);
            if operator == target {
                assert!(r.is_err(), "an administrator unregistered their own token");
            }
            if r.is_ok() {
                assert!(password_ok, "unregistered without the approval password");
                assert!(verifies, "unregistered without a code from the token");
                assert!(
                    !w.locked(&operator, &before),
                    "a locked administrator unregistered"
                );
                assert!(
                    !w.locked(&target, &before),
                    "a locked user's token unregistered"
                );
                let old = token.expect("unregistered a user without a token");
                w.ever_revoked.insert(old);
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
        Op::Unlock(op_who, target, pw) => {
            let (operator, target) = (id(*op_who), id(*target));
            let (password, password_ok) = password(pw, &operator);
            let day = w.day();
            let r = w.s.bank.unlock(&operator, &target, &password);
            if w.locked(&operator, &before) {
                assert!(r.is_err(), "a locked administrator unlocked an ID");
            }
            if operator == target {
                assert!(r.is_err(), "an administrator unlocked their own ID");
            }
            let operator_may_act = World::is_admin(&operator, &before)
                && !w.locked(&operator, &before)
                && operator != target;
            if operator_may_act && World::is_admin(&target, &before) {
                assert_eq!(
                    r,
                    Err(Refusal::BranchUnlockRequired),
                    "an administrator's ID unlocked online"
                );
            }
            let cap = w.s.bank.policy().max_unlocks_per_day;
            let spent = before
                .users
                .get(target.as_str())
                .is_some_and(|u| u.1.unlock_day == day && u.1.unlocks >= cap);
            if operator_may_act && spent && !World::is_admin(&target, &before) {
                assert_eq!(r, Err(Refusal::UnlockLimit), "an ID unlocked past the cap");
            }
            if r.is_ok() {
                assert!(password_ok, "unlocked without the approval password");
                assert!(
                    !w.locked(&target, &w.snapshot()),
                    "an unlocked ID is still locked"
                );
                *w.online_unlocks
                    .entry((target.as_str().to_owned(), day))
                    .or_default() += 1;
            }
            r.is_ok()
        }
        Op::BranchRevoke(target) => {
            let auth = BranchAuthorization::new("B-001", "REQ-1");
            let r = w.s.bank.branch_revoke(&auth, &id(*target));
            if r.is_ok() {
                let old = World::token_of(&id(*target), &before)
                    .expect("the branch revoked the token of a user without one");
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
                assert_eq!(list.total, 4);
            }
            r.is_ok()
        }
        Op::BranchUnlock(target) => {
            let target = id(*target);
            let auth = BranchAuthorization::new("B-002", "REQ-2");
            let r = w.s.bank.branch_unlock(&auth, &target);
            // The branch unlocks any ID it knows, administrators included.
            assert_eq!(r.is_ok(), before.users.contains_key(target.as_str()));
            if r.is_ok() {
                assert!(!w.locked(&target, &w.snapshot()), "still locked");
            }
            r.is_ok()
        }
        Op::BranchRegister(target, serial_choice, code_choice) => {
            let target = id(*target);
            let text = w.serial(serial_choice, &before);
            let parsed = SerialNumber::parse(&text).ok();
            let typed = w.code_for(parsed, code_choice);
            let code_ok = parsed.is_some_and(|s| {
                before.tokens.get(&s) == Some(&TokenStatus::Unassigned)
                    && w.would_verify(&s, &typed, true)
            });
            let auth = BranchAuthorization::new("B-003", "REQ-3");
            let r = w.s.bank.branch_register(&auth, &target, &text, &typed);
            if let Ok(serial) = &r {
                assert!(code_ok, "the branch registered without a verifying code");
                assert_eq!(Some(*serial), parsed);
                assert!(World::token_of(&target, &before).is_none());
                assert!(!w.locked(&target, &before), "registered for a locked ID");
            }
            r.is_ok()
        }
    };
    if print_ops() {
        eprintln!("{op:?} -> {}", if ok { "ok" } else { "refused" });
    }
    let after = w.snapshot();
    check_invariants(w, &before, &after, op, ok);
}

/// `FUZZ_PRINT=1` prints each input's operations, then each one's outcome
/// as it runs (to read a crash file).
fn print_ops() -> bool {
    static PRINT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PRINT.get_or_init(|| std::env::var_os("FUZZ_PRINT").is_some())
}

fuzz_target!(|ops: Vec<Op>| {
    if print_ops() {
        eprintln!("{:#?}", ops.iter().take(MAX_OPS).collect::<Vec<_>>());
    }
    let store = Arc::new(MemoryStore::new());
    let s = Scenario::setup(Arc::clone(&store), START, HashCost::TESTING).expect("the seed's bank");
    let branch = BranchAuthorization::new("B-000", "fuzz-setup");
    let admin2 = id(Who::Admin2);
    s.bank
        .enroll_user(&branch, &admin2, "しんきん花子", Authority::Administrator)
        .expect("W0003 enrolled");
    s.bank
        .set_password(
            &branch,
            &admin2,
            PasswordKind::Approval,
            &Password::new(ADMIN2_APPROVAL_PASSWORD),
        )
        .expect("W0003's approval password");
    let serials = s.tokens.keys().copied().collect();
    let mut w = World {
        s,
        store,
        serials,
        last_code: BTreeMap::new(),
        slot: Slot::Empty,
        tickets: Vec::new(),
        ever_revoked: BTreeSet::new(),
        online_unlocks: BTreeMap::new(),
    };
    for op in ops.iter().take(MAX_OPS) {
        run(&mut w, op);
    }
});
