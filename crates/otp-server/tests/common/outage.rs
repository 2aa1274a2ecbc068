//! A store that goes down on request: [`Outage`] wraps a `MemoryStore`
//! and, while its switch is set, fails every write (a database that can be
//! read but not written) or every call (a database that went away), with
//! `StoreError::Unavailable`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use otp_exchange::{
    ApiKeyRecord, AuditEntry, AuditHead, AuditKey, AuditRecord, LockChange, MemoryStore,
    PasswordHash, PasswordKind, Store, StoreError, Switch, SwitchError, TokenEntry, UserId,
    UserPage, UserRecord, Verification,
};
use otp_provision::SerialNumber;

/// A memory store that fails while `down` is set: its writes only, or
/// (`reads_too`) every call.
#[derive(Debug)]
pub(crate) struct Outage {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
    reads_too: bool,
}

impl Outage {
    /// A store whose writes fail while `down` is set; reads still answer.
    pub(crate) fn writes(down: &Arc<AtomicBool>) -> Self {
        Self {
            inner: MemoryStore::new(),
            down: Arc::clone(down),
            reads_too: false,
        }
    }

    /// A store that answers nothing while `down` is set.
    pub(crate) fn everything(down: &Arc<AtomicBool>) -> Self {
        Self {
            reads_too: true,
            ..Self::writes(down)
        }
    }

    fn write(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(
                "the test took the store down".into(),
            ))
        } else {
            Ok(())
        }
    }

    fn read(&self) -> Result<(), StoreError> {
        if self.reads_too { self.write() } else { Ok(()) }
    }
}

impl Store for Outage {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.read()?;
        self.inner.user(id)
    }
    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        self.read()?;
        self.inner.users(offset, limit)
    }
    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.write()?;
        self.inner.put_user(user, audit, key)
    }
    fn replace_password(
        &self,
        user: &UserId,
        kind: PasswordKind,
        expected: Option<&PasswordHash>,
        new: Option<&PasswordHash>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner
            .replace_password(user, kind, expected, new, audit, key)
    }
    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        self.read()?;
        self.inner.token(serial)
    }
    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.write()?;
        self.inner.add_tokens(tokens, audit, key)
    }
    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.record_verification(v, key)
    }
    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.update_locks(changes, audit, key)
    }
    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        self.write()?;
        self.inner.switch(change, key)
    }
    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        self.write()?;
        self.inner.append_audit(entry, key)
    }
    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.read()?;
        self.inner.audit(user, from, to)
    }
    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.read()?;
        self.inner.audit_chain()
    }
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.read()?;
        self.inner.audit_head()
    }
    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.consume_nonce(nonce, expires_at, now)
    }
    fn put_api_key(
        &self,
        record: &ApiKeyRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        self.write()?;
        self.inner.put_api_key(record, audit, key)
    }
    fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.read()?;
        self.inner.api_key(id)
    }
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.read()?;
        self.inner.api_keys()
    }
    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.revoke_api_key(id, at, audit, key)
    }
    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError> {
        self.write()?;
        self.inner.touch_api_key(id, at)
    }
}
