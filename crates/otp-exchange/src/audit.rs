//! The audit trail (利用履歴照会): every attempt and outcome, append-only
//! and tamper-evident. Each record carries the SHA-256 of the previous
//! record, so removing, reordering or editing one breaks the chain.
//! Records never contain a secret, a typed code or a password.

use core::fmt;

use otp_token::SerialNumber;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::UserId;

/// What was attempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Action {
    /// A login code verified against a user's token.
    Login,
    /// The administrator selected a user for exchange or registration.
    Select,
    /// A code from the user's current token (exchange step 2).
    CurrentCode,
    /// The new token's serial, code and the approval password (step 3).
    NewToken,
    /// The atomic switch from the old token to the new one.
    Exchange,
    /// A first token registered for a user without one.
    Register,
    /// A token unregistered (登録解除).
    Unregister,
    /// The user reported no current token: the branch is required.
    NoCurrentToken,
    /// A branch officer revoked a lost or broken token.
    BranchRevoke,
    /// An administrator unlocked an ID.
    Unlock,
    /// An administrator locked an ID on purpose.
    Lock,
    /// Tokens were added to the inventory from a seed file.
    Import,
    /// A user was created or updated.
    UserUpdate,
}

/// Whether the attempt succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditResult {
    /// It did.
    Ok,
    /// It was refused; `reason` says why.
    Refused,
}

/// One event, before it is chained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix time of the event.
    pub at: u64,
    /// Who did it (an administrator, a user logging in, or a branch
    /// officer's reference).
    pub operator: String,
    /// Whose ID or token it was about.
    pub target: Option<UserId>,
    /// What was attempted.
    pub action: Action,
    /// The old token's serial, masked.
    pub old_serial: Option<String>,
    /// The new token's serial, masked.
    pub new_serial: Option<String>,
    /// The outcome.
    pub result: AuditResult,
    /// A stable reason code when refused (see `Refusal::reason_code`).
    pub reason: Option<String>,
}

impl AuditEntry {
    /// A new entry; serials are masked when set with [`with_old`](Self::with_old)
    /// and [`with_new`](Self::with_new).
    #[must_use]
    pub fn new(at: u64, operator: &str, target: Option<&UserId>, action: Action) -> Self {
        Self {
            at,
            operator: operator.to_owned(),
            target: target.cloned(),
            action,
            old_serial: None,
            new_serial: None,
            result: AuditResult::Ok,
            reason: None,
        }
    }

    /// Records the old token's serial, masked.
    #[must_use]
    pub fn with_old(mut self, serial: Option<&SerialNumber>) -> Self {
        self.old_serial = serial.map(|s| s.masked().to_string());
        self
    }

    /// Records the new token's serial, masked.
    #[must_use]
    pub fn with_new(mut self, serial: Option<&SerialNumber>) -> Self {
        self.new_serial = serial.map(|s| s.masked().to_string());
        self
    }

    /// Marks the entry refused, with the reason code.
    #[must_use]
    pub fn refused(mut self, reason: &str) -> Self {
        self.result = AuditResult::Refused;
        self.reason = Some(reason.to_owned());
        self
    }

    /// Chains the entry after the record whose hash is `prev_hash` (all
    /// zeros for the first), as record number `seq`. Stores call this in
    /// the same transaction that reads the last record.
    #[must_use]
    pub fn seal(self, seq: u64, prev_hash: [u8; 32]) -> AuditRecord {
        let hash = chain_hash(seq, &prev_hash, &self);
        AuditRecord {
            seq,
            entry: self,
            prev_hash,
            hash,
        }
    }
}

/// An entry in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// The event.
    pub entry: AuditEntry,
    /// SHA-256 of the previous record (zeros for the first).
    pub prev_hash: [u8; 32],
    /// SHA-256 over `seq`, `prev_hash` and the entry's canonical JSON.
    pub hash: [u8; 32],
}

fn chain_hash(seq: u64, prev_hash: &[u8; 32], entry: &AuditEntry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"otp-exchange audit v1\0");
    h.update(seq.to_be_bytes());
    h.update(prev_hash);
    // Serialising a struct of strings, integers and enums cannot fail; an
    // empty body would still be chained and then fail verification.
    h.update(serde_json::to_vec(entry).unwrap_or_default());
    h.finalize().into()
}

/// Where a chain is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditError {
    /// Record `seq` does not hash to its stored hash (edited).
    Altered {
        /// The record's position.
        seq: u64,
    },
    /// Record `seq` does not follow the previous record (removed,
    /// inserted or reordered).
    Broken {
        /// The record's position.
        seq: u64,
    },
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Altered { seq } => write!(f, "audit record {seq} was altered"),
            Self::Broken { seq } => write!(f, "the audit chain is broken before record {seq}"),
        }
    }
}

impl core::error::Error for AuditError {}

/// Checks a whole chain, from record 1, in order.
///
/// # Errors
///
/// [`AuditError`] at the first record that does not verify.
///
/// # Examples
///
/// ```
/// use otp_exchange::{verify_chain, Action, AuditEntry};
/// let first = AuditEntry::new(1, "W0001", None, Action::Import).seal(1, [0; 32]);
/// let second = AuditEntry::new(2, "W0001", None, Action::Import).seal(2, first.hash);
/// assert!(verify_chain(&[first.clone(), second.clone()]).is_ok());
/// let mut edited = second;
/// edited.entry.operator = "W0002".into();
/// assert!(verify_chain(&[first, edited]).is_err());
/// ```
pub fn verify_chain(records: &[AuditRecord]) -> Result<(), AuditError> {
    let mut prev = [0u8; 32];
    for (expected_seq, r) in (1u64..).zip(records) {
        if r.seq != expected_seq || r.prev_hash != prev {
            return Err(AuditError::Broken { seq: r.seq });
        }
        if chain_hash(r.seq, &r.prev_hash, &r.entry) != r.hash {
            return Err(AuditError::Altered { seq: r.seq });
        }
        prev = r.hash;
    }
    Ok(())
}
