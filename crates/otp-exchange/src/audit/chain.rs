//! The chain: the bank's [`AuditKey`], each [`AuditRecord`] MAC'd over its
//! number, the previous record's MAC and its bytes, the stored
//! [`AuditHead`], and [`verify_chain`] naming the first record that breaks.

use core::fmt;

use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::AuditEntry;

/// The key of the audit chain's MACs: 32 random bytes held outside the
/// database (a key file, an HSM, the environment), shared by every server
/// of one bank. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl AuditKey {
    /// A key from its bytes.
    #[must_use]
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh key from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`crate::StoreError::Crypto`] if the generator fails.
    pub fn random() -> Result<Self, crate::StoreError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        crate::bank::random_bytes(&mut bytes[..])?;
        Ok(Self(bytes))
    }

    /// The key's bytes, to write to a key file.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// How a stored record was chained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditFormat {
    /// Written before version 2: unkeyed SHA-256 over the entry's JSON.
    /// Accepted only as a prefix of the chain; the first version-2 record
    /// commits to the last of them under the key.
    V1,
    /// The explicit encoding, chained by HMAC-SHA-256 under the audit key.
    V2,
}

/// The chain's head as stored beside it: the last record's number and MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuditHead {
    /// The last record's number.
    pub seq: u64,
    /// The last record's MAC.
    pub hash: [u8; 32],
}

/// An entry in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// The event.
    pub entry: AuditEntry,
    /// The previous record's MAC (zeros for the first).
    pub prev_hash: [u8; 32],
    /// HMAC-SHA-256 under the audit key over `seq`, `prev_hash` and the
    /// entry's bytes (for a [`AuditFormat::V1`] record, the unkeyed
    /// SHA-256 of version 1).
    pub hash: [u8; 32],
    /// How the record was chained.
    pub format: AuditFormat,
}

pub(super) fn chain_mac(key: &AuditKey, seq: u64, prev: &[u8; 32], bytes: &[u8]) -> [u8; 32] {
    ChainMac::new(key).mac(seq, prev, bytes)
}

/// The chain's MAC with its key already absorbed (HMAC's inner and outer
/// key blocks hashed once): [`ChainMac::mac`] computes exactly what
/// [`AuditEntry::seal`] stores, so a store can key it and encode the entry
/// before it takes the chain's head, and do only the part that depends on
/// the previous record while holding it. Lives as long as one append; never
/// printed.
#[derive(Clone)]
pub(crate) struct ChainMac(hmac::Hmac<Sha256>);

impl ChainMac {
    /// The MAC keyed with `key`.
    pub(crate) fn new(key: &AuditKey) -> Self {
        Self(
            <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key.expose_secret())
                .unwrap_or_else(|_| unreachable_hmac()),
        )
    }

    /// The V2 MAC of record `seq` after `prev`, over the entry's encoded
    /// `bytes` ([`AuditEntry::encode`]).
    pub(crate) fn mac(&self, seq: u64, prev: &[u8; 32], bytes: &[u8]) -> [u8; 32] {
        let mut m = self.0.clone();
        m.update(b"otp-exchange audit v2\0");
        m.update(&seq.to_be_bytes());
        m.update(prev);
        m.update(bytes);
        m.finalize().into_bytes().into()
    }
}

impl fmt::Debug for ChainMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainMac(..)")
    }
}

/// HMAC accepts keys of any length; this is never reached.
#[cold]
pub(super) fn unreachable_hmac() -> hmac::Hmac<Sha256> {
    <hmac::Hmac<Sha256> as hmac::KeyInit>::new(&Default::default())
}

/// Version 1's unkeyed hash over the entry's JSON, to verify records
/// written before version 2.
pub(super) fn chain_hash_v1(
    seq: u64,
    prev_hash: &[u8; 32],
    entry: &AuditEntry,
) -> Option<[u8; 32]> {
    let json = serde_json::to_vec(entry).ok()?;
    let mut h = Sha256::new();
    h.update(b"otp-exchange audit v1\0");
    h.update(seq.to_be_bytes());
    h.update(prev_hash);
    h.update(json);
    Some(h.finalize().into())
}

/// Where a chain is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditError {
    /// Record `seq` does not verify under the key (edited, or written
    /// without the key).
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
    /// A version-1 (unkeyed) record after a version-2 one.
    Downgraded {
        /// The record's position.
        seq: u64,
    },
    /// The stored head names a record the chain does not end with: records
    /// at the end were removed (or the head was edited).
    Truncated {
        /// The head's record number.
        head: u64,
        /// The last record present (0 for none).
        last: u64,
    },
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Altered { seq } => write!(f, "audit record {seq} was altered"),
            Self::Broken { seq } => write!(f, "the audit chain is broken before record {seq}"),
            Self::Downgraded { seq } => {
                write!(f, "audit record {seq} is unkeyed but follows keyed records")
            }
            Self::Truncated { head, last } => write!(
                f,
                "the audit chain's head is record {head} but the chain ends at record {last}"
            ),
        }
    }
}

impl core::error::Error for AuditError {}

/// Checks a whole chain, from record 1, in order, under `key`, and that it
/// ends where the stored `head` says (`None`: an empty chain).
///
/// # Errors
///
/// [`AuditError`] at the first record that does not verify.
///
/// # Examples
///
/// ```
/// use otp_exchange::{verify_chain, Action, AuditEntry, AuditHead, AuditKey};
/// let key = AuditKey::new([7; 32]);
/// let first = AuditEntry::new(1, "W0001", None, Action::Import).seal(1, [0; 32], &key);
/// let second = AuditEntry::new(2, "W0001", None, Action::Import).seal(2, first.hash, &key);
/// let head = AuditHead { seq: 2, hash: second.hash };
/// assert!(verify_chain(&[first.clone(), second.clone()], &key, Some(head)).is_ok());
/// // The last record removed: the head tells.
/// assert!(verify_chain(&[first.clone()], &key, Some(head)).is_err());
/// let mut edited = second;
/// edited.entry.operator = "W0002".into();
/// assert!(verify_chain(&[first, edited], &key, Some(head)).is_err());
/// ```
pub fn verify_chain(
    records: &[AuditRecord],
    key: &AuditKey,
    head: Option<AuditHead>,
) -> Result<(), AuditError> {
    let mut prev = [0u8; 32];
    let mut keyed = false;
    let mut last = 0;
    for (expected_seq, r) in (1u64..).zip(records) {
        if r.seq != expected_seq || r.prev_hash != prev {
            return Err(AuditError::Broken { seq: r.seq });
        }
        let ok = match r.format {
            AuditFormat::V1 if keyed => return Err(AuditError::Downgraded { seq: r.seq }),
            AuditFormat::V1 => chain_hash_v1(r.seq, &r.prev_hash, &r.entry) == Some(r.hash),
            AuditFormat::V2 => {
                keyed = true;
                let expected = chain_mac(key, r.seq, &r.prev_hash, &r.entry.encode());
                bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &r.hash[..]))
            }
        };
        if !ok {
            return Err(AuditError::Altered { seq: r.seq });
        }
        prev = r.hash;
        last = r.seq;
    }
    match head {
        None if records.is_empty() => Ok(()),
        Some(h) if h.seq == last && h.hash == prev => Ok(()),
        Some(h) => Err(AuditError::Truncated { head: h.seq, last }),
        None => Err(AuditError::Truncated { head: 0, last }),
    }
}
