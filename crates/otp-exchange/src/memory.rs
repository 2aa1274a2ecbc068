//! The in-memory store: the reference implementation of [`Store`], for
//! tests and single-process embeddings. One mutex makes every method
//! atomic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use otp_provision::SerialNumber;

use crate::{
    ApiKeyRecord, AuditEntry, AuditHead, AuditKey, AuditRecord, LockChange, PasswordHash,
    PasswordKind, Store, StoreError, Switch, SwitchError, TokenEntry, TokenStatus, UserId,
    UserPage, UserRecord, Verification,
};

/// Everything in memory, behind one mutex.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use otp_exchange::{Authority, Bank, BranchAuthorization, MemoryStore, UserId};
/// let bank = Bank::new(MemoryStore::new(), Arc::new(otp_provision::SystemClock))?;
/// let branch = BranchAuthorization::new("officer-7", "REQ-0001");
/// bank.enroll_user(&branch, &UserId::parse("W0001")?, "しんきん太郎", Authority::Administrator)?;
/// assert_eq!(bank.records().users(0, 5)?.total, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    users: BTreeMap<UserId, UserRecord>,
    tokens: HashMap<SerialNumber, TokenEntry>,
    audit: Vec<AuditRecord>,
    nonces: HashMap<[u8; 16], u64>,
    api_keys: BTreeMap<String, ApiKeyRecord>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("the in-memory store's lock is poisoned".into()))
    }
}

impl Inner {
    fn append(&mut self, entry: &AuditEntry, key: &AuditKey) -> AuditRecord {
        let (seq, prev) = self
            .audit
            .last()
            .map_or((1, [0; 32]), |r| (r.seq.saturating_add(1), r.hash));
        let record = entry.clone().seal(seq, prev, key);
        self.audit.push(record.clone());
        record
    }

    /// Whether every lock is still as expected (an unknown user: not).
    fn locks_hold(&self, changes: &[LockChange]) -> bool {
        changes.iter().all(|c| {
            self.users
                .get(c.user())
                .is_some_and(|u| u.lock == *c.expected())
        })
    }

    fn apply_locks(&mut self, changes: &[LockChange]) {
        for c in changes {
            if let Some(u) = self.users.get_mut(c.user()) {
                u.lock = *c.new_lock();
                if let Some(at) = c.login_at() {
                    u.last_login = Some(at);
                }
            }
        }
    }
}

impl Store for MemoryStore {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.lock()?.users.get(id).cloned())
    }

    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        let inner = self.lock()?;
        Ok(UserPage {
            users: inner
                .users
                .values()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect(),
            total: inner.users.len(),
        })
    }

    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut inner = self.lock()?;
        let mut record = user.clone();
        if let Some(existing) = inner.users.get(&user.id) {
            record.token = existing.token;
            record.lock = existing.lock;
            record.last_login = existing.last_login;
            record
                .approval_password
                .clone_from(&existing.approval_password);
            record
                .transfer_password
                .clone_from(&existing.transfer_password);
            record.login_password.clone_from(&existing.login_password);
            record.usage_mode = existing.usage_mode;
        }
        inner.users.insert(user.id.clone(), record);
        Ok(inner.append(audit, key))
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
        let mut inner = self.lock()?;
        let record = inner
            .users
            .get_mut(user)
            .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
        let slot = match kind {
            PasswordKind::Approval => &mut record.approval_password,
            PasswordKind::PerTransfer => &mut record.transfer_password,
            PasswordKind::Login => &mut record.login_password,
        };
        if slot.as_ref() != expected {
            return Ok(false);
        }
        *slot = new.cloned();
        inner.append(audit, key);
        Ok(true)
    }

    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        Ok(self.lock()?.tokens.get(serial).map(TokenEntry::duplicate))
    }

    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut inner = self.lock()?;
        let mut seen = std::collections::HashSet::new();
        for t in &tokens {
            if inner.tokens.contains_key(&t.serial) || !seen.insert(t.serial) {
                return Err(StoreError::Duplicate(format!(
                    "token {}",
                    t.serial.masked()
                )));
            }
        }
        for t in tokens {
            inner.tokens.insert(t.serial, t);
        }
        Ok(inner.append(audit, key))
    }

    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        let user = v.user();
        let bound = inner
            .users
            .get(user)
            .is_some_and(|u| u.token.as_ref() == Some(v.serial()));
        let current = inner.tokens.get(v.serial()).is_some_and(|t| {
            t.status == TokenStatus::Assigned(user.clone()) && t.state == *v.expected_state()
        });
        if !bound || !current || !inner.locks_hold(v.locks()) {
            return Ok(false);
        }
        if let Some(t) = inner.tokens.get_mut(v.serial()) {
            t.state = *v.new_state();
        }
        inner.apply_locks(v.locks());
        if let (Some(at), Some(u)) = (v.login_at(), inner.users.get_mut(user)) {
            u.last_login = Some(at);
        }
        for entry in v.audit() {
            inner.append(entry, key);
        }
        Ok(true)
    }

    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        if let Some(c) = changes.iter().find(|c| !inner.users.contains_key(c.user())) {
            return Err(StoreError::NotFound(format!("user {}", c.user())));
        }
        if !inner.locks_hold(changes) {
            return Ok(false);
        }
        inner.apply_locks(changes);
        for entry in audit {
            inner.append(entry, key);
        }
        Ok(true)
    }

    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        let mut inner = self.lock()?;
        // Check everything first; change nothing unless all holds.
        let user = inner
            .users
            .get(change.user())
            .ok_or(SwitchError::Conflict)?;
        if user.token.as_ref() != change.expect_current() {
            return Err(SwitchError::Conflict);
        }
        if let Some(old) = change.revoke() {
            let entry = inner.tokens.get(old).ok_or(SwitchError::Conflict)?;
            if entry.status != TokenStatus::Assigned(change.user().clone()) {
                return Err(SwitchError::Conflict);
            }
        }
        if let Some((new, _)) = change.bind() {
            let entry = inner.tokens.get(new).ok_or(SwitchError::Conflict)?;
            if entry.status != change.bind_from() {
                return Err(SwitchError::Conflict);
            }
        }
        if !inner.locks_hold(change.locks()) {
            return Err(SwitchError::LockChanged);
        }
        // Apply.
        if let Some(old) = change.revoke()
            && let Some(entry) = inner.tokens.get_mut(old)
        {
            entry.status = TokenStatus::Revoked;
        }
        if let Some((new, state)) = change.bind()
            && let Some(entry) = inner.tokens.get_mut(new)
        {
            entry.status = TokenStatus::Assigned(change.user().clone());
            entry.state = *state;
        }
        if let Some(user) = inner.users.get_mut(change.user()) {
            if change.changes_binding() {
                user.token = change.bind().map(|(s, _)| *s);
            }
            if let Some(mode) = change.usage_mode() {
                user.usage_mode = mode;
            }
        }
        inner.apply_locks(change.locks());
        Ok(inner.append(change.audit(), key))
    }

    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        Ok(self.lock()?.append(entry, key))
    }

    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .audit
            .iter()
            .filter(|r| user.is_none_or(|u| r.entry.target.as_ref() == Some(u)))
            .filter(|r| (from..=to).contains(&r.entry.at))
            .cloned()
            .collect())
    }

    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(self.lock()?.audit.clone())
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        Ok(self.lock()?.audit.last().map(|r| AuditHead {
            seq: r.seq,
            hash: r.hash,
        }))
    }

    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        inner.nonces.retain(|_, expires| *expires >= now);
        if inner.nonces.contains_key(nonce) {
            return Ok(false);
        }
        inner.nonces.insert(*nonce, expires_at);
        Ok(true)
    }

    fn put_api_key(
        &self,
        record: &ApiKeyRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut inner = self.lock()?;
        if inner.api_keys.contains_key(&record.id) {
            return Err(StoreError::Duplicate(format!("API key {}", record.id)));
        }
        inner.api_keys.insert(record.id.clone(), record.clone());
        Ok(inner.append(audit, key))
    }

    fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.lock()?.api_keys.get(id).cloned())
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Ok(self.lock()?.api_keys.values().cloned().collect())
    }

    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        match inner.api_keys.get_mut(id) {
            Some(record) if record.revoked_at.is_none() => {
                record.revoked_at = Some(at);
                inner.append(audit, key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError> {
        if let Some(record) = self.lock()?.api_keys.get_mut(id) {
            record.last_used_at = Some(record.last_used_at.map_or(at, |last| last.max(at)));
        }
        Ok(())
    }
}
