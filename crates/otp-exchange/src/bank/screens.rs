//! The online screens outside the exchange flow: the selection list,
//! login, unregistration, ID lock and unlock, and the usage history.

use otp_core::{Algorithm, Code, Digits, Key, TokenState, Window, verify};

use crate::{
    Action, AuditEntry, AuditRecord, Authority, Credentials, InternalError, Password, Refusal,
    Store, Switch, UserId, Which, normalize_code,
};

use super::{Bank, CurrentTokenVerified, Fail, LoginTimes, Source, UserList, UserRow};

impl<S: Store, C: Credentials> Bank<S, C> {
    /// A page of the selection screen, for an administrator.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`] for an unknown operator.
    pub fn user_list(
        &self,
        operator: &UserId,
        page: usize,
        per_page: usize,
    ) -> Result<UserList, Refusal> {
        self.administrator(operator)?;
        let offset = page.saturating_mul(per_page);
        let result = self.store.users(offset, per_page)?;
        let rows: Vec<UserRow> = result
            .users
            .into_iter()
            .map(|u| UserRow {
                registered: u.token.is_some(),
                serial: u.token.map(|s| s.masked()),
                locked: u.lock.locked,
                usage_mode: u.usage_mode,
                id: u.id,
                name: u.name,
                authority: u.authority,
            })
            .collect();
        let (first, last) = if rows.is_empty() {
            (0, 0)
        } else {
            (offset.saturating_add(1), offset.saturating_add(rows.len()))
        };
        Ok(UserList {
            rows,
            first,
            last,
            total: result.total,
        })
    }

    /// A user logs in with a code from their token: verified with replay
    /// refusal, counted toward the ID lock, saved only if the token is
    /// still theirs when the verification commits.
    ///
    /// An unknown ID, an ID without a token, a locked ID and a wrong code
    /// all get [`Refusal::LoginFailed`] (the audit record says which), and
    /// an unknown ID costs the same HMAC work as a known one.
    ///
    /// # Errors
    ///
    /// [`Refusal::LoginFailed`]; [`Refusal::Code`] for input that is not
    /// 6 to 8 digits once read by [`normalize_code`] (whatever the ID); [`Refusal::Replayed`]
    /// (only a holder of the token's last code sees it);
    /// [`Refusal::Internal`].
    pub fn login(&self, user: &UserId, typed: &str) -> Result<CurrentTokenVerified, Refusal> {
        // As displayed (`821 135`) or typed with a Japanese input method.
        let typed = normalize_code(typed);
        let typed = typed.as_ref();
        let now = self.now();
        let audit = AuditEntry::new(now, user.as_str(), Some(user), Action::Login);
        // The typing rules (half-width digits, 6 to 8 of them) are checked
        // before the ID is looked up, so the answer is the same for every
        // ID; a length that differs from the token's is a failed login.
        if let Err(e) = well_formed(typed) {
            let refusal = Refusal::Code(Which::Current, e);
            let audit = AuditEntry::new(now, user.as_str(), None, Action::Login);
            self.store
                .append_audit(&audit.refused(refusal.reason_code()), &self.audit_key)?;
            return Err(refusal);
        }
        // The user and their token in one read (one snapshot where the
        // store can): it serves as the verification's first read.
        let record = self.store.user_and_token(user)?;
        let Some(serial) = record.as_ref().and_then(|(r, _)| r.token) else {
            // The same HMAC work as a real verification, then one refusal.
            let _ = Code::parse(typed, Digits::Six).map(|code| {
                Key::new(Algorithm::Sha1, &[0x5a; 20]).map(|key| {
                    verify(
                        &key,
                        &self.params(Window::new(1, 1)),
                        &TokenState::new(),
                        &code,
                        now,
                    )
                })
            });
            let why = if record.is_some() {
                Refusal::NoTokenRegistered
            } else {
                Refusal::UnknownUser
            };
            let audit = if record.is_some() {
                audit
            } else {
                // An unknown ID is not a target: the record names what was
                // typed as the operator only.
                AuditEntry::new(now, user.as_str(), None, Action::Login)
            };
            self.store
                .append_audit(&audit.refused(why.reason_code()), &self.audit_key)?;
            return Err(Refusal::LoginFailed);
        };
        let audit = audit.with_old(Some(&serial));
        let result = self.check_code_read(
            user,
            Which::Current,
            Source::Bound(serial),
            typed,
            &audit,
            None,
            super::steps::CodeCheck {
                reserved: false,
                login: true,
            },
            record,
        );
        let result = self.finish(&audit, result);
        result
            .map(|ok| CurrentTokenVerified {
                serial: ok.serial,
                position: ok.position,
                login: Some(LoginTimes {
                    this_login: ok.at,
                    previous_login: ok.previous_login,
                }),
            })
            .map_err(|r| match r {
                Refusal::WrongCode(_)
                | Refusal::Code(..)
                | Refusal::UserLocked
                | Refusal::Conflict
                | Refusal::NoTokenRegistered => Refusal::LoginFailed,
                other => other,
            })
    }

    /// Unregisters a user's token (登録解除): it is revoked at once. Like
    /// an exchange, it needs a code from that token (the user is present
    /// with it) and the operator's approval password (or per-transfer
    /// confirmation password); without the token it is the branch's
    /// [`Bank::branch_revoke`].
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::OwnId`], [`Refusal::UnknownUser`],
    /// [`Refusal::UserLocked`], [`Refusal::NoTokenRegistered`],
    /// [`Refusal::UnregisterForbidden`], [`Refusal::Code`],
    /// [`Refusal::WrongCode`], [`Refusal::Replayed`],
    /// [`Refusal::WrongPassword`], [`Refusal::NoPasswordRegistered`],
    /// [`Refusal::Conflict`].
    pub fn unregister(
        &self,
        operator: &UserId,
        target: &UserId,
        current_code: &str,
        password: &Password,
    ) -> Result<(), Refusal> {
        let audit = AuditEntry::new(
            self.now(),
            operator.as_str(),
            Some(target),
            Action::Unregister,
        );
        let mut logged = audit.clone();
        let result = (|| -> Result<(), Fail> {
            self.administrator(operator)?;
            if operator == target {
                return Err(Refusal::OwnId.into());
            }
            if !self.policy.allow_unregister {
                return Err(Refusal::UnregisterForbidden.into());
            }
            let user = self.user_record(target)?;
            logged = logged.clone().with_old(user.token.as_ref());
            let serial = user.token.ok_or(Refusal::NoTokenRegistered)?;
            if user.lock.locked {
                return Err(Refusal::UserLocked.into());
            }
            let code_audit = AuditEntry::new(
                self.now(),
                operator.as_str(),
                Some(target),
                Action::CurrentCode,
            )
            .with_old(Some(&serial));
            let code = self.check_code(
                target,
                Which::Current,
                Source::Bound(serial),
                current_code,
                &code_audit,
                Some(operator),
            );
            self.finish(&code_audit, code)?;
            self.check_password(operator, password, &logged)?;
            let audit = logged.clone();
            let binding = Some(user.lock.binding);
            self.switch_checked(Some(operator), target, true, binding, |locks| {
                Switch::new(
                    target.clone(),
                    Some(serial),
                    Some(serial),
                    None,
                    locks,
                    audit.clone(),
                )
            })?;
            Ok(())
        })();
        self.finish(&logged, result)
    }

    /// An administrator unlocks a general user's ID (IDロック解除), with
    /// their own approval password. An administrator's ID is unlocked only
    /// by the branch ([`Bank::branch_unlock`]), no administrator unlocks
    /// their own, and one ID is unlocked online at most
    /// [`Policy::max_unlocks_per_day`](crate::Policy::max_unlocks_per_day) times a day. Audited.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::OwnId`], [`Refusal::UnknownUser`],
    /// [`Refusal::BranchUnlockRequired`], [`Refusal::UnlockLimit`],
    /// [`Refusal::WrongPassword`], [`Refusal::NoPasswordRegistered`].
    pub fn unlock(
        &self,
        operator: &UserId,
        target: &UserId,
        password: &Password,
    ) -> Result<(), Refusal> {
        let audit = AuditEntry::new(self.now(), operator.as_str(), Some(target), Action::Unlock);
        let result = (|| {
            self.administrator(operator)?;
            if operator == target {
                return Err(Refusal::OwnId.into());
            }
            let user = self.user_record(target)?;
            if user.authority == Authority::Administrator {
                return Err(Refusal::BranchUnlockRequired.into());
            }
            if user.lock.unlocks_on(self.policy.day(self.now())) >= self.policy.max_unlocks_per_day
            {
                return Err(Refusal::UnlockLimit.into());
            }
            self.check_password(operator, password, &audit)?;
            self.apply_unlock(Some(operator), target, true, &audit)
        })();
        self.finish(&audit, result)
    }

    /// An administrator locks another user's ID on purpose (an
    /// administrator may lock their own). Audited.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`],
    /// [`Refusal::UnknownUser`].
    pub fn lock(&self, operator: &UserId, target: &UserId) -> Result<(), Refusal> {
        let audit = AuditEntry::new(self.now(), operator.as_str(), Some(target), Action::Lock);
        let result = self
            .administrator(operator)
            .map_err(Fail::from)
            .and_then(|_| {
                self.change_lock(Some(operator), target, &audit, |lock| {
                    Ok(crate::IdLock {
                        locked: true,
                        ..lock
                    })
                })
            });
        self.finish(&audit, result)
    }

    /// The usage history (利用履歴照会) of a user ID between two times,
    /// shown only from a chain that verifies: the whole chain is checked
    /// under the audit key and against its stored head first, so a record
    /// whose stored target or time was edited (which a query by target
    /// would silently skip), removed or truncated makes the history fail
    /// instead of shrink. The cost is one read of the chain (about a
    /// microsecond of HMAC per record).
    ///
    /// # Errors
    ///
    /// [`Refusal::NotAdministrator`], [`Refusal::OperatorLocked`];
    /// [`Refusal::Internal`] with [`InternalError::Audit`] when the chain
    /// does not verify.
    pub fn audit_trail(
        &self,
        operator: &UserId,
        target: &UserId,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, Refusal> {
        self.administrator(operator)?;
        let head = self.store.audit_head()?;
        let chain = self.store.audit_chain()?;
        crate::verify_chain(&chain, &self.audit_key, head).map_err(InternalError::Audit)?;
        Ok(chain
            .into_iter()
            .filter(|r| r.entry.target.as_ref() == Some(target))
            .filter(|r| (from..=to).contains(&r.entry.at))
            .collect())
    }
}

/// Whether `typed` (normalized) is 6, 7 or 8 half-width digits: the typing
/// rules every login checks before the ID is looked up.
pub(super) fn well_formed(typed: &str) -> Result<(), otp_core::CodeError> {
    [Digits::Seven, Digits::Eight]
        .into_iter()
        .fold(Code::parse(typed, Digits::Six).map(|_| ()), |r, d| {
            r.or_else(|e| Code::parse(typed, d).map(|_| ()).map_err(|_| e))
        })
}
