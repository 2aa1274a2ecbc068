//! The branch's user administration (enrolment, passwords set by the
//! branch), the self-service password change, and the stock: inventory
//! imports and key rotations recorded.

use otp_provision::Inventory;

use crate::guard::{Counter, Outcome};
use crate::{
    Action, AuditEntry, Authority, Credentials, InternalError, Password, PasswordHash,
    PasswordKind, Refusal, Store, StoreError, TokenEntry, UserId, UserRecord,
};

use super::steps::MAX_RETRIES;
use super::{Bank, BranchAuthorization, Fail};

impl<S: Store, C: Credentials> Bank<S, C> {
    /// Creates a user (or renames an existing one, keeping their token,
    /// lock and passwords, even ones set meanwhile): the branch's act on a
    /// written application. Audited.
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] if the store fails.
    pub fn enroll_user(
        &self,
        authorization: &BranchAuthorization,
        id: &UserId,
        name: &str,
        authority: Authority,
    ) -> Result<(), Refusal> {
        let mut record = match self.store.user(id)? {
            Some(existing) => existing,
            None => UserRecord::new(id.clone(), name, authority),
        };
        record.name = name.to_owned();
        record.authority = authority;
        let mut audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(id),
            Action::UserUpdate,
        );
        audit.reason = Some(match authority {
            Authority::Administrator => "enrolled:administrator".into(),
            Authority::General => "enrolled:general".into(),
        });
        self.store.put_user(&record, &audit, &self.audit_key)?;
        Ok(())
    }

    /// Sets a user's login, approval or per-transfer confirmation password (hashed
    /// with Argon2id at the bank's cost): the branch's act. Audited; the
    /// password is never stored or logged.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`]; [`Refusal::Internal`] if hashing or the
    /// store fails.
    pub fn set_password(
        &self,
        authorization: &BranchAuthorization,
        id: &UserId,
        kind: PasswordKind,
        password: &Password,
    ) -> Result<(), Refusal> {
        let hash = PasswordHash::create(password, self.hash_cost)?;
        self.set_password_hash(authorization, id, kind, Some(hash))
    }

    /// A user changes their own login, approval or per-transfer confirmation
    /// password (the self-service change, asked twice by the screen):
    /// `current` is evaluated as any password is — one attempt reserved on
    /// the user's ID first, a wrong one counted (six lock the ID, and a
    /// locked ID's password is not evaluated), only a right one clears the
    /// count. `new` must have [`crate::MIN_PASSWORD_CHARS`] characters and
    /// differ from `current`; that is checked before any attempt is spent.
    /// The new hash is stored with its audit record (`<kind>_password_changed`)
    /// in one transaction; neither password is stored or logged.
    ///
    /// With a [`Credentials`] other than [`crate::StoredHashes`], `current`
    /// is checked by that service and the stored hash is changed.
    ///
    /// # Errors
    ///
    /// [`Refusal::WeakPassword`], [`Refusal::UnknownUser`],
    /// [`Refusal::OperatorLocked`] (the ID is locked, now or by this
    /// entry), [`Refusal::NoPasswordRegistered`] (none of `kind`),
    /// [`Refusal::WrongPassword`], [`Refusal::Conflict`] (the password of
    /// `kind` was changed or reset meanwhile: nothing written),
    /// [`Refusal::Internal`].
    pub fn change_password(
        &self,
        user: &UserId,
        kind: PasswordKind,
        current: &Password,
        new: &Password,
    ) -> Result<(), Refusal> {
        let audit = AuditEntry::new(self.now(), user.as_str(), Some(user), Action::UserUpdate);
        let result = (|| {
            if !crate::password::acceptable_change(current, new) {
                return Err(Refusal::WeakPassword.into());
            }
            // Nothing to evaluate, so no attempt reserved: a user without a
            // password of this kind (a general user) leaves the lock as it is.
            let has = |r: &crate::UserRecord| kind.stored(r).is_some();
            if !has(&self.user_record(user)?) {
                return Err(Refusal::NoPasswordRegistered.into());
            }
            let record = self.reserve(user, Counter::Passwords, &Refusal::OperatorLocked)?;
            // Removed meanwhile (the branch's act): released, not counted.
            if !has(&record) {
                self.settle(user, Counter::Passwords, Outcome::Neutral, None)?;
                return Err(Refusal::NoPasswordRegistered.into());
            }
            let right = match self.credentials.check(&record, kind, current) {
                Ok(right) => right,
                Err(e) => {
                    self.settle(user, Counter::Passwords, Outcome::Neutral, None)?;
                    return Err(e.into());
                }
            };
            if !right {
                let refused = audit.clone().refused(Refusal::WrongPassword.reason_code());
                let locked =
                    self.settle(user, Counter::Passwords, Outcome::Wrong, Some(&refused))?;
                return Err(Fail::audited(if locked {
                    Refusal::OperatorLocked
                } else {
                    Refusal::WrongPassword
                }));
            }
            let hash = match PasswordHash::create(new, self.hash_cost) {
                Ok(hash) => hash,
                Err(e) => {
                    self.settle(user, Counter::Passwords, Outcome::Neutral, None)?;
                    return Err(e.into());
                }
            };
            self.settle(user, Counter::Passwords, Outcome::Right, None)?;
            // Only this kind's hash is written, and only if it is still the
            // one the current password was checked against: a change made
            // meanwhile (the branch's reset, another change) is not undone,
            // and a change of another kind is kept.
            let mut done = audit.clone();
            done.reason = Some(format!("{}_password_changed", kind.audit_name()));
            if self.store.replace_password(
                user,
                kind,
                kind.stored(&record),
                Some(&hash),
                &done,
                &self.audit_key,
            )? {
                Ok(())
            } else {
                Err(Refusal::Conflict.into())
            }
        })();
        self.finish(&audit, result)
    }

    /// Removes a user's login, approval or per-transfer confirmation password: the
    /// branch's act. Audited.
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`]; [`Refusal::Internal`] if the store fails.
    pub fn remove_password(
        &self,
        authorization: &BranchAuthorization,
        id: &UserId,
        kind: PasswordKind,
    ) -> Result<(), Refusal> {
        self.set_password_hash(authorization, id, kind, None)
    }

    /// Stores (or, with `None`, removes) a password hash of `kind` for
    /// `id`, audited with the branch's authorization in one transaction.
    pub(super) fn set_password_hash(
        &self,
        authorization: &BranchAuthorization,
        id: &UserId,
        kind: PasswordKind,
        hash: Option<PasswordHash>,
    ) -> Result<(), Refusal> {
        let reason = format!(
            "{}_password_{}",
            kind.audit_name(),
            if hash.is_some() { "set" } else { "removed" }
        );
        let mut audit = AuditEntry::new(
            self.now(),
            &authorization.operator(),
            Some(id),
            Action::UserUpdate,
        );
        audit.reason = Some(reason);
        // Only this kind's hash is written (compare-and-set on it): a
        // change of another kind made meanwhile is kept. The branch's act
        // wins over a change of the same kind made meanwhile: read again
        // and set.
        for _ in 0..MAX_RETRIES {
            let record = self.user_record(id)?;
            if self.store.replace_password(
                id,
                kind,
                kind.stored(&record),
                hash.as_ref(),
                &audit,
                &self.audit_key,
            )? {
                return Ok(());
            }
        }
        Err(InternalError::Contention.into())
    }

    /// Adds every token of an inventory (from a vendor's seed file) as
    /// unassigned: all or nothing, audited in the same transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for a serial that is not 12 alphanumerics,
    /// [`StoreError::Duplicate`] for one the bank has already.
    pub fn import_inventory(
        &self,
        operator: &str,
        inventory: &Inventory,
    ) -> Result<usize, StoreError> {
        let mut entries = Vec::with_capacity(inventory.len());
        for record in inventory.iter() {
            let entry = TokenEntry::unassigned(record.duplicate()).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "serial {:?} is not 12 half-width letters and digits",
                    record.serial
                ))
            })?;
            entries.push(entry);
        }
        let count = entries.len();
        let mut entry = AuditEntry::new(self.now(), operator, None, Action::Import);
        entry.reason = Some(format!("{count} tokens"));
        self.store.add_tokens(entries, &entry, &self.audit_key)?;
        Ok(count)
    }

    /// Records in the audit chain that the token secrets were re-sealed
    /// under a new key (the store's own `rekey` does the work: it holds
    /// the keys, the policy does not). `detail` says what was done, with
    /// key ids and counts only, never key material.
    ///
    /// # Errors
    ///
    /// [`Refusal::Internal`] when the record cannot be written.
    pub fn record_rekey(&self, operator: &str, detail: &str) -> Result<(), Refusal> {
        let mut entry = AuditEntry::new(self.now(), operator, None, Action::Rekey);
        entry.reason = Some(detail.to_owned());
        self.store.append_audit(&entry, &self.audit_key)?;
        Ok(())
    }
}
