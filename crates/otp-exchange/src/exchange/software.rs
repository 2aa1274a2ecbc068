//! Software token enrollment (ソフトウェアトークン登録): an administrator
//! mints a token for another user's authenticator app, the app reads its
//! `otpauth://` URI (shown once, as a QR code), and the app's first code
//! confirms it. The switch that binds it also revokes the user's old token
//! and sets the usage mode to [`UsageMode::SoftwareToken`].
//!
//! ```text
//! Bank::begin_software_token ──> ExpectFirstCode ──confirm──> Exchanged
//!    (approval password;            │  ^    (first code,
//!     token minted, sealed,         │  │     first-use window)
//!     reserved for the user)        └──┘ wrong code: Retry
//! ```
//!
//! Between web requests the state is a [`Ticket`] that carries the minted
//! token's serial only; the secret is in the inventory, sealed like every
//! token secret, with the status [`TokenStatus::Reserved`] for the user.
//! An enrollment abandoned or expired leaves that token reserved: it is
//! never registered to anyone (screen 5 refuses it as assigned, and no
//! other enrollment knows its serial).

use core::fmt;

use otp_core::{Algorithm, Digits, Mode, Secret, TimeStep};
use otp_provision::{Profile, SeedRecord, SerialNumber};
use zeroize::Zeroizing;

use super::ticket::Stage;
use super::{Exchanged, Flow, Retry, Session, Ticket, retry};
use crate::bank::{Fail, Source};
use crate::{
    Action, AuditEntry, Bank, Credentials, InternalError, Password, Refusal, Store, StoreError,
    Switch, TokenEntry, TokenStatus, UsageMode, UserId, Which,
};

/// The first two characters of every software token's serial.
pub const SOFTWARE_SERIAL_PREFIX: &str = "SW";

/// The issuer an `otpauth://` URI names when the bank has no name
/// ([`Bank::with_bank_name`]).
pub const DEFAULT_ISSUER: &str = "OTP Bank";

/// The bytes of a software token's secret (HMAC-SHA-1's block of 160
/// bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;

/// How many fresh serials are tried before minting gives up (each clash
/// with a serial the bank has already is one chance in 10^10 per token
/// held).
const MINT_ATTEMPTS: usize = 8;

/// Waiting for the first code of a software token minted for the user:
/// the app has (or is about to have) its secret from the `otpauth://` URI,
/// shown once. Holds the minted token's serial; the token itself is in the
/// inventory, reserved for the user.
pub struct ExpectFirstCode {
    session: Session,
    serial: SerialNumber,
    uri: Option<Zeroizing<String>>,
}

impl fmt::Debug for ExpectFirstCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URI holds the secret: never printed.
        f.debug_struct("ExpectFirstCode")
            .field("session", &self.session)
            .field("serial", &self.serial.masked())
            .field("uri", &self.uri.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

impl<S: Store, C: Credentials> Bank<S, C> {
    /// ソフトウェアトークン登録, step 1: an administrator, with their
    /// approval password (or per-transfer confirmation password, checked
    /// and counted as in every administrator's act), mints a software
    /// token for another user: TOTP, HMAC-SHA-1, 6 digits, 30-second steps
    /// from T0 = 0, a 20-byte secret from the operating system's random
    /// number generator, and the serial `SW` followed by 10 random
    /// decimal digits (a 12-character [`SerialNumber`], told apart from the
    /// vendors' hardware serials by its prefix only in people's eyes: the
    /// status, not the serial, decides what it may be used for).
    ///
    /// The token is added to the inventory in one transaction with its
    /// audit record ([`Action::SoftwareToken`]), its secret sealed like
    /// every token secret and its status [`TokenStatus::Reserved`] for the
    /// user: valid for nothing until the first code confirms it, and never
    /// registered to anyone else. The user's current token (if any) stays
    /// valid until then.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::OwnId`], [`Refusal::UnknownUser`],
    /// [`Refusal::UserLocked`], [`Refusal::WrongPassword`],
    /// [`Refusal::NoPasswordRegistered`], [`Refusal::Internal`] (the
    /// random number generator or the store failed).
    pub fn begin_software_token(
        &self,
        operator: &UserId,
        target: &UserId,
        password: &Password,
    ) -> Result<ExpectFirstCode, Refusal> {
        let now = self.now();
        let audit = AuditEntry::new(now, operator.as_str(), Some(target), Action::SoftwareToken);
        let result = (|| -> Result<ExpectFirstCode, Fail> {
            self.administrator(operator)?;
            if operator == target {
                return Err(Refusal::OwnId.into());
            }
            let user = self.user_record(target)?;
            if user.lock.locked {
                return Err(Refusal::UserLocked.into());
            }
            self.check_password(operator, password, &audit)?;
            let session = Session {
                flow: if user.token.is_some() {
                    Flow::Exchange
                } else {
                    Flow::Registration
                },
                operator: operator.clone(),
                target: target.clone(),
                old_serial: user.token,
                binding: user.lock.binding,
                started_at: now,
            };
            for _ in 0..MINT_ATTEMPTS {
                let (entry, uri) = self.mint(target)?;
                let serial = entry.serial;
                let record = audit.clone().with_new(Some(&serial));
                match self.store.add_tokens(vec![entry], &record, &self.audit_key) {
                    Ok(_) => {
                        return Ok(ExpectFirstCode {
                            session,
                            serial,
                            uri: Some(uri),
                        });
                    }
                    // A serial the bank has already: draw another.
                    Err(StoreError::Duplicate(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(InternalError::Contention.into())
        })();
        self.finish(&audit, result)
    }

    /// A software token for `target`, reserved for them, and its
    /// `otpauth://` URI (issuer: the bank's name; account: the customer
    /// ID).
    fn mint(&self, target: &UserId) -> Result<(TokenEntry, Zeroizing<String>), Fail> {
        let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
        crate::bank::random_bytes(&mut secret[..])?;
        let serial = SerialNumber::parse(&format!(
            "{SOFTWARE_SERIAL_PREFIX}{:010}",
            random_below(10_000_000_000)?
        ))
        .map_err(Refusal::Serial)?;
        let secret = Secret::from_bytes(&secret[..]).map_err(|_| InternalError::Encoding)?;
        let profile = Profile {
            mode: Mode::Totp(TimeStep::new(30, 0).map_err(|_| InternalError::Encoding)?),
            algorithm: Algorithm::Sha1,
            digits: Digits::Six,
        };
        let issuer = self.bank_name.as_deref().unwrap_or(DEFAULT_ISSUER);
        let mut seed = SeedRecord::new(serial.as_str(), secret, profile);
        seed.manufacturer = "otp-exchange".into();
        seed.model = "software token".into();
        seed.issuer = Some(issuer.to_owned());
        // The URI's account is the customer ID, not the serial: what the
        // user sees in the app.
        let mut shown = seed.duplicate();
        shown.serial = target.as_str().to_owned();
        let uri = Zeroizing::new(shown.to_otpauth_uri());
        let state = seed.initial_state();
        Ok((
            TokenEntry {
                serial,
                seed,
                status: TokenStatus::Reserved(target.clone()),
                state,
                signing: otp_core::TokenState::new(),
            },
            uri,
        ))
    }

    /// Takes back a software token enrollment parked in a [`Ticket`]
    /// ([`ExpectFirstCode::into_ticket`]), with the checks of
    /// [`Bank::resume`]: untampered, this bank's, not expired, the same
    /// administrator, not used before. The URI is not in it: it was shown
    /// once.
    ///
    /// # Errors
    ///
    /// [`Refusal::SessionInvalid`] (also for a ticket of the exchange's
    /// screens, which [`Bank::resume`] takes), [`Refusal::SessionExpired`],
    /// [`Refusal::SessionUsed`]; [`Refusal::OperatorLocked`] or
    /// [`Refusal::NotAdministrator`] when the operator may no longer act.
    pub fn resume_software_token(
        &self,
        operator: &UserId,
        ticket: &Ticket,
    ) -> Result<ExpectFirstCode, Refusal> {
        let body = self.open_ticket(operator, ticket, |stage| {
            matches!(stage, Stage::ExpectFirstCode { .. })
        })?;
        match body.stage {
            Stage::ExpectFirstCode { serial } => Ok(ExpectFirstCode {
                session: body.session,
                serial,
                uri: None,
            }),
            Stage::ExpectCurrentCode | Stage::ExpectNewToken { .. } => Err(Refusal::SessionInvalid),
        }
    }
}

/// A number below `bound` from the operating system's random number
/// generator, without modulo bias.
fn random_below(bound: u64) -> Result<u64, Fail> {
    let limit = u64::MAX - u64::MAX % bound;
    loop {
        let mut bytes = [0u8; 8];
        crate::bank::random_bytes(&mut bytes)?;
        let n = u64::from_be_bytes(bytes);
        if n < limit {
            return Ok(n % bound);
        }
    }
}

impl ExpectFirstCode {
    /// The administrator and the user this enrollment is for.
    #[must_use]
    pub fn parties(&self) -> (&UserId, &UserId) {
        (&self.session.operator, &self.session.target)
    }

    /// The minted token's serial (screens show it masked).
    #[must_use]
    pub const fn serial(&self) -> SerialNumber {
        self.serial
    }

    /// The serial of the token the software token replaces, if any.
    #[must_use]
    pub const fn old_serial(&self) -> Option<SerialNumber> {
        self.session.old_serial
    }

    /// The token's `otpauth://totp/<issuer>:<customer ID>?secret=...` URI
    /// for the app (a screen shows it as a QR code), **once**: `Some` the
    /// first time, from the state [`Bank::begin_software_token`] returned;
    /// `None` after, and from a state taken back from a ticket. It holds
    /// the secret: show it to the user only, never log or store it.
    pub fn take_otpauth_uri(&mut self) -> Option<Zeroizing<String>> {
        self.uri.take()
    }

    /// ソフトウェアトークン登録, step 2: the app's first code, verified
    /// against the minted token with the first-use window (as a new
    /// hardware token's is) and counted toward the user's ID lock as a
    /// wrong code of a new token is. When it is right, one switch binds
    /// the token to the user, revokes their old token (if any), sets the
    /// usage mode to [`UsageMode::SoftwareToken`] and appends its audit
    /// record (`Register` or `Exchange`, reason `software_token`): valid
    /// from that instant, the old token no longer. Both IDs must still be
    /// unlocked, the operator still an administrator, and the user's
    /// binding unchanged since the enrollment began.
    ///
    /// # Errors
    ///
    /// A [`Retry`] with [`Refusal::Code`], [`Refusal::WrongCode`] or
    /// [`Refusal::Replayed`] (try again), or [`Refusal::UserLocked`],
    /// [`Refusal::OperatorLocked`], [`Refusal::NotAdministrator`],
    /// [`Refusal::SessionExpired`], [`Refusal::Conflict`] (start again).
    #[allow(
        clippy::result_large_err,
        reason = "the state comes back by value so the user can correct and retry"
    )]
    pub fn confirm<S: Store, C: Credentials>(
        self,
        bank: &Bank<S, C>,
        code: &str,
    ) -> Result<Exchanged, Retry<Self>> {
        let s = &self.session;
        let audit = AuditEntry::new(
            bank.now(),
            s.operator.as_str(),
            Some(&s.target),
            Action::NewToken,
        )
        .with_old(s.old_serial.as_ref())
        .with_new(Some(&self.serial));
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
            bank.check_code(
                &s.target,
                Which::New,
                Source::Reserved(self.serial),
                code,
                &audit,
                Some(&s.operator),
            )
        })();
        let new = match bank.finish(&audit, checked) {
            Ok(v) => v,
            Err(refusal) => return Err(retry(refusal, self)),
        };
        let session = self.session;
        let at = bank.now();
        let action = match session.old_serial {
            Some(_) => Action::Exchange,
            None => Action::Register,
        };
        let mut done =
            AuditEntry::new(at, session.operator.as_str(), Some(&session.target), action)
                .with_old(session.old_serial.as_ref())
                .with_new(Some(&new.serial));
        done.reason = Some(UsageMode::SoftwareToken.as_str().to_owned());
        let result = bank.switch_checked(
            Some(&session.operator),
            &session.target,
            true,
            Some(session.binding),
            |locks| {
                Switch::new(
                    session.target.clone(),
                    session.old_serial,
                    session.old_serial,
                    Some((new.serial, new.state)),
                    locks,
                    done.clone(),
                )
                .binding_reserved()
                .with_usage_mode(UsageMode::SoftwareToken)
            },
        );
        match bank.finish(&done, result) {
            Ok(_) => Ok(Exchanged {
                user: session.target,
                old_serial: session.old_serial,
                new_serial: new.serial,
                at,
            }),
            Err(refusal) => Err(Retry {
                refusal,
                resume: None,
            }),
        }
    }

    /// Parks this state in a sealed ticket for the next web request,
    /// consuming it: the ticket carries the minted token's serial (never
    /// its secret, which stays sealed in the inventory) and is usable once
    /// through [`Bank::resume_software_token`]. The URI, if not taken, is
    /// dropped (zeroized).
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] if the system random number generator fails.
    pub fn into_ticket<S: Store, C: Credentials>(
        self,
        bank: &Bank<S, C>,
    ) -> Result<Ticket, Refusal> {
        Ticket::seal(
            &bank.session_key,
            self.session,
            Stage::ExpectFirstCode {
                serial: self.serial,
            },
        )
    }
}
