//! The branch's procedures on a written request (お取引店舗への届出):
//! the officer's [`BranchAuthorization`], unlocking, revoking a lost
//! token, registering a first token.

use otp_provision::SerialNumber;

use crate::{Action, AuditEntry, Credentials, Refusal, Store, Switch, UserId, Which};

use super::{Bank, Source};

/// A branch officer's authority to act on a written request (お取引店舗への届出).
/// The bank's branch system makes one after checking the request in
/// person; the online screens cannot. Every use is audited with the
/// officer and the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchAuthorization {
    /// The officer's staff ID.
    pub officer: String,
    /// The written request's reference number.
    pub request: String,
}

impl BranchAuthorization {
    /// An officer's authority on one written request.
    #[must_use]
    pub fn new(officer: &str, request: &str) -> Self {
        Self {
            officer: officer.to_owned(),
            request: request.to_owned(),
        }
    }

    /// The operator named in audit records: `branch:OFFICER:REQUEST`.
    pub(super) fn operator(&self) -> String {
        format!("branch:{}:{}", self.officer, self.request)
    }
}

impl<S: Store, C: Credentials> Bank<S, C> {
    /// The branch unlocks an ID on a written request: the only way for an
    /// administrator's ID, and the way past the daily cap. Audited with the
    /// officer and the request.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`], [`Refusal::Internal`].
    pub fn branch_unlock(
        &self,
        authorization: &BranchAuthorization,
        target: &UserId,
    ) -> Result<(), Refusal> {
        let audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(target),
            Action::Unlock,
        );
        let result = self.apply_unlock(None, target, false, &audit);
        self.finish(&audit, result)
    }

    /// The branch's procedure for a lost, broken or dead token: on a
    /// written request checked by a branch officer, the token is revoked so
    /// that a new one can be registered.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`], [`Refusal::NoTokenRegistered`],
    /// [`Refusal::Conflict`].
    pub fn branch_revoke(
        &self,
        authorization: &BranchAuthorization,
        target: &UserId,
    ) -> Result<(), Refusal> {
        let mut audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(target),
            Action::BranchRevoke,
        );
        let result = (|| {
            let user = self.user_record(target)?;
            audit = audit.clone().with_old(user.token.as_ref());
            let serial = user.token.ok_or(Refusal::NoTokenRegistered)?;
            let logged = audit.clone();
            let binding = Some(user.lock.binding);
            self.switch_checked(None, target, false, binding, |locks| {
                Switch::new(
                    target.clone(),
                    Some(serial),
                    Some(serial),
                    None,
                    locks,
                    logged.clone(),
                )
            })?;
            Ok(())
        })();
        self.finish(&audit, result)
    }

    /// The branch registers a token for a user who has none, with a code
    /// from it: how an administrator (who may not register their own) gets
    /// a token. Returns the token's serial. The user's usage mode becomes
    /// [`crate::UsageMode::HardwareToken`] in the same switch.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`], [`Refusal::AlreadyRegistered`],
    /// [`Refusal::UserLocked`], [`Refusal::Serial`],
    /// [`Refusal::UnknownSerial`], [`Refusal::SerialAssigned`],
    /// [`Refusal::SerialRevoked`], [`Refusal::Code`],
    /// [`Refusal::WrongCode`], [`Refusal::Conflict`].
    pub fn branch_register(
        &self,
        authorization: &BranchAuthorization,
        target: &UserId,
        serial: &str,
        code: &str,
    ) -> Result<SerialNumber, Refusal> {
        let mut audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(target),
            Action::Register,
        );
        let result = (|| {
            let user = self.user_record(target)?;
            if user.token.is_some() {
                return Err(Refusal::AlreadyRegistered.into());
            }
            let serial = SerialNumber::parse(serial).map_err(Refusal::Serial)?;
            audit = audit.clone().with_new(Some(&serial));
            // The code is audited as the online screen's is (`NewToken`),
            // the switch as the one `Register` record.
            let mut code_audit = audit.clone();
            code_audit.action = Action::NewToken;
            let new = self.check_code(
                target,
                Which::New,
                Source::Stock(serial),
                code,
                &code_audit,
                None,
            )?;
            let logged = audit.clone();
            let binding = Some(user.lock.binding);
            self.switch_checked(None, target, false, binding, |locks| {
                Switch::new(
                    target.clone(),
                    None,
                    None,
                    Some((new.serial, new.state)),
                    locks,
                    logged.clone(),
                )
                // A hardware token registered: the usage mode with it.
                .with_usage_mode(crate::UsageMode::HardwareToken)
            })?;
            Ok(new.serial)
        })();
        self.finish(&audit, result)
    }
}
