//! The exchange as a chain of types, each named for what it waits for.
//! A transition consumes the state and returns the next one, or a
//! [`Retry`] holding the refusal (and the same state back when the user may
//! try again), so no order of calls can skip the current token, the new
//! token or the approval password.
//!
//! ```text
//! Bank::begin_exchange ──> ExpectCurrentCode ──submit_code──> ExpectNewToken ──confirm──> Exchanged
//!                               │                                   ^
//!                               └─no_current_token──> Refusal::BranchRequired
//! Bank::begin_registration ─────────────────────────────────────────┘
//! ```
//!
//! Between web requests each state becomes a sealed [`Ticket`] and comes
//! back through [`Bank::resume`]: bound to the administrator and the
//! user, expiring `Policy::session_ttl` after selection, usable once.

use core::fmt;

use otp_provision::SerialNumber;
use serde::{Deserialize, Serialize};

use crate::bank::{ApprovalVerified, CodeAccepted, Fail, Source};
use crate::{
    Action, AuditEntry, Bank, Credentials, CurrentTokenVerified, Password, Refusal, Store, Switch,
    UserId, Which,
};

mod software;
mod ticket;
pub use software::{DEFAULT_ISSUER, ExpectFirstCode, SOFTWARE_SERIAL_PREFIX};
use ticket::Stage;
pub use ticket::Ticket;

/// What a refused step gives back: why, and the state to try again from
/// when trying again is allowed (a wrong code or password before the ID
/// locks). `resume` is `None` when the flow is over.
#[derive(Debug)]
pub struct Retry<S> {
    /// Why the step was refused.
    pub refusal: Refusal,
    /// The state to try again from, if the flow may continue.
    pub resume: Option<S>,
}

impl<S> fmt::Display for Retry<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.refusal, f)
    }
}

impl<S: fmt::Debug> core::error::Error for Retry<S> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.refusal)
    }
}

impl<S> From<Retry<S>> for Refusal {
    fn from(r: Retry<S>) -> Self {
        r.refusal
    }
}

/// Which flow a session belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flow {
    /// 交換: the user has a token and gets a new one.
    Exchange,
    /// 新規登録: the user has no token.
    Registration,
}

/// What every state carries: who, for whom, since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    flow: Flow,
    operator: UserId,
    target: UserId,
    old_serial: Option<SerialNumber>,
    /// The generation of the user's binding at selection: the flow goes on
    /// only while it is the same (no change, not even one undone).
    binding: u64,
    started_at: u64,
}

/// Waiting for a code from the user's **current** token (screen 4).
#[derive(Debug)]
pub struct ExpectCurrentCode {
    session: Session,
}

/// Waiting for the new token's serial and code and the approval password
/// (screen 5). Holds the proof that the current token was verified (for an
/// exchange) or that the user had none (for a registration).
#[derive(Debug)]
pub struct ExpectNewToken {
    session: Session,
    current: Option<CurrentTokenVerified>,
}

/// Done (screen 6): "The registered token is valid from now."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanged {
    /// Whose token changed.
    pub user: UserId,
    /// The revoked token (`None` for a first registration).
    pub old_serial: Option<SerialNumber>,
    /// The token valid from now.
    pub new_serial: SerialNumber,
    /// When the switch took effect.
    pub at: u64,
}

/// A state parked between web requests.
#[derive(Debug)]
pub enum Pending {
    /// Screen 4.
    ExpectCurrentCode(ExpectCurrentCode),
    /// Screen 5.
    ExpectNewToken(ExpectNewToken),
}

impl<S: Store, C: Credentials> Bank<S, C> {
    /// Screens 1–3: an administrator selects another user with a registered
    /// token for exchange.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::OwnId`], [`Refusal::UnknownUser`],
    /// [`Refusal::UserLocked`], [`Refusal::NoTokenRegistered`].
    pub fn begin_exchange(
        &self,
        operator: &UserId,
        target: &UserId,
    ) -> Result<ExpectCurrentCode, Refusal> {
        let session = self.select(operator, target, Flow::Exchange)?;
        Ok(ExpectCurrentCode { session })
    }

    /// Screens 1–3 for a user with no token: new registration, which goes
    /// straight to the new token's details.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::OwnId`], [`Refusal::UnknownUser`],
    /// [`Refusal::UserLocked`], [`Refusal::AlreadyRegistered`].
    pub fn begin_registration(
        &self,
        operator: &UserId,
        target: &UserId,
    ) -> Result<ExpectNewToken, Refusal> {
        let session = self.select(operator, target, Flow::Registration)?;
        Ok(ExpectNewToken {
            session,
            current: None,
        })
    }

    /// Screens 1–3: an unlocked administrator selects an unlocked user
    /// whose registration matches the flow; audited either way.
    fn select(&self, operator: &UserId, target: &UserId, flow: Flow) -> Result<Session, Refusal> {
        let now = self.now();
        let audit = AuditEntry::new(now, operator.as_str(), Some(target), Action::Select);
        let result = (|| {
            self.administrator(operator)?;
            if operator == target {
                return Err(Refusal::OwnId);
            }
            let user = self.user_record(target)?;
            if user.lock.locked {
                return Err(Refusal::UserLocked);
            }
            match (flow, user.token) {
                (Flow::Exchange, None) => return Err(Refusal::NoTokenRegistered),
                (Flow::Registration, Some(_)) => return Err(Refusal::AlreadyRegistered),
                _ => {}
            }
            Ok(Session {
                flow,
                operator: operator.clone(),
                target: target.clone(),
                old_serial: user.token,
                binding: user.lock.binding,
                started_at: now,
            })
        })();
        self.finish(&audit, result.map_err(Fail::from))
    }

    /// Takes back a state parked in a [`Ticket`]. The ticket must be
    /// untampered, made by this bank (or one sharing its session key),
    /// not expired, presented by the same administrator, and not used
    /// before.
    ///
    /// # Errors
    ///
    /// [`Refusal::SessionInvalid`], [`Refusal::SessionExpired`],
    /// [`Refusal::SessionUsed`]; [`Refusal::OperatorLocked`] or
    /// [`Refusal::NotAdministrator`] when the operator may no longer act.
    pub fn resume(&self, operator: &UserId, ticket: &Ticket) -> Result<Pending, Refusal> {
        let body = self.open_ticket(operator, ticket, |stage| {
            !matches!(stage, Stage::ExpectFirstCode { .. })
        })?;
        Ok(match body.stage {
            Stage::ExpectCurrentCode => Pending::ExpectCurrentCode(ExpectCurrentCode {
                session: body.session,
            }),
            Stage::ExpectNewToken { current } => Pending::ExpectNewToken(ExpectNewToken {
                // The proof comes back only from a ticket this bank sealed
                // after verifying it.
                current: current.map(|(serial, position)| CurrentTokenVerified {
                    serial,
                    position,
                    login: None,
                }),
                session: body.session,
            }),
            // Refused by `open_ticket` (a software token enrollment comes
            // back through `resume_software_token`).
            Stage::ExpectFirstCode { .. } => return Err(Refusal::SessionInvalid),
        })
    }

    /// Opens a ticket of a stage `wanted` accepts (another is
    /// [`Refusal::SessionInvalid`], and stays unused), presented by its
    /// administrator, who may still act, before it expires; marks it used.
    fn open_ticket(
        &self,
        operator: &UserId,
        ticket: &Ticket,
        wanted: impl Fn(&Stage) -> bool,
    ) -> Result<ticket::TicketBody, Refusal> {
        let body = ticket.open(&self.session_key)?;
        if body.session.operator != *operator || !wanted(&body.stage) {
            return Err(Refusal::SessionInvalid);
        }
        // A locked (or demoted) administrator gets nothing back, not even a
        // state that the next step would refuse.
        self.administrator(operator)?;
        let now = self.now();
        let expires_at = body
            .session
            .started_at
            .saturating_add(self.policy.session_ttl);
        if now > expires_at {
            return Err(Refusal::SessionExpired);
        }
        if !self.store.consume_nonce(&body.nonce, expires_at, now)? {
            return Err(Refusal::SessionUsed);
        }
        Ok(body)
    }

    fn check_session(&self, session: &Session) -> Result<u64, Refusal> {
        let now = self.now();
        if now > session.started_at.saturating_add(self.policy.session_ttl) {
            return Err(Refusal::SessionExpired);
        }
        Ok(now)
    }
}

impl ExpectCurrentCode {
    /// The administrator and the user this exchange is for.
    #[must_use]
    pub fn parties(&self) -> (&UserId, &UserId) {
        (&self.session.operator, &self.session.target)
    }

    /// The serial of the token being replaced.
    #[must_use]
    pub const fn old_serial(&self) -> Option<SerialNumber> {
        self.session.old_serial
    }

    /// Screen 4: a code from the user's current token, verified with replay
    /// refusal. A wrong code counts toward the user's ID lock.
    ///
    /// # Errors
    ///
    /// A [`Retry`] with [`Refusal::Code`], [`Refusal::WrongCode`] or
    /// [`Refusal::Replayed`] (try again), or [`Refusal::UserLocked`],
    /// [`Refusal::OperatorLocked`], [`Refusal::NotAdministrator`],
    /// [`Refusal::SessionExpired`], [`Refusal::Conflict`] (start again).
    pub fn submit_code<S: Store, C: Credentials>(
        self,
        bank: &Bank<S, C>,
        typed: &str,
    ) -> Result<ExpectNewToken, Retry<Self>> {
        let s = &self.session;
        let audit = AuditEntry::new(
            bank.now(),
            s.operator.as_str(),
            Some(&s.target),
            Action::CurrentCode,
        )
        .with_old(s.old_serial.as_ref());
        let result = (|| {
            bank.check_session(s)?;
            // The administrator must still be one, and not locked: a locked
            // ID refuses everything, including a session it began earlier.
            bank.administrator(&s.operator)?;
            let user = bank.user_record(&s.target)?;
            if user.lock.locked {
                return Err(Refusal::UserLocked.into());
            }
            let serial = match (user.token, s.old_serial) {
                (Some(now), Some(then)) if now == then && user.lock.binding == s.binding => now,
                _ => return Err(Refusal::Conflict.into()),
            };
            bank.check_code(
                &s.target,
                Which::Current,
                Source::Bound(serial),
                typed,
                &audit,
                Some(&s.operator),
            )
        })();
        match bank.finish(&audit, result) {
            Ok(CodeAccepted {
                serial, position, ..
            }) => Ok(ExpectNewToken {
                session: self.session,
                current: Some(CurrentTokenVerified {
                    serial,
                    position,
                    login: None,
                }),
            }),
            Err(refusal) => Err(retry(refusal, self)),
        }
    }

    /// The user has no current token (lost, broken, battery dead): the
    /// exchange cannot be done online. Returns [`Refusal::BranchRequired`],
    /// whose message tells the user to apply in writing at the branch.
    pub fn no_current_token<S: Store, C: Credentials>(self, bank: &Bank<S, C>) -> Refusal {
        let s = &self.session;
        let audit = AuditEntry::new(
            bank.now(),
            s.operator.as_str(),
            Some(&s.target),
            Action::NoCurrentToken,
        )
        .with_old(s.old_serial.as_ref())
        .refused(Refusal::BranchRequired.reason_code());
        match bank.store.append_audit(&audit, &bank.audit_key) {
            Ok(_) => Refusal::BranchRequired,
            Err(e) => e.into(),
        }
    }

    /// Parks this state in a sealed ticket for the next web request,
    /// consuming it: the ticket, usable once through [`Bank::resume`], is
    /// the only way on.
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] if the system random number generator fails.
    pub fn into_ticket<S: Store, C: Credentials>(
        self,
        bank: &Bank<S, C>,
    ) -> Result<Ticket, Refusal> {
        Ticket::seal(&bank.session_key, self.session, Stage::ExpectCurrentCode)
    }
}

impl ExpectNewToken {
    /// The administrator and the user this exchange is for.
    #[must_use]
    pub fn parties(&self) -> (&UserId, &UserId) {
        (&self.session.operator, &self.session.target)
    }

    /// Exchange or registration.
    #[must_use]
    pub const fn flow(&self) -> Flow {
        self.session.flow
    }

    /// Screen 5 and "Confirm": the new token's serial (12 half-width
    /// alphanumerics, in the inventory, unassigned), a code from it
    /// (verified with the wider first-use window) and the operator's
    /// approval password (or per-transfer confirmation password when no
    /// approval password is registered). When all three hold, the old
    /// token is revoked and the new one bound in one atomic switch: the new
    /// token is valid from that instant, the old one no longer, and the
    /// user's usage mode is [`crate::UsageMode::HardwareToken`] ("the usage
    /// mode and token have been registered").
    ///
    /// # Errors
    ///
    /// A [`Retry`] with [`Refusal::Serial`], [`Refusal::UnknownSerial`],
    /// [`Refusal::SerialAssigned`], [`Refusal::SerialRevoked`],
    /// [`Refusal::Code`], [`Refusal::WrongCode`], [`Refusal::WrongPassword`]
    /// (try again), or [`Refusal::UserLocked`], [`Refusal::OperatorLocked`],
    /// [`Refusal::NoPasswordRegistered`], [`Refusal::SessionExpired`],
    /// [`Refusal::Conflict`] (start again).
    #[allow(
        clippy::result_large_err,
        reason = "the state comes back by value so the user can correct and retry; 136 bytes"
    )]
    pub fn confirm<S: Store, C: Credentials>(
        self,
        bank: &Bank<S, C>,
        serial: &str,
        code: &str,
        password: &Password,
    ) -> Result<Exchanged, Retry<Self>> {
        let s = &self.session;
        let mut audit = AuditEntry::new(
            bank.now(),
            s.operator.as_str(),
            Some(&s.target),
            Action::NewToken,
        )
        .with_old(s.old_serial.as_ref());
        let checked = (|| {
            bank.check_session(s)?;
            bank.administrator(&s.operator)?;
            let user = bank.user_record(&s.target)?;
            if user.lock.locked {
                return Err(Refusal::UserLocked.into());
            }
            if user.token != s.old_serial || user.lock.binding != s.binding {
                return Err(Refusal::Conflict.into());
            }
            let serial = SerialNumber::parse(serial).map_err(Refusal::Serial)?;
            audit = audit.clone().with_new(Some(&serial));
            let new = bank.check_code(
                &s.target,
                Which::New,
                Source::Stock(serial),
                code,
                &audit,
                Some(&s.operator),
            )?;
            let approval = bank.check_password(&s.operator, password, &audit)?;
            Ok((new, approval))
        })();
        let (new, approval) = match bank.finish(&audit, checked) {
            Ok(v) => v,
            Err(refusal) => return Err(retry(refusal, self)),
        };
        commit(bank, self.session, self.current, new, approval).map_err(|refusal| Retry {
            refusal,
            resume: None,
        })
    }

    /// Parks this state in a sealed ticket for the next web request,
    /// consuming it (see [`ExpectCurrentCode::into_ticket`]).
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] if the system random number generator fails.
    pub fn into_ticket<S: Store, C: Credentials>(
        self,
        bank: &Bank<S, C>,
    ) -> Result<Ticket, Refusal> {
        let current = self.current.map(|c| (c.serial, c.position));
        Ticket::seal(
            &bank.session_key,
            self.session,
            Stage::ExpectNewToken { current },
        )
    }
}

/// The switch: requires the three proofs (the current token's, or the
/// registration flow's knowledge that there was none; the new token's;
/// the approval), and both IDs unlocked at commit.
fn commit<S: Store, C: Credentials>(
    bank: &Bank<S, C>,
    session: Session,
    current: Option<CurrentTokenVerified>,
    new: CodeAccepted,
    _approval: ApprovalVerified,
) -> Result<Exchanged, Refusal> {
    let revoke = match (session.flow, &current) {
        (Flow::Exchange, Some(proof)) if Some(proof.serial) == session.old_serial => {
            Some(proof.serial)
        }
        (Flow::Registration, None) if session.old_serial.is_none() => None,
        // A state that cannot be built by the public API.
        _ => return Err(Refusal::SessionInvalid),
    };
    let at = bank.now();
    let action = match session.flow {
        Flow::Exchange => Action::Exchange,
        Flow::Registration => Action::Register,
    };
    let audit = AuditEntry::new(at, session.operator.as_str(), Some(&session.target), action)
        .with_old(session.old_serial.as_ref())
        .with_new(Some(&new.serial));
    let binding = Some(session.binding);
    let result = bank.switch_checked(
        Some(&session.operator),
        &session.target,
        true,
        binding,
        |locks| {
            Switch::new(
                session.target.clone(),
                session.old_serial,
                revoke,
                Some((new.serial, new.state)),
                locks,
                audit.clone(),
            )
            // "The usage mode and token have been registered": a hardware
            // token registered or exchanged sets the mode in the same
            // switch.
            .with_usage_mode(crate::UsageMode::HardwareToken)
        },
    );
    bank.finish(&audit, result)?;
    Ok(Exchanged {
        user: session.target,
        old_serial: session.old_serial,
        new_serial: new.serial,
        at,
    })
}

/// Whether a refused step may be tried again from the same state.
fn retry<S>(refusal: Refusal, state: S) -> Retry<S> {
    let again = matches!(
        refusal,
        Refusal::Code(..)
            | Refusal::WrongCode(_)
            | Refusal::Replayed(_)
            | Refusal::Serial(_)
            | Refusal::UnknownSerial
            | Refusal::SerialAssigned
            | Refusal::SerialRevoked
            | Refusal::WrongPassword
    );
    Retry {
        refusal,
        resume: again.then_some(state),
    }
}
