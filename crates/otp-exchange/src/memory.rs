//! The in-memory store: the reference implementation of [`Store`], for
//! tests and single-process embeddings. One mutex makes every method
//! atomic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use otp_core::TokenState;
use otp_token::SerialNumber;

use crate::{
    AuditEntry, AuditRecord, IdLock, Store, StoreError, Switch, SwitchError, TokenEntry,
    TokenStatus, UserId, UserPage, UserRecord,
};

/// Everything in memory, behind one mutex.
///
/// # Examples
///
/// ```
/// use otp_exchange::{Authority, MemoryStore, Store, UserId, UserRecord};
/// let store = MemoryStore::new();
/// store.put_user(&UserRecord::new(UserId::parse("W0001")?, "しんきん太郎", Authority::Administrator))?;
/// assert_eq!(store.users(0, 5)?.total, 1);
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
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Compare-and-set of a token's state, appending `audit` under the same
    /// lock when given.
    fn compare_and_set_state(
        &self,
        serial: &SerialNumber,
        expected: &TokenState,
        new: &TokenState,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        let entry = inner
            .tokens
            .get_mut(serial)
            .ok_or_else(|| StoreError::NotFound(format!("token {}", serial.masked())))?;
        if entry.state != *expected {
            return Ok(false);
        }
        entry.state = *new;
        if let Some(record) = audit {
            inner.append(record);
        }
        Ok(true)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("the in-memory store's lock is poisoned".into()))
    }
}

impl Inner {
    fn append(&mut self, entry: &AuditEntry) -> AuditRecord {
        let (seq, prev) = self
            .audit
            .last()
            .map_or((1, [0; 32]), |r| (r.seq.saturating_add(1), r.hash));
        let record = entry.clone().seal(seq, prev);
        self.audit.push(record.clone());
        record
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

    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let mut record = user.clone();
        if let Some(existing) = inner.users.get(&user.id) {
            record.token = existing.token;
            record.lock = existing.lock;
        }
        inner.users.insert(user.id.clone(), record);
        Ok(())
    }

    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        Ok(self.lock()?.tokens.get(serial).map(TokenEntry::duplicate))
    }

    fn add_tokens(&self, tokens: Vec<TokenEntry>) -> Result<(), StoreError> {
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
        Ok(())
    }

    fn update_token_state(
        &self,
        serial: &SerialNumber,
        expected: &TokenState,
        new: &TokenState,
    ) -> Result<bool, StoreError> {
        self.compare_and_set_state(serial, expected, new, None)
    }

    fn record_verification(
        &self,
        serial: &SerialNumber,
        expected: &TokenState,
        new: &TokenState,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.compare_and_set_state(serial, expected, new, Some(audit))
    }

    fn update_lock(
        &self,
        user: &UserId,
        expected: &IdLock,
        new: &IdLock,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        let record = inner
            .users
            .get_mut(user)
            .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
        if record.lock != *expected {
            return Ok(false);
        }
        record.lock = *new;
        Ok(true)
    }

    fn switch(&self, change: &Switch) -> Result<AuditRecord, SwitchError> {
        let mut inner = self.lock()?;
        // Check everything first; change nothing unless all holds.
        let user = inner.users.get(&change.user).ok_or(SwitchError::Conflict)?;
        if user.token != change.expect_current {
            return Err(SwitchError::Conflict);
        }
        if let Some(old) = &change.revoke {
            let entry = inner.tokens.get(old).ok_or(SwitchError::Conflict)?;
            if entry.status != TokenStatus::Assigned(change.user.clone()) {
                return Err(SwitchError::Conflict);
            }
        }
        if let Some((new, _)) = &change.bind {
            let entry = inner.tokens.get(new).ok_or(SwitchError::Conflict)?;
            if entry.status != TokenStatus::Unassigned {
                return Err(SwitchError::Conflict);
            }
        }
        // Apply.
        if let Some(old) = &change.revoke
            && let Some(entry) = inner.tokens.get_mut(old)
        {
            entry.status = TokenStatus::Revoked;
        }
        if let Some((new, state)) = &change.bind
            && let Some(entry) = inner.tokens.get_mut(new)
        {
            entry.status = TokenStatus::Assigned(change.user.clone());
            entry.state = *state;
        }
        if let Some(user) = inner.users.get_mut(&change.user) {
            user.token = change.bind.as_ref().map(|(s, _)| *s);
        }
        Ok(inner.append(&change.audit))
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        Ok(self.lock()?.append(entry))
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
}
