//! The manual's token exchange for W0002 as a script: every screen a person
//! goes through, with the refusals they meet on the way, on the scenario's
//! simulated clock. Each [`Step`] is data — the screen, what was done and
//! typed, when, what the bank answered and what the manual says it must
//! answer — so that `otp demo` can print the walk and a test can assert
//! `step.outcome == step.expected` for every step.
//!
//! ```
//! use otp_exchange::scenario::{Scenario, script};
//! use otp_exchange::{HashCost, MemoryStore};
//!
//! let mut s = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING)?;
//! let walk = script::walk(&mut s)?;
//! assert!(walk.finished);
//! assert!(walk.steps.iter().all(script::Step::behaved));
//! # Ok::<(), otp_exchange::scenario::ScenarioError>(())
//! ```

use otp_provision::{Clock as _, SerialNumber};

use super::{ADMIN_APPROVAL_PASSWORD, Scenario, ScenarioError};
use crate::{
    AuditResult, Authority, ExpectCurrentCode, ExpectNewToken, Password, Refusal, Store, UserId,
    UserList, UserRow, Which,
};

mod step;
pub use step::{Accepted, Act, Approval, Screen, Step, Walk};

/// 2020-09-30 11:00:00 JST: the administrator's previous login, which the
/// page header shows on the day of the exchange.
pub const PREVIOUS_LOGIN: u64 = 1_601_431_200;

/// 2020-10-01 11:00:00 JST: the day of the exchange.
pub const EXCHANGE_DAY: u64 = 1_601_517_600;

/// Where [`Scenario::setup`] starts for the walk: the set-up takes 60
/// simulated seconds (it registers W0001's and W0002's tokens 30 s apart),
/// so it ends at [`PREVIOUS_LOGIN`].
pub const START: u64 = PREVIOUS_LOGIN - 60;

/// The manual's name for all three users.
pub const SEED_NAME: &str = "しんきん太郎";

/// How long the manual says a new password takes to appear on the token
/// (screen 4: "a new one takes 15–30 s to appear"), in seconds.
pub const NEXT_CODE_SECONDS: core::ops::RangeInclusive<u64> = 15..=30;

struct Walker<'a, S: Store> {
    s: &'a mut Scenario<S>,
    steps: Vec<Step>,
}

impl<S: Store> Walker<'_, S> {
    /// The walk so far, stopped early.
    fn stopped(self) -> Walk {
        Walk {
            steps: self.steps,
            finished: false,
        }
    }

    /// Records a step; whether it behaved.
    fn step(
        &mut self,
        screen: Screen,
        act: Act,
        outcome: Result<Accepted, Refusal>,
        expected: Result<Accepted, Refusal>,
    ) -> bool {
        let step = Step {
            screen,
            at: self.s.clock.now(),
            act,
            outcome,
            expected,
        };
        let behaved = step.behaved();
        self.steps.push(step);
        behaved
    }

    /// A step of a typestate flow: records it and hands back the state the
    /// flow goes on from (the next one when accepted, the same one to try
    /// again when refused), if the step behaved.
    fn flow<T, R>(
        &mut self,
        screen: Screen,
        act: Act,
        result: Result<(T, Accepted), crate::Retry<R>>,
        expected: Result<Accepted, Refusal>,
    ) -> Option<Result<T, R>> {
        let (outcome, next) = match result {
            Ok((next, accepted)) => (Ok(accepted), Some(Ok(next))),
            Err(retry) => (Err(retry.refusal), retry.resume.map(Err)),
        };
        if self.step(screen, act, outcome, expected) {
            next
        } else {
            None
        }
    }

    fn sign_in(
        &mut self,
        user: &UserId,
        token: SerialNumber,
        expected: Result<Accepted, Refusal>,
    ) -> Result<bool, ScenarioError> {
        let code = self.s.press(&token)?;
        let outcome = self.s.bank.login(user, &code).map(|_| Accepted::SignedIn);
        let act = Act::SignIn {
            user: user.clone(),
            token,
            code,
        };
        Ok(self.step(Screen::SignIn, act, outcome, expected))
    }

    fn list(&mut self, expected: UserList) -> bool {
        let admin = self.s.admin.clone();
        let outcome = self.s.bank.user_list(&admin, 0, 5).map(Accepted::Listed);
        self.step(
            Screen::Select,
            Act::ListUsers,
            outcome,
            Ok(Accepted::Listed(expected)),
        )
    }

    fn token(&self, user: &UserId) -> Result<SerialNumber, ScenarioError> {
        self.s
            .token_of(user)?
            .ok_or_else(|| ScenarioError::Token(format!("{user} has no registered token")))
    }
}

/// The selection list the manual shows: W0001, W0002 and W0005, all named
/// しんきん太郎, with the tokens given.
fn seed_list(s: &Scenario<impl Store>, admin: SerialNumber, general: SerialNumber) -> UserList {
    let row = |id: &UserId, authority, token: Option<SerialNumber>| UserRow {
        id: id.clone(),
        name: SEED_NAME.to_owned(),
        authority,
        serial: token.map(|t| t.masked()),
        registered: token.is_some(),
        locked: false,
        usage_mode: crate::UsageMode::HardwareToken,
    };
    UserList {
        rows: vec![
            row(&s.admin, Authority::Administrator, Some(admin)),
            row(&s.general, Authority::General, Some(general)),
            row(&s.without_token, Authority::General, None),
        ],
        first: 1,
        last: 3,
        total: 3,
    }
}

/// Walks the manual's exchange of W0002's token on `s`, a scenario just set
/// up at [`START`], and returns the walk, its steps in order:
///
/// 1. the administrator's sign-in on the previous day ([`PREVIOUS_LOGIN`]);
/// 2. W0002 signs in with the token in use now (11:00:05 on
///    [`EXCHANGE_DAY`]), then the administrator (11:00:06);
/// 3. screen 1; screen 2: the list, W0005 (no token) and W0001 itself
///    refused; W0002 selected; screen 3;
/// 4. screen 4: the sign-in code typed again is refused as a replay, the
///    person waits for the next code and types it;
/// 5. screen 5: a mistyped approval password, then W0001's serial typed by
///    mistake, both refused; then the right serial, code and password;
/// 6. screen 6; 30 s later the old token's sign-in is refused and the new
///    one's accepted; the list again, and W0002's usage history.
///
/// The walk stops early ([`Walk::finished`] is `false`) after the first
/// step that did not behave as the manual says (the steps after it start
/// from its result), or when the bank ended a flow where the manual lets
/// the person try again.
///
/// # Errors
///
/// [`ScenarioError::StartedTooLate`] when the scenario's clock is past
/// [`PREVIOUS_LOGIN`]; [`ScenarioError::Token`] when a virtual token cannot
/// show a code; [`ScenarioError::Store`] when the store fails outside a
/// step.
#[allow(
    clippy::too_many_lines,
    reason = "the walk reads top to bottom like the manual's pages"
)]
pub fn walk<S: Store>(s: &mut Scenario<S>) -> Result<Walk, ScenarioError> {
    let now = s.clock.now();
    if now > PREVIOUS_LOGIN {
        return Err(ScenarioError::StartedTooLate { now });
    }
    let (admin, user, w0005) = (s.admin.clone(), s.general.clone(), s.without_token.clone());
    let mut w = Walker {
        s,
        steps: Vec::new(),
    };
    let admin_token = w.token(&admin)?;
    let old = w.token(&user)?;

    // The previous day's sign-in, so that the page header can show it.
    w.s.clock.set(PREVIOUS_LOGIN + 5);
    if !w.sign_in(&admin, admin_token, Ok(Accepted::SignedIn))? {
        return Ok(w.stopped());
    }
    // The exchange day: W0002 signs in with the token in use now, then the
    // administrator.
    w.s.clock.set(EXCHANGE_DAY + 5);
    if !w.sign_in(&user, old, Ok(Accepted::SignedIn))? {
        return Ok(w.stopped());
    }
    w.s.clock.advance(1);
    if !w.sign_in(&admin, admin_token, Ok(Accepted::SignedIn))? {
        return Ok(w.stopped());
    }

    // Screen 1.
    w.s.clock.advance(1);
    w.step(
        Screen::AdminFunctions,
        Act::Open,
        Ok(Accepted::Shown),
        Ok(Accepted::Shown),
    );

    // Screen 2: the list; W0005 has no token to exchange, and no
    // administrator selects their own ID.
    w.s.clock.advance(1);
    let list = seed_list(w.s, admin_token, old);
    if !w.list(list) {
        return Ok(w.stopped());
    }
    for (target, refusal) in [
        (&w0005, Refusal::NoTokenRegistered),
        (&admin, Refusal::OwnId),
    ] {
        let outcome =
            w.s.bank
                .begin_exchange(&admin, target)
                .map(|_| Accepted::Selected);
        let act = Act::SelectForExchange {
            user: target.clone(),
        };
        if !w.step(Screen::Select, act, outcome, Err(refusal)) {
            return Ok(w.stopped());
        }
    }

    // Screen 3: W0002 selected.
    w.s.clock.advance(1);
    let begun =
        w.s.bank
            .begin_exchange(&admin, &user)
            .map(|step4| (step4, Accepted::Selected))
            .map_err(|refusal| crate::Retry {
                refusal,
                resume: None::<ExpectCurrentCode>,
            });
    let act = Act::SelectForExchange { user: user.clone() };
    let Some(Ok(step4)) = w.flow(Screen::Select, act, begun, Ok(Accepted::Selected)) else {
        return Ok(w.stopped());
    };
    let info =
        w.s.bank
            .records()
            .user(&user)?
            .map_or(Ok(Accepted::Shown), |r| {
                Ok(Accepted::TokenInfo {
                    user: r.id,
                    name: r.name,
                    authority: r.authority,
                    token: r.token,
                })
            });
    let expected = Accepted::TokenInfo {
        user: user.clone(),
        name: SEED_NAME.to_owned(),
        authority: Authority::General,
        token: Some(old),
    };
    if !w.step(Screen::TokenInfo, Act::Open, info, Ok(expected)) {
        return Ok(w.stopped());
    }

    // Screen 4: the sign-in code, still on the display, is a replay.
    w.s.clock.advance(1);
    let code = w.s.press(&old)?;
    let submitted = step4
        .submit_code(&w.s.bank, &code)
        .map(|step5| (step5, Accepted::CurrentTokenVerified));
    let act = Act::TypeCurrentCode { token: old, code };
    let expected = Err(Refusal::Replayed(Which::Current));
    let Some(Err(step4)) = w.flow(Screen::CurrentCode, act, submitted, expected) else {
        return Ok(w.stopped());
    };
    // The person waits for the next code on the simulated clock.
    let now = w.s.clock.now();
    let next = w
        .s
        .tokens
        .get(&old)
        .and_then(|t| t.next_code_at(now))
        .ok_or_else(|| ScenarioError::Token(format!("{} shows no further code", old.masked())))?;
    let waited = next.saturating_sub(now);
    w.s.clock.set(next);
    let within_manual = NEXT_CODE_SECONDS.contains(&waited);
    w.step(
        Screen::CurrentCode,
        Act::WaitForNextCode { token: old, waited },
        Ok(Accepted::NextCode { within_manual }),
        Ok(Accepted::NextCode {
            within_manual: true,
        }),
    );
    if !within_manual {
        return Ok(w.stopped());
    }
    let code = w.s.press(&old)?;
    let submitted = step4
        .submit_code(&w.s.bank, &code)
        .map(|step5| (step5, Accepted::CurrentTokenVerified));
    let act = Act::TypeCurrentCode { token: old, code };
    let expected = Ok(Accepted::CurrentTokenVerified);
    let Some(Ok(mut step5)) = w.flow(Screen::CurrentCode, act, submitted, expected) else {
        return Ok(w.stopped());
    };

    // Screen 5: a mistyped approval password, then W0001's serial typed by
    // mistake, then the new token with the right password.
    w.s.clock.advance(5);
    let new =
        w.s.stock()
            .first()
            .copied()
            .ok_or_else(|| ScenarioError::Token("the bank has no token in stock".into()))?;
    let tries = [
        (new, Approval::Mistyped, Err(Refusal::WrongPassword)),
        (admin_token, Approval::Right, Err(Refusal::SerialAssigned)),
        (
            new,
            Approval::Right,
            Ok(Accepted::Exchanged {
                old: Some(old),
                new,
            }),
        ),
    ];
    for (serial, approval, expected) in tries {
        let code = w.s.press(&serial)?;
        let password = Password::new(match approval {
            Approval::Mistyped => "approve-2002",
            Approval::Right => ADMIN_APPROVAL_PASSWORD,
        });
        let confirmed = step5
            .confirm(&w.s.bank, serial.as_str(), &code, &password)
            .map(|done| {
                let accepted = Accepted::Exchanged {
                    old: done.old_serial,
                    new: done.new_serial,
                };
                ((), accepted)
            });
        let act = Act::Confirm {
            serial,
            code,
            approval,
        };
        match w.flow::<(), ExpectNewToken>(Screen::NewToken, act, confirmed, expected) {
            Some(Err(again)) => step5 = again,
            Some(Ok(())) => break,
            None => return Ok(w.stopped()),
        }
    }

    // Screen 6.
    w.step(
        Screen::Done,
        Act::Open,
        Ok(Accepted::Shown),
        Ok(Accepted::Shown),
    );

    // "Valid from now": the old token no longer works, the new one does.
    w.s.clock.advance(30);
    if !w.sign_in(&user, old, Err(Refusal::LoginFailed))? {
        return Ok(w.stopped());
    }
    if !w.sign_in(&user, new, Ok(Accepted::SignedIn))? {
        return Ok(w.stopped());
    }

    // The list and the usage history after the exchange.
    let list = seed_list(w.s, admin_token, new);
    if !w.list(list) {
        return Ok(w.stopped());
    }
    // Every refusal W0002 met on the walk (screens 4 and 5 are about
    // W0002's token).
    let refused = w
        .steps
        .iter()
        .filter(|step| match &step.act {
            Act::SignIn { user: who, .. } | Act::SelectForExchange { user: who } => *who == user,
            Act::TypeCurrentCode { .. } | Act::Confirm { .. } => true,
            _ => false,
        })
        .filter(|step| step.expected.is_err())
        .count();
    let trail = w.s.bank.audit_trail(&admin, &user, 0, u64::MAX);
    let history = trail.map(|trail| Accepted::History {
        records: trail.len(),
        refused: trail
            .iter()
            .filter(|r| r.entry.result == AuditResult::Refused)
            .count(),
    });
    let records = match &history {
        Ok(Accepted::History { records, .. }) => *records,
        _ => 0,
    };
    w.step(
        Screen::UsageHistory,
        Act::ReadHistory { user },
        history,
        Ok(Accepted::History { records, refused }),
    );
    Ok(Walk {
        steps: w.steps,
        finished: true,
    })
}
