//! The web sign-in (ログイン): customer ID, login password and a code from
//! the user's own token, all three or one refusal.

use otp_provision::SerialNumber;

use crate::guard::{Counter, Outcome};
use crate::{
    Action, AuditEntry, Authority, Credentials, InternalError, LockChange, Password, PasswordHash,
    PasswordKind, Refusal, Store, UsageMode, UserId, UserRecord, Which, normalize_code,
};

use super::steps::{CodeCheck, MAX_RETRIES};
use super::{Bank, Fail, Source};

/// Audit reason of a sign-in whose login password was wrong.
const WRONG_LOGIN_PASSWORD: &str = crate::refusal::WRONG_LOGIN_PASSWORD;
/// Audit reason of a sign-in for an ID without a login password.
const NO_LOGIN_PASSWORD: &str = crate::refusal::NO_LOGIN_PASSWORD;
/// Audit reason of a sign-in with a code for a user who uses none.
const CODE_NOT_EXPECTED: &str = crate::refusal::CODE_NOT_EXPECTED;

/// A user signed in: the ID's login password and a code from its token
/// were right, and the code's verification (replay floor moved on) is
/// committed; or, for a user whose usage mode is [`UsageMode::NotUsed`],
/// the login password alone was right and the login is committed. Only
/// [`Bank::sign_in`] makes one.
#[derive(Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub(crate) user: UserId,
    pub(crate) serial: Option<SerialNumber>,
    pub(crate) position: Option<u64>,
    pub(crate) this_login: u64,
    pub(crate) previous_login: Option<u64>,
}

impl SignedIn {
    /// Who signed in.
    #[must_use]
    pub const fn user(&self) -> &UserId {
        &self.user
    }

    /// The token whose code was verified; `None` for a user who uses no
    /// one-time password.
    #[must_use]
    pub const fn serial(&self) -> Option<SerialNumber> {
        self.serial
    }

    /// The step or counter the code matched; `None` without a code.
    #[must_use]
    pub const fn position(&self) -> Option<u64> {
        self.position
    }

    /// How the user signed in: with a token's code
    /// ([`UsageMode::HardwareToken`] or [`UsageMode::SoftwareToken`], as
    /// the token's serial tells), or without ([`UsageMode::NotUsed`]).
    #[must_use]
    pub const fn with_code(&self) -> bool {
        self.serial.is_some()
    }

    /// When this sign-in's code was verified (Unix time, the bank's
    /// clock): stored as the user's last login in the same transaction.
    #[must_use]
    pub const fn this_login(&self) -> u64 {
        self.this_login
    }

    /// The user's login before this one (by [`Bank::sign_in`] or
    /// [`Bank::login`]), for the page header's 前回ログイン日時; `None`
    /// for the first.
    #[must_use]
    pub const fn previous_login(&self) -> Option<u64> {
        self.previous_login
    }
}

impl<S: Store, C: Credentials> Bank<S, C> {
    /// The web sign-in: a customer ID, its login password
    /// ([`PasswordKind::Login`]) and a code from the token registered to it.
    ///
    /// - Every failure is the one [`Refusal::LoginFailed`]: an unknown ID,
    ///   an ID without a login password, a wrong password, no token, a
    ///   wrong code, the token's last code typed again, a locked ID. The
    ///   audit record (`Login`, refused) says which, and never holds the
    ///   password.
    /// - One attempt is reserved on the ID's code counter before the
    ///   password is evaluated, so a wrong login password counts toward
    ///   the same lock as a wrong code and N concurrent guesses spend N of
    ///   the limit, never more. A locked ID (or one whose attempts are all
    ///   in flight) evaluates neither the password nor the code.
    /// - The code is evaluated (and the replay floor moved on) only after
    ///   the password is right, by the same path as [`Bank::login`]; its
    ///   verdict settles the reservation in the same transaction. A right
    ///   password alone clears nothing; a right sign-in clears the wrong
    ///   entries.
    /// - An unknown ID, or one without a login password, costs the same
    ///   Argon2id verification (against a fixed hash made at the bank's
    ///   cost) as a known one.
    /// - A general user whose usage mode is [`UsageMode::NotUsed`] (and
    ///   who has no token) signs in with the ID and login password alone,
    ///   while the bank's policy allows that mode
    ///   ([`crate::Policy::allow_not_used`]): the code must be empty (a
    ///   code typed is refused, `code_not_expected`). The attempt is
    ///   reserved and counted on the same counter as every sign-in, and a
    ///   right one is committed with the login time and its audit record
    ///   (`Login`, reason `not_used`) only if the user is still in that
    ///   mode without a token (compare-and-set on the ID's lock, whose
    ///   binding generation every change of mode moves on). Anyone else's
    ///   empty code is a failed sign-in like a wrong one (after the
    ///   password is evaluated: the answer does not tell the modes apart).
    ///
    /// # Errors
    ///
    /// [`Refusal::LoginFailed`]; [`Refusal::Code`] for a code that is not
    /// 6 to 8 digits once read by [`normalize_code`], checked before
    /// anything else (the same answer for every ID, nothing evaluated);
    /// [`Refusal::Internal`] when the store or the credential check fails.
    pub fn sign_in(
        &self,
        user: &UserId,
        login_password: &Password,
        typed_code: &str,
    ) -> Result<SignedIn, Refusal> {
        let typed = normalize_code(typed_code);
        let typed = typed.as_ref();
        let now = self.now();
        let audit = AuditEntry::new(now, user.as_str(), Some(user), Action::Login);
        // An empty code is read as "none" (a user who uses no one-time
        // password), decided once the password is right.
        let form = if typed.is_empty() {
            Ok(())
        } else {
            super::screens::well_formed(typed)
        };
        if let Err(e) = form {
            let refusal = Refusal::Code(Which::Current, e);
            let audit = AuditEntry::new(now, user.as_str(), None, Action::Login);
            self.store
                .append_audit(&audit.refused(refusal.reason_code()), &self.audit_key)?;
            return Err(refusal);
        }
        let record = self.store.user(user)?;
        if record
            .as_ref()
            .is_none_or(|r| PasswordKind::Login.stored(r).is_none())
        {
            // The same Argon2id work as a real check, then one refusal.
            let _ = self.dummy_hash()?.matches(login_password);
            let (audit, reason) = if record.is_some() {
                (audit, NO_LOGIN_PASSWORD)
            } else {
                // An unknown ID is not a target: the record names what was
                // typed as the operator only.
                let audit = AuditEntry::new(now, user.as_str(), None, Action::Login);
                (audit, Refusal::UnknownUser.reason_code())
            };
            self.store
                .append_audit(&audit.refused(reason), &self.audit_key)?;
            return Err(Refusal::LoginFailed);
        }
        let result = self.sign_in_known(user, login_password, typed, &audit);
        self.finish(&audit, result).map_err(|r| match r {
            Refusal::Internal(e) => Refusal::Internal(e),
            _ => Refusal::LoginFailed,
        })
    }

    /// The sign-in of an ID with a login password: reserve, check the
    /// password, then the code, settling the reservation once.
    fn sign_in_known(
        &self,
        user: &UserId,
        login_password: &Password,
        typed: &str,
        audit: &AuditEntry,
    ) -> Result<SignedIn, Fail> {
        let record = self.reserve(user, Counter::Codes, &Refusal::UserLocked)?;
        let release = |fail: Fail| -> Fail {
            match self.settle(user, Counter::Codes, Outcome::Neutral, None) {
                Ok(_) => fail,
                Err(e) => e,
            }
        };
        let right = match self
            .credentials
            .check(&record, PasswordKind::Login, login_password)
        {
            Ok(right) => right,
            Err(e) => return Err(release(e.into())),
        };
        if !right {
            let refused = audit.clone().refused(WRONG_LOGIN_PASSWORD);
            self.settle(user, Counter::Codes, Outcome::Wrong, Some(&refused))?;
            return Err(Fail::audited(Refusal::LoginFailed));
        }
        if without_code(&record) {
            return self.sign_in_without_code(user, typed, audit);
        }
        if typed.is_empty() {
            return Err(release(
                Refusal::Code(Which::Current, otp_core::CodeError::Empty).into(),
            ));
        }
        let Some(serial) = record.token else {
            return Err(release(Refusal::NoTokenRegistered.into()));
        };
        let audit = audit.clone().with_old(Some(&serial));
        let how = CodeCheck {
            reserved: true,
            login: true,
        };
        match self.check_code_as(
            user,
            Which::Current,
            Source::Bound(serial),
            typed,
            &audit,
            None,
            how,
        ) {
            Ok(ok) => Ok(SignedIn {
                user: user.clone(),
                serial: Some(ok.serial),
                position: Some(ok.position),
                this_login: ok.at,
                previous_login: ok.previous_login,
            }),
            // Committed: the verdict settled the reservation.
            Err(fail) if fail.audited => Err(fail),
            // Nothing committed (revoked meanwhile, locked meanwhile, a
            // code of the wrong length): released, not counted.
            Err(fail) => {
                let fail = release(fail);
                // Audited with the code's record, which names the token.
                Err(match self.finish(&audit, Err(fail)) {
                    Ok(()) => Fail::audited(Refusal::LoginFailed),
                    Err(r) => Fail::audited(r),
                })
            }
        }
    }

    /// The sign-in of a user who uses no one-time password, whose login
    /// password was right (one attempt reserved on the ID's code
    /// counter): refused unless the code is empty and the policy allows
    /// the mode; committed (the reservation settled as right, the login
    /// time and the audit record in one compare-and-set on the ID's lock)
    /// only while the user is still in that mode, without a token and
    /// unlocked.
    fn sign_in_without_code(
        &self,
        user: &UserId,
        typed: &str,
        audit: &AuditEntry,
    ) -> Result<SignedIn, Fail> {
        let refuse = |reason: &str| -> Fail {
            let refused = audit.clone().refused(reason);
            match self.settle(user, Counter::Codes, Outcome::Neutral, Some(&refused)) {
                Ok(_) => Fail::audited(Refusal::LoginFailed),
                Err(e) => e,
            }
        };
        if !typed.is_empty() {
            return Err(refuse(CODE_NOT_EXPECTED));
        }
        if !self.policy.allow_not_used {
            return Err(refuse(Refusal::NotUsedForbidden.reason_code()));
        }
        let mut done = audit.clone();
        done.reason = Some(UsageMode::NotUsed.as_str().to_owned());
        for _ in 0..MAX_RETRIES {
            let record = self.user_record(user)?;
            if !without_code(&record) {
                // A token registered or the mode changed meanwhile.
                return Err(refuse(Refusal::Conflict.reason_code()));
            }
            if record.lock.locked {
                return Err(refuse(Refusal::UserLocked.reason_code()));
            }
            let at = self.now();
            done.at = at;
            let next = record
                .lock
                .settle(Counter::Codes, Outcome::Right, &self.policy);
            let change = LockChange::new(user.clone(), record.lock, next).with_login(at);
            if self
                .store
                .update_locks(&[change], std::slice::from_ref(&done), &self.audit_key)?
            {
                return Ok(SignedIn {
                    user: user.clone(),
                    serial: None,
                    position: None,
                    this_login: at,
                    previous_login: record.last_login,
                });
            }
        }
        self.settle(user, Counter::Codes, Outcome::Neutral, None)?;
        Err(InternalError::Contention.into())
    }

    /// The fixed hash an unknown ID's password is verified against (made
    /// once, at the bank's cost, from no one's password).
    fn dummy_hash(&self) -> Result<&PasswordHash, Refusal> {
        if let Some(hash) = self.dummy_hash.get() {
            return Ok(hash);
        }
        let hash = PasswordHash::create(
            &Password::new("otp-exchange: nobody's login password"),
            self.hash_cost,
        )?;
        Ok(self.dummy_hash.get_or_init(|| hash))
    }
}

/// Whether `record` signs in without a code: a general user whose usage
/// mode is [`UsageMode::NotUsed`] and who has no token.
fn without_code(record: &UserRecord) -> bool {
    record.usage_mode == UsageMode::NotUsed
        && record.token.is_none()
        && record.authority == Authority::General
}
