//! The OTP usage mode (利用形態設定): an administrator sets how another
//! user authenticates — a hardware token, a software token, or, where the
//! bank's policy allows it, no one-time password.

use otp_provision::SerialNumber;

use crate::{
    Action, AuditEntry, Authority, Credentials, Password, Refusal, Store, Switch, UsageMode, UserId,
};

use super::{Bank, Fail};

/// A usage mode set (利用形態設定 done): whose, from what, to what, and the
/// token it revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageModeSet {
    /// Whose mode changed.
    pub user: UserId,
    /// The mode before.
    pub previous: UsageMode,
    /// The mode from now.
    pub mode: UsageMode,
    /// The token revoked with the change (setting [`UsageMode::NotUsed`]
    /// for a user who had one); `None` otherwise.
    pub revoked: Option<SerialNumber>,
    /// When the change took effect.
    pub at: u64,
}

impl<S: Store, C: Credentials> Bank<S, C> {
    /// 利用形態設定: an administrator sets another user's OTP usage mode,
    /// confirmed with their approval password (or per-transfer
    /// confirmation password), which is checked as in every other
    /// administrator's act: one attempt reserved on the operator's
    /// password counter first, a wrong one counted toward their lock.
    ///
    /// - [`UsageMode::HardwareToken`]: recorded; the user's token, if any,
    ///   stays valid (a software token is replaced by registering a
    ///   hardware token through the exchange); a user without one gets it
    ///   by registration.
    /// - [`UsageMode::NotUsed`]: only where [`crate::Policy::allow_not_used`],
    ///   never for an administrator (administrators confirm other users'
    ///   operations with their token). The user's token, if any, is
    ///   revoked in the same transaction as the mode change and its audit
    ///   record: from that instant it is refused everywhere.
    /// - [`UsageMode::SoftwareToken`]: refused here; it is set by the
    ///   enrollment whose first code proves the app works
    ///   ([`Bank::begin_software_token`]).
    ///
    /// The change is one switch (compare-and-set on both IDs' locks and
    /// the user's binding generation, which moves on, so a flow started
    /// for the user before it starts again), audited as
    /// [`Action::UsageMode`] with the new mode as its reason and the
    /// revoked token as its old serial; a refusal is audited too.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::OwnId`], [`Refusal::UnknownUser`],
    /// [`Refusal::SoftwareTokenByEnrollment`], [`Refusal::NotUsedForbidden`],
    /// [`Refusal::NotUsedForAdministrator`], [`Refusal::UserLocked`],
    /// [`Refusal::WrongPassword`], [`Refusal::NoPasswordRegistered`],
    /// [`Refusal::Conflict`] (the user's token or mode changed meanwhile),
    /// [`Refusal::Internal`].
    pub fn set_usage_mode(
        &self,
        operator: &UserId,
        target: &UserId,
        mode: UsageMode,
        password: &Password,
    ) -> Result<UsageModeSet, Refusal> {
        let mut audit = AuditEntry::new(
            self.now(),
            operator.as_str(),
            Some(target),
            Action::UsageMode,
        );
        audit.reason = Some(mode.as_str().to_owned());
        let mut logged = audit.clone();
        let result = (|| -> Result<UsageModeSet, Fail> {
            self.administrator(operator)?;
            if operator == target {
                return Err(Refusal::OwnId.into());
            }
            let user = self.user_record(target)?;
            match mode {
                UsageMode::SoftwareToken => {
                    return Err(Refusal::SoftwareTokenByEnrollment.into());
                }
                UsageMode::NotUsed if !self.policy.allow_not_used => {
                    return Err(Refusal::NotUsedForbidden.into());
                }
                UsageMode::NotUsed if user.authority == Authority::Administrator => {
                    return Err(Refusal::NotUsedForAdministrator.into());
                }
                UsageMode::HardwareToken | UsageMode::NotUsed => {}
            }
            if user.lock.locked {
                return Err(Refusal::UserLocked.into());
            }
            let revoke = user.token.filter(|_| mode == UsageMode::NotUsed);
            logged = logged.clone().with_old(revoke.as_ref());
            self.check_password(operator, password, &logged)?;
            let done = logged.clone();
            self.switch_checked(
                Some(operator),
                target,
                true,
                Some(user.lock.binding),
                |locks| {
                    Switch::new(
                        target.clone(),
                        user.token,
                        revoke,
                        None,
                        locks,
                        done.clone(),
                    )
                    .with_usage_mode(mode)
                },
            )?;
            Ok(UsageModeSet {
                user: target.clone(),
                previous: user.usage_mode,
                mode,
                revoked: revoke,
                at: done.at,
            })
        })();
        self.finish(&logged, result)
    }
}
