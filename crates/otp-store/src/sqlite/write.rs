//! What every write shares: its `BEGIN IMMEDIATE` transaction, the
//! append to the audit chain, and the compare-and-set of users' locks
//! and tokens' status.

use otp_exchange::{AuditEntry, AuditKey, AuditRecord, LockChange, StoreError, TokenStatus};
use otp_provision::SerialNumber;
use rusqlite::{Connection, ErrorCode, OptionalExtension as _, Transaction, params};

use super::{db_err, to_store};
use crate::codec::{AuditCols, corrupt, encode_lock, next_after};

pub(super) fn write_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// Appends to the chain inside `tx`, which holds the write lock: reads the
/// stored head, seals the entry after it under `key`, inserts the record
/// and moves the head, all in `tx`.
pub(super) fn append(
    tx: &Transaction<'_>,
    entry: &AuditEntry,
    key: &AuditKey,
) -> Result<AuditRecord, StoreError> {
    let mut head = Head::read(tx)?;
    let record = append_after(tx, &mut head, entry, key)?;
    head.write(tx)?;
    Ok(record)
}

/// The audit chain's head (the last record's number and hash), read once
/// per write transaction and kept in memory while the transaction appends;
/// [`Head::write`] stores it before commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Head {
    seq: i64,
    hash: Vec<u8>,
}

impl Head {
    /// The stored head (inside a transaction holding the write lock).
    pub(super) fn read(tx: &Connection) -> Result<Self, StoreError> {
        let (seq, hash): (i64, Vec<u8>) = tx
            .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(to_store)?
            .ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
        Ok(Self { seq, hash })
    }

    /// Stores this head in the head row.
    pub(super) fn write(&self, tx: &Connection) -> Result<(), StoreError> {
        tx.prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")
            .and_then(|mut s| s.execute(params![self.seq, self.hash]))
            .map_err(to_store)?;
        Ok(())
    }
}

/// Seals `entry` after `head` under `key`, inserts the record and moves
/// `head` (in memory only) to it.
pub(super) fn append_after(
    tx: &Connection,
    head: &mut Head,
    entry: &AuditEntry,
    key: &AuditKey,
) -> Result<AuditRecord, StoreError> {
    let (seq, prev) = next_after(head.seq, &head.hash)?;
    let record = entry.clone().seal(seq, prev, key);
    let c = AuditCols::encode(&record);
    tx.prepare_cached(
        "INSERT INTO audit (seq, at, target, entry, body, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.seq,
            c.at,
            c.target,
            c.entry,
            c.body,
            c.prev_hash,
            c.hash
        ])
    })
    .map_err(|e| match e.sqlite_error_code() {
        // The head names a record that is not the last one.
        Some(ErrorCode::ConstraintViolation) => {
            corrupt("the audit chain's head is behind its records")
        }
        _ => db_err(&e),
    })?;
    *head = Head {
        seq: c.seq,
        hash: c.hash.to_vec(),
    };
    Ok(record)
}

/// A token's status as stored (`None`: no such token).
pub(super) fn token_status(
    tx: &Transaction<'_>,
    serial: &SerialNumber,
) -> Result<Option<TokenStatus>, StoreError> {
    let row: Option<(String, Option<String>, Option<String>)> = tx
        .query_row(
            "SELECT status, assigned_to, reserved_for FROM tokens WHERE serial = ?1",
            [serial.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(to_store)?;
    row.map(|(status, owner, reserved)| {
        crate::codec::status(&status, owner.as_deref(), reserved.as_deref())
    })
    .transpose()
}

/// The stored lock text of each change's user (`None`: no such user).
pub(super) fn current_locks(
    tx: &Connection,
    changes: &[LockChange],
) -> rusqlite::Result<Vec<Option<String>>> {
    let mut stmt = tx.prepare_cached("SELECT id_lock FROM users WHERE id = ?1")?;
    changes
        .iter()
        .map(|c| stmt.query_row([c.user().as_str()], |r| r.get(0)).optional())
        .collect()
}

/// Whether every change's user exists with the lock it expects.
pub(super) fn locks_match(changes: &[LockChange], current: &[Option<String>]) -> bool {
    changes.len() == current.len()
        && changes
            .iter()
            .zip(current)
            .all(|(c, now)| now.as_deref() == Some(encode_lock(c.expected()).as_str()))
}

/// Writes every change's new lock, in order (checked by the caller in the
/// same transaction).
pub(super) fn apply_locks(tx: &Connection, changes: &[LockChange]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE users SET id_lock = ?1, last_login = coalesce(?3, last_login) WHERE id = ?2",
    )?;
    for c in changes {
        stmt.execute(params![
            encode_lock(c.new_lock()),
            c.user().as_str(),
            c.login_at().map(crate::codec::to_db)
        ])?;
    }
    Ok(())
}
