//! What the writes share: the append to the audit chain (serialised by
//! its locked head row) and the users' rows locked, compared and
//! updated.

use std::collections::BTreeMap;

use otp_exchange::{AuditEntry, AuditKey, AuditRecord, LockChange, StoreError, UserId};
use postgres::error::SqlState;

use super::rows::col;
use super::{db_err, to_store};
use crate::codec::{AuditCols, corrupt, encode_lock, next_after};

/// Appends to the chain inside `tx`: the head row is locked until `tx`
/// ends, so appends from every server follow one another; the record is
/// sealed after the head under `key` and the head moved to it.
pub(super) fn append(
    tx: &mut postgres::Transaction<'_>,
    entry: &AuditEntry,
    key: &AuditKey,
) -> Result<AuditRecord, StoreError> {
    let head = tx
        .query_opt(
            "SELECT seq, hash FROM otp_audit_head WHERE id = 1 FOR UPDATE",
            &[],
        )
        .map_err(to_store)?
        .ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
    let seq: i64 = col(&head, 0)?;
    let prev: Vec<u8> = col(&head, 1)?;
    let (seq, prev) = next_after(seq, &prev)?;
    let record = entry.clone().seal(seq, prev, key);
    let c = AuditCols::encode(&record);
    insert_record(
        tx,
        "INSERT INTO otp_audit (seq, at, target, entry, body, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &c,
    )?;
    tx.execute(
        "UPDATE otp_audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[&c.seq, &c.hash],
    )
    .map_err(to_store)?;
    Ok(record)
}

/// Inserts the sealed record `c` with `statement` (an `INSERT INTO
/// otp_audit` of its seven columns, `$1`..`$7` in [`AuditCols`] order,
/// possibly moving the head in the same statement).
pub(super) fn insert_record<T: ?Sized + postgres::ToStatement>(
    tx: &mut postgres::Transaction<'_>,
    statement: &T,
    c: &AuditCols,
) -> Result<(), StoreError> {
    tx.execute(
        statement,
        &[
            &c.seq,
            &c.at,
            &c.target,
            &c.entry,
            &c.body,
            &c.prev_hash,
            &c.hash,
        ],
    )
    .map(|_| ())
    .map_err(|e| match e.code() {
        // The head names a record that is not the last one.
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => {
            corrupt("the audit chain's head is behind its records")
        }
        _ => db_err(&e),
    })
}

/// A user row as locked for a write: its token and its lock text.
pub(super) struct Locked {
    pub(super) token: Option<String>,
    pub(super) id_lock: String,
}

/// Locks the rows of these users (`FOR UPDATE`, in byte order of their
/// IDs: every transaction locks users before tokens, each in a fixed
/// order, so two writers cannot deadlock) and returns them by ID; an
/// unknown ID is absent.
pub(super) fn lock_users<'a>(
    tx: &mut postgres::Transaction<'_>,
    ids: impl IntoIterator<Item = &'a UserId>,
) -> Result<BTreeMap<String, Locked>, StoreError> {
    let mut ids: Vec<&str> = ids.into_iter().map(UserId::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = BTreeMap::new();
    for id in ids {
        if let Some(row) = tx
            .query_opt(
                "SELECT token, id_lock FROM otp_users WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .map_err(to_store)?
        {
            out.insert(
                id.to_owned(),
                Locked {
                    token: col(&row, 0)?,
                    id_lock: col(&row, 1)?,
                },
            );
        }
    }
    Ok(out)
}

/// Whether every change's user exists with the lock it expects.
pub(super) fn locks_match(changes: &[LockChange], users: &BTreeMap<String, Locked>) -> bool {
    changes.iter().all(|c| {
        users
            .get(c.user().as_str())
            .is_some_and(|u| u.id_lock == encode_lock(c.expected()))
    })
}

/// Writes every change's new lock, in order (checked by the caller in the
/// same transaction, with the rows locked).
pub(super) fn apply_locks(
    tx: &mut postgres::Transaction<'_>,
    changes: &[LockChange],
) -> Result<(), StoreError> {
    for c in changes {
        tx.execute(
            "UPDATE otp_users SET id_lock = $1, last_login = coalesce($3, last_login) WHERE id = $2",
            &[
                &encode_lock(c.new_lock()),
                &c.user().as_str(),
                &c.login_at().map(crate::codec::to_db),
            ],
        )
        .map_err(to_store)?;
    }
    Ok(())
}
