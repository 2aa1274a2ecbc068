//! `record_verification` in few round trips: the compare-and-set of the
//! token's state, the user's lock and last login in ONE statement (a
//! statement prepared once per connection), the chain's head locked by
//! the same statement when it applied, then one statement per audit
//! record (insert and head moved together), then COMMIT: BEGIN + 2 + 1
//! per record, where the general path takes about twenty (every statement
//! parsed anew, a lock read per user, the head read per record).
//!
//! The MAC of each record is computed here, in Rust, after the head is
//! read: the audit key never goes to the database, and the chain's format
//! is the one [`super::write::append`] writes.

use otp_exchange::{AuditEntry, AuditKey, StateSlot, StoreError, Verification};
use postgres::Statement;

use super::pool::PgConn;
use super::rows::col;
use super::to_store;
use crate::codec::{AuditCols, StateCols, corrupt, encode_lock, next_after, to_db};

/// The compare-and-set: the user's row locked first (the order every
/// writer follows: users, then tokens, then the chain's head), the token
/// moved only if still assigned to the user, the user's token still this
/// one, its lock as expected ($13, NULL: not checked) and its state as
/// expected; the user's row updated only if the token's was, so the
/// statement applies whole or not at all. Returns whether it applied.
macro_rules! cas_sql {
    ($head:literal) => {
        concat!(
            "WITH l AS (SELECT id_lock, token FROM otp_users WHERE id = $6 FOR UPDATE),
             t AS (UPDATE otp_tokens SET floor = $1, drift = $2, failures = $3, locked = $4
                   WHERE serial = $5 AND status = 'assigned' AND assigned_to = $6
                     AND floor = $7 AND drift = $8 AND failures = $9 AND locked = $10
                     AND EXISTS (SELECT 1 FROM l WHERE l.token = $5
                                 AND ($13::text IS NULL OR l.id_lock = $13::text))
                   RETURNING 1),
             u AS (UPDATE otp_users SET id_lock = coalesce($11::text, id_lock),
                       last_login = coalesce($12::bigint, last_login)
                   WHERE id = $6 AND EXISTS (SELECT 1 FROM t) RETURNING 1)",
            $head
        )
    };
}

/// The compare-and-set, and the chain's head locked and read when it
/// applied (one statement: the head's lock taken last).
pub(super) const CAS_AND_HEAD: &str = cas_sql!(
    ",
             h AS (SELECT seq, hash FROM otp_audit_head WHERE id = 1 AND EXISTS (SELECT 1 FROM u)
                   FOR UPDATE)
     SELECT EXISTS (SELECT 1 FROM u), (SELECT seq FROM h), (SELECT hash FROM h)"
);

/// The compare-and-set alone (a batch locks the head once, after every
/// job's compare-and-set).
pub(super) const CAS: &str = cas_sql!("\n     SELECT EXISTS (SELECT 1 FROM u)");

/// The chain's head, locked.
pub(super) const HEAD: &str = "SELECT seq, hash FROM otp_audit_head WHERE id = 1 FOR UPDATE";

/// One record appended and the head moved to it, in one statement.
pub(super) const APPEND: &str =
    "WITH a AS (INSERT INTO otp_audit (seq, at, target, entry, body, prev_hash, hash)
                VALUES ($1, $2, $3, $4, $5, $6, $7))
     UPDATE otp_audit_head SET seq = $1, hash = $7 WHERE id = 1";

/// A verification whose locks are all the user's own, encoded for
/// [`CAS`]. Others (an operator's lock checked too) take the general
/// path.
pub(super) struct FastCas {
    new: StateCols,
    expected: StateCols,
    serial: String,
    user: String,
    new_lock: Option<String>,
    expected_lock: Option<String>,
    login: Option<i64>,
    /// Two of the locks expect different values: cannot apply.
    impossible: bool,
}

impl FastCas {
    /// `v` encoded, if its locks are all its user's and it moves the
    /// login state (a signature's moves the signing state: the general
    /// path, whose statement names those columns).
    pub(super) fn of(v: &Verification) -> Option<Self> {
        if v.slot() != StateSlot::Login || v.locks().iter().any(|c| c.user() != v.user()) {
            return None;
        }
        let expected: Vec<String> = v
            .locks()
            .iter()
            .map(|c| encode_lock(c.expected()))
            .collect();
        let impossible = expected.iter().any(|e| Some(e) != expected.first());
        // The locks' changes applied in order: the last one wins, the
        // last login is the verification's, else the last change's.
        let login = v
            .login_at()
            .or_else(|| v.locks().iter().rev().find_map(|c| c.login_at()))
            .map(to_db);
        Some(Self {
            new: StateCols::encode(v.new_state()),
            expected: StateCols::encode(v.expected_state()),
            serial: v.serial().as_str().to_owned(),
            user: v.user().as_str().to_owned(),
            new_lock: v.locks().last().map(|c| encode_lock(c.new_lock())),
            expected_lock: expected.into_iter().next(),
            login,
            impossible,
        })
    }

    /// Runs the compare-and-set statement `stmt` ([`CAS`] or
    /// [`CAS_AND_HEAD`]) in `tx`; its row.
    pub(super) fn execute(
        &self,
        tx: &mut postgres::Transaction<'_>,
        stmt: &Statement,
    ) -> Result<Option<postgres::Row>, StoreError> {
        if self.impossible {
            return Ok(None);
        }
        let row = tx
            .query_one(
                stmt,
                &[
                    &self.new.floor,
                    &self.new.drift,
                    &self.new.failures,
                    &self.new.locked,
                    &self.serial,
                    &self.user,
                    &self.expected.floor,
                    &self.expected.drift,
                    &self.expected.failures,
                    &self.expected.locked,
                    &self.new_lock,
                    &self.login,
                    &self.expected_lock,
                ],
            )
            .map_err(to_store)?;
        let applied: bool = col(&row, 0)?;
        Ok(applied.then_some(row))
    }

    /// `v` saved in one transaction: BEGIN, the compare-and-set with the
    /// head, one statement per audit record, COMMIT.
    pub(super) fn run(
        &self,
        c: &mut PgConn,
        v: &Verification,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let cas = c.prepared(CAS_AND_HEAD).map_err(to_store)?;
        let append = c.prepared(APPEND).map_err(to_store)?;
        let mut tx = c.client().transaction().map_err(to_store)?;
        let Some(row) = self.execute(&mut tx, &cas)? else {
            // Nothing was written; dropping `tx` rolls it back.
            return Ok(false);
        };
        let seq: Option<i64> = col(&row, 1)?;
        let hash: Option<Vec<u8>> = col(&row, 2)?;
        let (Some(seq), Some(hash)) = (seq, hash) else {
            return Err(corrupt("the audit chain's head row is missing"));
        };
        let mut head = (seq, hash);
        for entry in v.audit() {
            head = append_to(&mut tx, &append, head, entry, key)?;
        }
        tx.commit().map_err(to_store)?;
        Ok(true)
    }
}

/// Appends `entry` after `head` (locked in `tx`) with [`APPEND`]; the new
/// head.
pub(super) fn append_to(
    tx: &mut postgres::Transaction<'_>,
    append: &Statement,
    head: (i64, Vec<u8>),
    entry: &AuditEntry,
    key: &AuditKey,
) -> Result<(i64, Vec<u8>), StoreError> {
    let (seq, prev) = next_after(head.0, &head.1)?;
    let record = entry.clone().seal(seq, prev, key);
    let c = AuditCols::encode(&record);
    super::write::insert_record(tx, append, &c)?;
    Ok((c.seq, c.hash.to_vec()))
}
