//! Group commit on SQLite: the writes on the login path
//! ([`Store::record_verification`], [`Store::update_locks`],
//! [`Store::append_audit`]) go through the store's [`Group`], and the
//! leader of each batch runs the whole batch in one `BEGIN IMMEDIATE`
//! transaction with one `COMMIT` (one `fsync` of the log at
//! [`Durability::Full`]).
//!
//! In the transaction each job runs inside its own `SAVEPOINT`: released
//! when the job succeeds, rolled back (`ROLLBACK TO`) when its
//! compare-and-set fails (`Ok(false)`) or it errs, so one job's refusal or
//! error never fails its batch-mates, and the jobs after it see exactly
//! the state the saved jobs left (two verifications of one token in one
//! batch: the second's compare-and-set fails and the bank verifies again
//! against the new floor). The audit chain's head is read once per batch,
//! kept in memory while the jobs append (a rolled-back job's records and
//! head move are undone with it) and written once before `COMMIT`.
//!
//! Every caller is answered only after `COMMIT` returned: if it fails,
//! nothing of the batch is durable and every job gets the error. An error
//! that ends the whole transaction (SQLite rolls back on some I/O and
//! full-disk errors) likewise fails every job in the batch.
//!
//! [`Store::record_verification`]: otp_exchange::Store::record_verification
//! [`Store::update_locks`]: otp_exchange::Store::update_locks
//! [`Store::append_audit`]: otp_exchange::Store::append_audit
//! [`Durability::Full`]: super::Durability::Full

use otp_exchange::{AuditEntry, AuditKey, AuditRecord, LockChange, StoreError, Verification};
use rusqlite::{Connection, params};

use super::write::{Head, append_after, apply_locks, current_locks, locks_match};
use super::{SqliteStore, to_store};
use crate::codec::{StateCols, encode_lock, to_db};
use crate::group::Group;

/// The most jobs in one batch.
pub(super) const BATCH_CAP: usize = crate::group::DEFAULT_CAP;

/// One write on the login path, as queued.
pub(super) enum Job {
    Verify(Verification, AuditKey),
    Locks(Vec<LockChange>, Vec<AuditEntry>, AuditKey),
    Audit(AuditEntry, AuditKey),
}

/// A job's answer.
pub(super) enum Answer {
    /// Whether it was saved (`record_verification`, `update_locks`).
    Saved(bool),
    /// The record appended (`append_audit`).
    Record(Box<AuditRecord>),
}

pub(super) type Batcher = Group<Job, Answer>;

/// What a test may observe of a batch, through the store's hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// The batch's transaction began, with this many jobs.
    Began(usize),
    /// Every job ran; `COMMIT` is next.
    BeforeCommit,
}

/// A test's observer of batches.
#[cfg(test)]
pub(super) type Hook = std::sync::Arc<dyn Fn(Stage) + Send + Sync>;

impl SqliteStore {
    /// Runs `job` through the group and returns its own answer.
    pub(super) fn grouped(&self, job: Job) -> Result<Answer, StoreError> {
        self.group.submit(job, |jobs| self.run_batch(jobs))
    }

    #[cfg(test)]
    fn stage(&self, stage: Stage) {
        let hook = self.hook.lock().ok().and_then(|h| h.clone());
        if let Some(hook) = hook {
            hook(stage);
        }
    }

    #[cfg(not(test))]
    #[allow(clippy::unused_self, reason = "a hook for tests only")]
    #[inline]
    const fn stage(&self, _: Stage) {}

    /// One transaction for the whole batch (see the module documentation).
    fn run_batch(&self, jobs: &[Job]) -> Vec<Result<Answer, StoreError>> {
        let all = |e: &StoreError| jobs.iter().map(|_| Err(e.clone())).collect();
        let mut conn = match self.conn() {
            Ok(c) => c,
            Err(e) => return all(&e),
        };
        let tx = match super::write::write_tx(&mut conn) {
            Ok(tx) => tx,
            Err(e) => return all(&to_store(e)),
        };
        self.stage(Stage::Began(jobs.len()));
        let mut head = match Head::read(&tx) {
            Ok(h) => h,
            Err(e) => return all(&e),
        };
        let start = head.clone();
        // A batch of one needs no savepoint: its refusal or error rolls
        // the whole transaction back.
        let single = jobs.len() == 1;
        let mut answers = Vec::with_capacity(jobs.len());
        for job in jobs {
            if !single && let Err(e) = savepoint(&tx, "SAVEPOINT job") {
                return all(&e);
            }
            let before = head.clone();
            let answer = run_job(&tx, job, &mut head);
            let keep = matches!(answer, Ok(Answer::Saved(true) | Answer::Record(_)));
            if !keep {
                if single {
                    // Dropping `tx` rolls back.
                    return vec![answer];
                }
                head = before;
                if let Err(e) = savepoint(&tx, "ROLLBACK TO job") {
                    return all(&e);
                }
                // An error SQLite answered by ending the transaction
                // (some I/O and full-disk errors) took the saved jobs'
                // changes with it: none of the batch can be answered
                // saved.
                if tx.is_autocommit() {
                    let e = match &answer {
                        Err(e) => e.clone(),
                        Ok(_) => StoreError::Unavailable(
                            "the batch's transaction was rolled back".into(),
                        ),
                    };
                    return all(&e);
                }
            }
            if !single && let Err(e) = savepoint(&tx, "RELEASE job") {
                return all(&e);
            }
            answers.push(answer);
        }
        if head != start
            && let Err(e) = head.write(&tx)
        {
            return all(&e);
        }
        self.stage(Stage::BeforeCommit);
        match tx.commit() {
            Ok(()) => answers,
            Err(e) => all(&to_store(e)),
        }
    }
}

fn savepoint(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(to_store)
}

fn run_job(conn: &Connection, job: &Job, head: &mut Head) -> Result<Answer, StoreError> {
    match job {
        Job::Verify(v, key) => verify(conn, v, key, head).map(Answer::Saved),
        Job::Locks(changes, audit, key) => {
            update_locks(conn, changes, audit, key, head).map(Answer::Saved)
        }
        Job::Audit(entry, key) => {
            append_after(conn, head, entry, key).map(|r| Answer::Record(Box::new(r)))
        }
    }
}

/// `record_verification`'s compare-and-set and writes, inside the batch's
/// transaction. `Ok(false)`: the caller rolls back what was written.
fn verify(
    conn: &Connection,
    v: &Verification,
    key: &AuditKey,
    head: &mut Head,
) -> Result<bool, StoreError> {
    let user = v.user().as_str();
    let (e, n) = (
        StateCols::encode(v.expected_state()),
        StateCols::encode(v.new_state()),
    );
    // The state moves only if the token is still assigned to the user,
    // the user's token is still this one, the state is as verified and
    // the user's lock as read (the first of `locks`; the others, the
    // operator's, are checked below); the write lock is held until
    // commit.
    let Some(own) = v.locks().iter().find(|c| c.user() == v.user()) else {
        return Ok(false);
    };
    let changed = conn
        .prepare_cached(
            "UPDATE tokens SET floor = ?1, drift = ?2, failures = ?3, locked = ?4
             WHERE serial = ?5 AND status = 'assigned' AND assigned_to = ?6
               AND floor = ?7 AND drift = ?8 AND failures = ?9 AND locked = ?10
               AND EXISTS (SELECT 1 FROM users WHERE id = ?6 AND token = ?5 AND id_lock = ?11)",
        )
        .and_then(|mut s| {
            s.execute(params![
                n.floor,
                n.drift,
                n.failures,
                n.locked,
                v.serial().as_str(),
                user,
                e.floor,
                e.drift,
                e.failures,
                e.locked,
                encode_lock(own.expected()),
            ])
        })
        .map_err(to_store)?;
    if changed != 1 {
        return Ok(false);
    }
    let current = current_locks(conn, v.locks()).map_err(to_store)?;
    if !locks_match(v.locks(), &current) {
        return Ok(false);
    }
    apply_locks(conn, v.locks()).map_err(to_store)?;
    if let Some(at) = v.login_at() {
        conn.prepare_cached("UPDATE users SET last_login = ?1 WHERE id = ?2")
            .and_then(|mut s| s.execute(params![to_db(at), user]))
            .map_err(to_store)?;
    }
    for entry in v.audit() {
        append_after(conn, head, entry, key)?;
    }
    Ok(true)
}

/// `update_locks` inside the batch's transaction.
fn update_locks(
    conn: &Connection,
    changes: &[LockChange],
    audit: &[AuditEntry],
    key: &AuditKey,
    head: &mut Head,
) -> Result<bool, StoreError> {
    let current = current_locks(conn, changes).map_err(to_store)?;
    if let Some((c, _)) = changes.iter().zip(&current).find(|(_, now)| now.is_none()) {
        return Err(StoreError::NotFound(format!("user {}", c.user())));
    }
    if !locks_match(changes, &current) {
        return Ok(false);
    }
    apply_locks(conn, changes).map_err(to_store)?;
    for entry in audit {
        append_after(conn, head, entry, key)?;
    }
    Ok(true)
}
