//! An audit record's columns, as written and as read, and the chain's
//! stored head.

use otp_exchange::{AuditEntry, AuditFormat, AuditRecord, StoreError, UserId};

use super::{corrupt, time_key, to_db};

pub(crate) fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| corrupt(&format!("an audit record's {what} is not 32 bytes")))
}

/// The columns of an audit record as written: version-2 records keep their
/// explicit bytes in `body` (and `''` in `entry`, the column that held
/// version 1's JSON); `at` and `target` are copies for the usage
/// history's index.
pub(crate) struct AuditCols<'a> {
    pub(crate) seq: i64,
    pub(crate) at: i64,
    pub(crate) target: Option<&'a str>,
    pub(crate) entry: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) prev_hash: &'a [u8],
    pub(crate) hash: &'a [u8],
}

impl<'a> AuditCols<'a> {
    pub(crate) fn encode(record: &'a AuditRecord) -> Self {
        Self {
            seq: to_db(record.seq),
            at: time_key(record.entry.at),
            target: record.entry.target.as_ref().map(UserId::as_str),
            entry: "",
            body: record.entry.encode(),
            prev_hash: &record.prev_hash,
            hash: &record.hash,
        }
    }
}

/// An audit row as read.
pub(crate) struct AuditRow {
    pub(crate) seq: i64,
    pub(crate) at: i64,
    pub(crate) target: Option<String>,
    pub(crate) entry: String,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) prev_hash: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

impl AuditRow {
    /// The record: from `body` (version 2) or, when `body` is NULL, from
    /// version 1's JSON in `entry`. The `at` and `target` columns must
    /// agree with the record: they select the usage history, so an edited
    /// copy would hide a record from it.
    pub(crate) fn decode(self) -> Result<AuditRecord, StoreError> {
        let (entry, format) = match &self.body {
            Some(bytes) => (
                AuditEntry::decode(bytes).map_err(|e| corrupt(&format!("an audit record: {e}")))?,
                AuditFormat::V2,
            ),
            None => (
                serde_json::from_str(&self.entry)
                    .map_err(|_| corrupt("a version-1 audit record's entry is not valid JSON"))?,
                AuditFormat::V1,
            ),
        };
        if self.at != time_key(entry.at) {
            return Err(corrupt(
                "an audit record's at column does not match the record",
            ));
        }
        if self.target.as_deref() != entry.target.as_ref().map(UserId::as_str) {
            return Err(corrupt(
                "an audit record's target column does not match the record",
            ));
        }
        Ok(AuditRecord {
            seq: u64::try_from(self.seq)
                .map_err(|_| corrupt("an audit record's number is negative"))?,
            entry,
            prev_hash: hash32(&self.prev_hash, "previous hash")?,
            hash: hash32(&self.hash, "hash")?,
            format,
        })
    }
}

/// The chain's head as stored (`seq` 0: no record yet).
pub(crate) fn audit_head(
    seq: i64,
    hash: &[u8],
) -> Result<Option<otp_exchange::AuditHead>, StoreError> {
    let seq = u64::try_from(seq).map_err(|_| corrupt("the audit head's number is negative"))?;
    let hash = hash32(hash, "head hash")?;
    Ok((seq != 0).then_some(otp_exchange::AuditHead { seq, hash }))
}

/// The number and previous MAC of the record to append after `head`.
pub(crate) fn next_after(seq: i64, hash: &[u8]) -> Result<(u64, [u8; 32]), StoreError> {
    let seq = u64::try_from(seq).map_err(|_| corrupt("the audit head's number is negative"))?;
    let next = seq
        .checked_add(1)
        .ok_or_else(|| corrupt("the audit head's number is at its maximum"))?;
    Ok((next, hash32(hash, "head hash")?))
}
