//! The in-memory store: the reference implementation of [`Store`], for
//! tests and single-process embeddings.
//!
//! Users and tokens live in 64 shards each (a key's shard is a
//! fixed hash of it), every shard behind its own reader-writer lock; the
//! audit chain has one mutex of its own. A read locks one shard. A write
//! locks, for writing, exactly the shards it reads and changes, always in
//! one global order (user shards by index, then token shards by index,
//! then the API keys, then the chain), so two writes never wait for each
//! other in a cycle, and two verifications of different users and tokens
//! share nothing but the chain. Every method is still atomic: a write
//! checks and changes its shards and appends its audit records while it
//! holds all of them, so no reader sees its state without its records or
//! its records without its state. The chain's lock is held only for what
//! depends on the previous record (its number and MAC, and the push): the
//! entry is encoded and the key's HMAC blocks hashed before it is taken.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use otp_core::TokenState;
use otp_provision::SerialNumber;

use crate::audit::ChainMac;
use crate::{
    ApiKeyRecord, AuditEntry, AuditHead, AuditKey, AuditRecord, LockChange, PasswordHash,
    PasswordKind, StateSlot, Store, StoreError, Switch, SwitchError, TokenEntry, TokenStatus,
    UserId, UserPage, UserRecord, Verification,
};

/// How many shards the users, and the tokens, are split into.
const SHARDS: usize = 64;

type Users = BTreeMap<UserId, UserRecord>;
type Tokens = HashMap<SerialNumber, TokenEntry>;
/// A record's number, the MAC before it and its MAC.
type Sealed = (u64, [u8; 32], [u8; 32]);

/// Everything in memory: users and tokens in 64 locked shards
/// each, the audit chain behind its own lock (see the module's notes).
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
pub struct MemoryStore {
    users: Vec<RwLock<Users>>,
    tokens: Vec<RwLock<Tokens>>,
    api_keys: Mutex<BTreeMap<String, ApiKeyRecord>>,
    nonces: Mutex<HashMap<[u8; 16], u64>>,
    audit: Mutex<Vec<AuditRecord>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            users: (0..SHARDS).map(|_| RwLock::default()).collect(),
            tokens: (0..SHARDS).map(|_| RwLock::default()).collect(),
            api_keys: Mutex::default(),
            nonces: Mutex::default(),
            audit: Mutex::default(),
        }
    }
}

/// Counts only: no record, secret or hash is printed.
impl core::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let audit = self.audit.try_lock().map(|a| a.len()).ok();
        f.debug_struct("MemoryStore")
            .field("shards", &SHARDS)
            .field("audit_records", &audit)
            .finish_non_exhaustive()
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("the in-memory store's lock is poisoned".into())
}

/// The shard of `key`: a fixed hash (SipHash with zero keys), the same in
/// every run.
fn shard_of<K: Hash + ?Sized>(key: &K) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    let n = u64::try_from(SHARDS).unwrap_or(1);
    usize::try_from(h.finish() % n).unwrap_or(0)
}

fn read<M>(shard: Option<&RwLock<M>>) -> Result<RwLockReadGuard<'_, M>, StoreError> {
    shard.ok_or_else(poisoned)?.read().map_err(|_| poisoned())
}

/// Some shards of one kind, locked for writing in ascending order.
struct Held<'a, M> {
    guards: Vec<(usize, RwLockWriteGuard<'a, M>)>,
}

impl<'a, M> Held<'a, M> {
    /// Locks the shards numbered `wanted` (in any order, repeats allowed)
    /// in ascending order.
    fn lock(shards: &'a [RwLock<M>], mut wanted: Vec<usize>) -> Result<Self, StoreError> {
        wanted.sort_unstable();
        wanted.dedup();
        let mut guards = Vec::with_capacity(wanted.len());
        for i in wanted {
            let shard = shards.get(i).ok_or_else(poisoned)?;
            guards.push((i, shard.write().map_err(|_| poisoned())?));
        }
        Ok(Self { guards })
    }

    /// Every shard, in order.
    fn all(shards: &'a [RwLock<M>]) -> Result<Self, StoreError> {
        Self::lock(shards, (0..shards.len()).collect())
    }

    fn shard(&self, i: usize) -> Option<&M> {
        self.guards.iter().find(|(j, _)| *j == i).map(|(_, g)| &**g)
    }

    fn shard_mut(&mut self, i: usize) -> Option<&mut M> {
        self.guards
            .iter_mut()
            .find(|(j, _)| *j == i)
            .map(|(_, g)| &mut **g)
    }
}

impl Held<'_, Users> {
    fn get(&self, id: &UserId) -> Option<&UserRecord> {
        self.shard(shard_of(id)).and_then(|m| m.get(id))
    }

    fn get_mut(&mut self, id: &UserId) -> Option<&mut UserRecord> {
        self.shard_mut(shard_of(id)).and_then(|m| m.get_mut(id))
    }

    /// Whether every lock is still as expected (an unknown user: not).
    fn locks_hold(&self, changes: &[LockChange]) -> bool {
        changes
            .iter()
            .all(|c| self.get(c.user()).is_some_and(|u| u.lock == *c.expected()))
    }

    fn apply_locks(&mut self, changes: &[LockChange]) {
        for c in changes {
            if let Some(u) = self.get_mut(c.user()) {
                u.lock = *c.new_lock();
                if let Some(at) = c.login_at() {
                    u.last_login = Some(at);
                }
            }
        }
    }
}

impl Held<'_, Tokens> {
    fn get(&self, serial: &SerialNumber) -> Option<&TokenEntry> {
        self.shard(shard_of(serial)).and_then(|m| m.get(serial))
    }

    fn get_mut(&mut self, serial: &SerialNumber) -> Option<&mut TokenEntry> {
        self.shard_mut(shard_of(serial))
            .and_then(|m| m.get_mut(serial))
    }
}

/// Entries ready to be chained: keyed MAC and encoded bytes made before
/// the chain's lock is taken.
struct Sealing {
    mac: ChainMac,
    entries: Vec<(AuditEntry, Vec<u8>)>,
}

impl Sealing {
    fn new<'e>(entries: impl IntoIterator<Item = &'e AuditEntry>, key: &AuditKey) -> Self {
        Self {
            mac: ChainMac::new(key),
            entries: entries
                .into_iter()
                .map(|e| (e.clone(), e.encode()))
                .collect(),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn chain(&self) -> Result<MutexGuard<'_, Vec<AuditRecord>>, StoreError> {
        self.audit.lock().map_err(|_| poisoned())
    }

    /// Appends the prepared entries; returns the last one's number, the
    /// MAC before it and its MAC. Callers hold the shards the records
    /// describe, so the records and the state appear together.
    fn append(&self, sealing: Sealing) -> Result<Option<Sealed>, StoreError> {
        let mut chain = self.chain()?;
        let mut last = None;
        for (entry, bytes) in sealing.entries {
            let (seq, prev) = chain
                .last()
                .map_or((1, [0; 32]), |r| (r.seq.saturating_add(1), r.hash));
            let hash = sealing.mac.mac(seq, &prev, &bytes);
            chain.push(AuditRecord {
                seq,
                entry,
                prev_hash: prev,
                hash,
                format: crate::AuditFormat::V2,
            });
            last = Some((seq, prev, hash));
        }
        Ok(last)
    }

    /// Appends one entry and returns its record (built outside the lock).
    fn append_one(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        let returned = entry.clone();
        let (seq, prev_hash, hash) = self
            .append(Sealing::new([entry], key))?
            .ok_or_else(poisoned)?;
        Ok(AuditRecord {
            seq,
            entry: returned,
            prev_hash,
            hash,
            format: crate::AuditFormat::V2,
        })
    }

    fn lock_users(
        &self,
        ids: impl IntoIterator<Item = usize>,
    ) -> Result<Held<'_, Users>, StoreError> {
        Held::lock(&self.users, ids.into_iter().collect())
    }

    fn lock_tokens(
        &self,
        serials: impl IntoIterator<Item = usize>,
    ) -> Result<Held<'_, Tokens>, StoreError> {
        Held::lock(&self.tokens, serials.into_iter().collect())
    }
}

/// The user shards a set of lock changes (and one more user) touches.
fn user_shards<'u>(
    user: Option<&'u UserId>,
    changes: &'u [LockChange],
) -> impl Iterator<Item = usize> + 'u {
    user.into_iter()
        .chain(changes.iter().map(LockChange::user))
        .map(shard_of)
}

impl Store for MemoryStore {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(read(self.users.get(shard_of(id)))?.get(id).cloned())
    }

    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        // One consistent view: every shard read-locked, in order.
        let guards = self
            .users
            .iter()
            .map(|s| s.read().map_err(|_| poisoned()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut all: Vec<&UserRecord> = guards.iter().flat_map(|g| g.values()).collect();
        all.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(UserPage {
            total: all.len(),
            users: all.into_iter().skip(offset).take(limit).cloned().collect(),
        })
    }

    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let returned = audit.clone();
        let sealing = Sealing::new([audit], key);
        let mut users = self.lock_users([shard_of(&user.id)])?;
        let mut record = user.clone();
        if let Some(existing) = users.get(&user.id) {
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
        users
            .shard_mut(shard_of(&user.id))
            .ok_or_else(poisoned)?
            .insert(user.id.clone(), record);
        let (seq, prev_hash, hash) = self.append(sealing)?.ok_or_else(poisoned)?;
        drop(users);
        Ok(AuditRecord {
            seq,
            entry: returned,
            prev_hash,
            hash,
            format: crate::AuditFormat::V2,
        })
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
        let sealing = Sealing::new([audit], key);
        let mut users = self.lock_users([shard_of(user)])?;
        let record = users
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
        self.append(sealing)?;
        Ok(true)
    }

    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        Ok(read(self.tokens.get(shard_of(serial)))?
            .get(serial)
            .map(TokenEntry::duplicate))
    }

    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let returned = audit.clone();
        let sealing = Sealing::new([audit], key);
        let mut held = Held::all(&self.tokens)?;
        let mut seen = std::collections::HashSet::new();
        for t in &tokens {
            if held.get(&t.serial).is_some() || !seen.insert(t.serial) {
                return Err(StoreError::Duplicate(format!(
                    "token {}",
                    t.serial.masked()
                )));
            }
        }
        for t in tokens {
            held.shard_mut(shard_of(&t.serial))
                .ok_or_else(poisoned)?
                .insert(t.serial, t);
        }
        let (seq, prev_hash, hash) = self.append(sealing)?.ok_or_else(poisoned)?;
        drop(held);
        Ok(AuditRecord {
            seq,
            entry: returned,
            prev_hash,
            hash,
            format: crate::AuditFormat::V2,
        })
    }

    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        let sealing = Sealing::new(v.audit(), key);
        let user = v.user();
        let mut users = self.lock_users(user_shards(Some(user), v.locks()))?;
        let mut tokens = self.lock_tokens([shard_of(v.serial())])?;
        let bound = users
            .get(user)
            .is_some_and(|u| u.token.as_ref() == Some(v.serial()));
        let current = tokens.get(v.serial()).is_some_and(|t| {
            matches!(&t.status, TokenStatus::Assigned(owner) if owner == user)
                && *state_of(t, v.slot()) == *v.expected_state()
        });
        if !bound || !current || !users.locks_hold(v.locks()) {
            return Ok(false);
        }
        if let Some(t) = tokens.get_mut(v.serial()) {
            *state_mut(t, v.slot()) = *v.new_state();
        }
        users.apply_locks(v.locks());
        if let (Some(at), Some(u)) = (v.login_at(), users.get_mut(user)) {
            u.last_login = Some(at);
        }
        self.append(sealing)?;
        Ok(true)
    }

    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let sealing = Sealing::new(audit, key);
        let mut users = self.lock_users(user_shards(None, changes))?;
        if let Some(c) = changes.iter().find(|c| users.get(c.user()).is_none()) {
            return Err(StoreError::NotFound(format!("user {}", c.user())));
        }
        if !users.locks_hold(changes) {
            return Ok(false);
        }
        users.apply_locks(changes);
        self.append(sealing)?;
        Ok(true)
    }

    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        let returned = change.audit().clone();
        let sealing = Sealing::new([change.audit()], key);
        let mut users = self.lock_users(user_shards(Some(change.user()), change.locks()))?;
        let serials = change
            .revoke()
            .into_iter()
            .chain(change.bind().map(|(s, _)| s));
        let mut tokens = self.lock_tokens(serials.map(shard_of))?;
        // Check everything first; change nothing unless all holds.
        let user = users.get(change.user()).ok_or(SwitchError::Conflict)?;
        if user.token.as_ref() != change.expect_current() {
            return Err(SwitchError::Conflict);
        }
        if let Some(old) = change.revoke() {
            let entry = tokens.get(old).ok_or(SwitchError::Conflict)?;
            if entry.status != TokenStatus::Assigned(change.user().clone()) {
                return Err(SwitchError::Conflict);
            }
        }
        if let Some((new, _)) = change.bind() {
            let entry = tokens.get(new).ok_or(SwitchError::Conflict)?;
            if entry.status != change.bind_from() {
                return Err(SwitchError::Conflict);
            }
        }
        if !users.locks_hold(change.locks()) {
            return Err(SwitchError::LockChanged);
        }
        // Apply.
        if let Some(old) = change.revoke()
            && let Some(entry) = tokens.get_mut(old)
        {
            entry.status = TokenStatus::Revoked;
        }
        if let Some((new, state)) = change.bind()
            && let Some(entry) = tokens.get_mut(new)
        {
            entry.status = TokenStatus::Assigned(change.user().clone());
            entry.state = *state;
        }
        if let Some(user) = users.get_mut(change.user()) {
            if change.changes_binding() {
                user.token = change.bind().map(|(s, _)| *s);
            }
            if let Some(mode) = change.usage_mode() {
                user.usage_mode = mode;
            }
        }
        users.apply_locks(change.locks());
        let (seq, prev_hash, hash) = self.append(sealing)?.ok_or_else(poisoned)?;
        drop(tokens);
        drop(users);
        Ok(AuditRecord {
            seq,
            entry: returned,
            prev_hash,
            hash,
            format: crate::AuditFormat::V2,
        })
    }

    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        self.append_one(entry, key)
    }

    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(self
            .chain()?
            .iter()
            .filter(|r| user.is_none_or(|u| r.entry.target.as_ref() == Some(u)))
            .filter(|r| (from..=to).contains(&r.entry.at))
            .cloned()
            .collect())
    }

    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(self.chain()?.clone())
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        Ok(self.chain()?.last().map(|r| AuditHead {
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
        let mut nonces = self.nonces.lock().map_err(|_| poisoned())?;
        nonces.retain(|_, expires| *expires >= now);
        if nonces.contains_key(nonce) {
            return Ok(false);
        }
        nonces.insert(*nonce, expires_at);
        Ok(true)
    }

    fn put_api_key(
        &self,
        record: &ApiKeyRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let returned = audit.clone();
        let sealing = Sealing::new([audit], key);
        let mut keys = self.api_keys.lock().map_err(|_| poisoned())?;
        if keys.contains_key(&record.id) {
            return Err(StoreError::Duplicate(format!("API key {}", record.id)));
        }
        keys.insert(record.id.clone(), record.clone());
        let (seq, prev_hash, hash) = self.append(sealing)?.ok_or_else(poisoned)?;
        drop(keys);
        Ok(AuditRecord {
            seq,
            entry: returned,
            prev_hash,
            hash,
            format: crate::AuditFormat::V2,
        })
    }

    fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self
            .api_keys
            .lock()
            .map_err(|_| poisoned())?
            .get(id)
            .cloned())
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Ok(self
            .api_keys
            .lock()
            .map_err(|_| poisoned())?
            .values()
            .cloned()
            .collect())
    }

    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let sealing = Sealing::new([audit], key);
        let mut keys = self.api_keys.lock().map_err(|_| poisoned())?;
        match keys.get_mut(id) {
            Some(record) if record.revoked_at.is_none() => {
                record.revoked_at = Some(at);
                self.append(sealing)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError> {
        if let Some(record) = self.api_keys.lock().map_err(|_| poisoned())?.get_mut(id) {
            record.last_used_at = Some(record.last_used_at.map_or(at, |last| last.max(at)));
        }
        Ok(())
    }
}

/// The state of `t` a verification of `slot` compares.
const fn state_of(t: &TokenEntry, slot: StateSlot) -> &TokenState {
    match slot {
        StateSlot::Login => &t.state,
        StateSlot::Signing => &t.signing,
    }
}

/// The state of `t` a verification of `slot` sets.
const fn state_mut(t: &mut TokenEntry, slot: StateSlot) -> &mut TokenState {
    match slot {
        StateSlot::Login => &mut t.state,
        StateSlot::Signing => &mut t.signing,
    }
}

#[cfg(test)]
mod tests {
    //! Interleavings the shards allow, made deterministic: the test holds
    //! the chain's lock, so a write that took its shards waits there, and
    //! a second write that needs one of those shards waits behind it.

    use std::time::Duration;

    use otp_core::{Secret, TokenState};
    use otp_provision::{Profile, SeedRecord};

    use super::*;
    use crate::{Action, Authority, IdLock, verify_chain};

    fn key() -> AuditKey {
        AuditKey::new([3; 32])
    }

    fn serial(n: u64) -> SerialNumber {
        SerialNumber::numbered("VT", n).unwrap()
    }

    fn token(n: u64) -> TokenEntry {
        let secret = Secret::from_bytes(&[7; 20]).unwrap();
        TokenEntry::unassigned(SeedRecord::new(
            serial(n).as_str(),
            secret,
            Profile::default(),
        ))
        .unwrap()
    }

    fn entry(user: &UserId, reason: &str) -> AuditEntry {
        let mut e = AuditEntry::new(1, "W0001", Some(user), Action::Login);
        e.reason = Some(reason.to_owned());
        e
    }

    /// Two users in one user shard, each bound to a token, the two tokens
    /// in one token shard, and a stock token.
    fn colliding() -> (MemoryStore, UserId, UserId, u64, u64, u64) {
        let ids: Vec<UserId> = (0..1_000)
            .map(|i| UserId::parse(&format!("U{i:04}")).unwrap())
            .collect();
        let (x, y) = ids
            .iter()
            .enumerate()
            .find_map(|(i, a)| {
                ids.iter()
                    .skip(i + 1)
                    .find(|b| shard_of(*b) == shard_of(a))
                    .map(|b| (a.clone(), b.clone()))
            })
            .unwrap();
        let (tx, ty) = (1..1_000u64)
            .find_map(|a| {
                (a + 1..1_000)
                    .find(|b| shard_of(&serial(*b)) == shard_of(&serial(a)))
                    .map(|b| (a, b))
            })
            .unwrap();
        let stock = (1..1_000u64).find(|n| *n != tx && *n != ty).unwrap();
        let store = MemoryStore::new();
        let k = key();
        store
            .add_tokens(
                vec![token(tx), token(ty), token(stock)],
                &entry(&x, "setup"),
                &k,
            )
            .unwrap();
        for (u, n) in [(&x, tx), (&y, ty)] {
            store
                .put_user(
                    &UserRecord::new(u.clone(), "name", Authority::General),
                    &entry(u, "setup"),
                    &k,
                )
                .unwrap();
            store
                .switch(
                    &Switch::new(
                        u.clone(),
                        None,
                        None,
                        Some((serial(n), TokenState::new())),
                        Vec::new(),
                        entry(u, "setup"),
                    ),
                    &k,
                )
                .unwrap();
        }
        (store, x, y, tx, ty, stock)
    }

    fn next() -> TokenState {
        TokenState {
            floor: 5,
            ..TokenState::new()
        }
    }

    fn verification(store: &MemoryStore, u: &UserId, n: u64, reason: &str) -> Verification {
        let lock = store.user(u).unwrap().unwrap().lock;
        let counted = IdLock {
            binding: lock.binding,
            unlocks: lock.unlocks + 1,
            ..lock
        };
        Verification::new(
            u.clone(),
            serial(n),
            TokenState::new(),
            next(),
            vec![LockChange::new(u.clone(), lock, counted)],
            vec![entry(u, reason)],
        )
    }

    fn exchange(store: &MemoryStore, u: &UserId, old: u64, new: u64, reason: &str) -> Switch {
        let lock = store.user(u).unwrap().unwrap().lock;
        let moved = IdLock {
            binding: lock.binding + 1,
            ..lock
        };
        Switch::new(
            u.clone(),
            Some(serial(old)),
            Some(serial(old)),
            Some((serial(new), TokenState::new())),
            vec![LockChange::new(u.clone(), lock, moved)],
            entry(u, reason),
        )
    }

    /// Waits until a writer holds user shard `i` (a read would block).
    fn until_held(store: &MemoryStore, i: usize) {
        while store.users[i].try_read().is_ok() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn reasons(store: &MemoryStore) -> Vec<String> {
        let chain = store.audit_chain().unwrap();
        verify_chain(&chain, &key(), store.audit_head().unwrap()).unwrap();
        chain
            .into_iter()
            .filter_map(|r| r.entry.reason)
            .filter(|r| r != "setup")
            .collect()
    }

    /// X's verification holds the user shard it shares with Y while it
    /// waits for the chain; Y's exchange (same user shard, same token
    /// shard) waits behind it, then commits: both are saved, in that
    /// order, and each changed only its own user and tokens.
    #[test]
    fn a_switch_waits_for_a_verification_on_a_shared_shard_and_both_commit() {
        let (store, x, y, tx, ty, stock) = colliding();
        let k = key();
        let v = verification(&store, &x, tx, "verify x");
        let sw = exchange(&store, &y, ty, stock, "switch y");
        let chain = store.audit.lock().unwrap();
        std::thread::scope(|s| {
            let first = s.spawn(|| store.record_verification(&v, &k));
            until_held(&store, shard_of(&x));
            let second = s.spawn(|| store.switch(&sw, &k));
            std::thread::sleep(Duration::from_millis(20));
            assert!(!second.is_finished() && !first.is_finished());
            drop(chain);
            assert_eq!(first.join().unwrap(), Ok(true));
            assert!(second.join().unwrap().is_ok());
        });
        assert_eq!(reasons(&store), ["verify x", "switch y"]);
        assert_eq!(store.token(&serial(tx)).unwrap().unwrap().state, next());
        assert_eq!(
            store.token(&serial(ty)).unwrap().unwrap().status,
            TokenStatus::Revoked
        );
        assert_eq!(store.user(&y).unwrap().unwrap().token, Some(serial(stock)));
        assert_eq!(store.user(&x).unwrap().unwrap().token, Some(serial(tx)));
    }

    /// X's exchange holds X's shards while it waits for the chain; a
    /// verification of X's old token, built from the reads before the
    /// exchange, waits behind it and is then refused (the token is
    /// revoked): nothing of it is saved.
    #[test]
    fn a_verification_behind_a_switch_of_its_token_is_refused() {
        let (store, x, _y, tx, _ty, stock) = colliding();
        let k = key();
        let v = verification(&store, &x, tx, "verify x");
        let sw = exchange(&store, &x, tx, stock, "switch x");
        let chain = store.audit.lock().unwrap();
        std::thread::scope(|s| {
            let first = s.spawn(|| store.switch(&sw, &k));
            until_held(&store, shard_of(&x));
            let second = s.spawn(|| store.record_verification(&v, &k));
            std::thread::sleep(Duration::from_millis(20));
            assert!(!second.is_finished() && !first.is_finished());
            drop(chain);
            assert!(first.join().unwrap().is_ok());
            assert_eq!(second.join().unwrap(), Ok(false));
        });
        assert_eq!(reasons(&store), ["switch x"]);
        let old = store.token(&serial(tx)).unwrap().unwrap();
        assert_eq!(old.status, TokenStatus::Revoked);
        assert_eq!(old.state, TokenState::new());
    }

    /// Two exchanges binding the same stock token, from users in one
    /// shard: the second waits behind the first and is refused.
    #[test]
    fn two_switches_for_one_stock_token_bind_it_once() {
        let (store, x, y, tx, ty, stock) = colliding();
        let k = key();
        let a = exchange(&store, &x, tx, stock, "switch x");
        let b = exchange(&store, &y, ty, stock, "switch y");
        let chain = store.audit.lock().unwrap();
        std::thread::scope(|s| {
            let first = s.spawn(|| store.switch(&a, &k));
            until_held(&store, shard_of(&x));
            let second = s.spawn(|| store.switch(&b, &k));
            std::thread::sleep(Duration::from_millis(20));
            drop(chain);
            assert!(first.join().unwrap().is_ok());
            assert_eq!(second.join().unwrap(), Err(SwitchError::Conflict));
        });
        assert_eq!(reasons(&store), ["switch x"]);
        assert_eq!(store.user(&y).unwrap().unwrap().token, Some(serial(ty)));
    }

    #[test]
    fn debug_prints_no_record() {
        let (store, ..) = colliding();
        let text = format!("{store:?}");
        assert!(!text.contains("U0"), "{text}");
        assert!(text.starts_with("MemoryStore"), "{text}");
    }
}
