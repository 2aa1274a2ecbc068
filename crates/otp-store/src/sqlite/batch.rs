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

use otp_exchange::{
    AuditEntry, AuditKey, AuditRecord, LockChange, StateSlot, StoreError, Verification,
};
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
        .prepare_cached(match v.slot() {
            StateSlot::Signing => {
                "UPDATE tokens SET sign_floor = ?1, sign_drift = ?2, sign_failures = ?3, sign_locked = ?4
                 WHERE serial = ?5 AND status = 'assigned' AND assigned_to = ?6
                   AND sign_floor = ?7 AND sign_drift = ?8 AND sign_failures = ?9 AND sign_locked = ?10
                   AND EXISTS (SELECT 1 FROM users WHERE id = ?6 AND token = ?5 AND id_lock = ?11)"
            }
            StateSlot::Login => {
                "UPDATE tokens SET floor = ?1, drift = ?2, failures = ?3, locked = ?4
                 WHERE serial = ?5 AND status = 'assigned' AND assigned_to = ?6
                   AND floor = ?7 AND drift = ?8 AND failures = ?9 AND locked = ?10
                   AND EXISTS (SELECT 1 FROM users WHERE id = ?6 AND token = ?5 AND id_lock = ?11)"
            }
        })
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
    if !move_locks(conn, v).map_err(to_store)? {
        return Ok(false);
    }
    for entry in v.audit() {
        append_after(conn, head, entry, key)?;
    }
    Ok(true)
}

/// Moves every lock of `v` from what it expects to its new value, and
/// the user's last login to `v`'s login time: one compare-and-set
/// `UPDATE` per user (the leader runs each batch's jobs one after the
/// other, so each statement saved is saved on the batch's critical path).
/// `false` if a lock is not as expected; the caller then rolls back what
/// was written. Two changes of one user (never made by the bank) take the
/// read-check-write path, whose check sees every expected lock at once.
fn move_locks(conn: &Connection, v: &Verification) -> rusqlite::Result<bool> {
    let changes = v.locks();
    let repeated = changes
        .iter()
        .enumerate()
        .any(|(i, c)| changes.iter().skip(i + 1).any(|d| d.user() == c.user()));
    if repeated {
        let current = current_locks(conn, changes)?;
        if !locks_match(changes, &current) {
            return Ok(false);
        }
        apply_locks(conn, changes)?;
        if let Some(at) = v.login_at() {
            conn.prepare_cached("UPDATE users SET last_login = ?1 WHERE id = ?2")?
                .execute(params![to_db(at), v.user().as_str()])?;
        }
        return Ok(true);
    }
    let mut stmt = conn.prepare_cached(
        "UPDATE users SET id_lock = ?1, last_login = coalesce(?3, last_login)
         WHERE id = ?2 AND id_lock = ?4",
    )?;
    for c in changes {
        let login = if c.user() == v.user() {
            v.login_at().or(c.login_at())
        } else {
            c.login_at()
        };
        let moved = stmt.execute(params![
            encode_lock(c.new_lock()),
            c.user().as_str(),
            login.map(to_db),
            encode_lock(c.expected()),
        ])?;
        if moved != 1 {
            return Ok(false);
        }
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, mpsc};
    use std::thread;
    use std::time::Duration;

    use otp_core::{Secret, TokenState};
    use otp_exchange::{
        Action, AuditEntry, AuditKey, Authority, IdLock, LockChange, Store, StoreError, Switch,
        TokenEntry, UserId, UserRecord, Verification, verify_chain,
    };
    use otp_provision::{Profile, SeedRecord, SerialNumber};

    use super::Stage;
    use crate::{SqliteStore, StaticSealer};

    const START: u64 = 1_601_512_200;

    fn key() -> AuditKey {
        AuditKey::new([7; 32])
    }

    fn uid(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn serial(n: u64) -> SerialNumber {
        SerialNumber::numbered("VT", n).unwrap()
    }

    fn entry(n: u64, target: Option<&UserId>) -> AuditEntry {
        AuditEntry::new(START + n, "W0001", target, Action::Login)
    }

    fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(
            dir.path().join("b.db"),
            Arc::new(StaticSealer::new("k1", [9; 32])),
        )
        .unwrap();
        (dir, Arc::new(store))
    }

    /// User `id` with token `n` bound.
    fn bound(store: &SqliteStore, id: &str, n: u64) -> UserId {
        let user = uid(id);
        let e = AuditEntry::new(START, "W0001", Some(&user), Action::UserUpdate);
        store
            .put_user(
                &UserRecord::new(user.clone(), "太郎", Authority::General),
                &e,
                &key(),
            )
            .unwrap();
        let secret = Secret::from_bytes(&[u8::try_from(n).unwrap(); 20]).unwrap();
        let token = TokenEntry::unassigned(SeedRecord::new(
            serial(n).as_str(),
            secret,
            Profile::default(),
        ))
        .unwrap();
        store
            .add_tokens(
                vec![token],
                &AuditEntry::new(START, "W0001", None, Action::Import),
                &key(),
            )
            .unwrap();
        let state = TokenState {
            floor: 1_000,
            ..TokenState::new()
        };
        let register = AuditEntry::new(START, "W0001", Some(&user), Action::Register);
        store
            .switch(
                &Switch::for_test(
                    user.clone(),
                    None,
                    None,
                    Some((serial(n), state)),
                    Vec::new(),
                    register,
                ),
                &key(),
            )
            .unwrap();
        user
    }

    fn state(store: &SqliteStore, n: u64) -> TokenState {
        store.token(&serial(n)).unwrap().unwrap().state
    }

    fn lock(store: &SqliteStore, user: &UserId) -> IdLock {
        store.user(user).unwrap().unwrap().lock
    }

    /// A verification of token `n` moving its floor by `by`, with one
    /// audit record.
    fn verification(
        store: &SqliteStore,
        user: &UserId,
        n: u64,
        by: u64,
        audit: AuditEntry,
    ) -> Verification {
        let expected = state(store, n);
        let l = lock(store, user);
        Verification::for_test(
            user.clone(),
            serial(n),
            expected,
            TokenState {
                floor: expected.floor + by,
                ..expected
            },
            vec![LockChange::for_test(user.clone(), l, l)],
            vec![audit],
        )
    }

    fn chain_tail(store: &SqliteStore, n: usize) -> Vec<AuditEntry> {
        let chain = store.audit_chain().unwrap();
        verify_chain(&chain, &key(), store.audit_head().unwrap()).unwrap();
        chain[chain.len() - n..]
            .iter()
            .map(|r| r.entry.clone())
            .collect()
    }

    /// Holds the first batch (begun) until `release` is sent; records
    /// every batch's size.
    fn hold_first_batch(store: &SqliteStore) -> (mpsc::Sender<()>, Arc<Mutex<Vec<usize>>>) {
        let (release, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let first = AtomicBool::new(true);
        let seen = Arc::clone(&sizes);
        *store.hook.lock().unwrap() = Some(Arc::new(move |stage| {
            if let Stage::Began(n) = stage {
                seen.lock().unwrap().push(n);
                if first.swap(false, Ordering::SeqCst) {
                    gate.lock().unwrap().recv().unwrap();
                }
            }
        }));
        (release, sizes)
    }

    fn wait_until(what: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if what() {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
        panic!("timed out");
    }

    type Call<T> = Box<dyn FnOnce(&SqliteStore) -> T + Send>;

    /// Starts a batch holding only `append_audit(first)` and holds it;
    /// then queues `jobs` one after another (so their order is known), and
    /// releases: they form the second batch, in that order.
    fn second_batch<T: Send + 'static>(
        store: &Arc<SqliteStore>,
        first: AuditEntry,
        jobs: Vec<Call<T>>,
    ) -> (Vec<T>, Vec<usize>) {
        let (release, sizes) = hold_first_batch(store);
        let s = Arc::clone(store);
        let blocker = thread::spawn(move || s.append_audit(&first, &key()));
        wait_until(|| sizes.lock().unwrap().len() == 1);
        let mut handles = Vec::new();
        for (i, job) in jobs.into_iter().enumerate() {
            let s = Arc::clone(store);
            handles.push(thread::spawn(move || job(&s)));
            wait_until(|| store.group.queued() == i + 1);
        }
        release.send(()).unwrap();
        blocker.join().unwrap().unwrap();
        let out = handles.into_iter().map(|h| h.join().unwrap()).collect();
        *store.hook.lock().unwrap() = None;
        let sizes = sizes.lock().unwrap().clone();
        (out, sizes)
    }

    /// The same token verified twice in one batch (the same state read by
    /// both): the first is saved, the second's compare-and-set sees the
    /// first's floor and saves nothing.
    #[test]
    fn the_same_token_twice_in_one_batch_saves_the_first_only() {
        let (_dir, store) = open();
        let user = bound(&store, "W0002", 1);
        let v1 = verification(&store, &user, 1, 1, entry(1, Some(&user)));
        let v2 = verification(&store, &user, 1, 2, entry(2, Some(&user)));
        let (a, b) = (v1.clone(), v2);
        let (out, sizes) = second_batch(
            &store,
            entry(0, None),
            vec![
                Box::new(move |s: &SqliteStore| s.record_verification(&a, &key())),
                Box::new(move |s: &SqliteStore| s.record_verification(&b, &key())),
            ],
        );
        assert_eq!(sizes, vec![1, 2]);
        assert_eq!(out, vec![Ok(true), Ok(false)]);
        assert_eq!(state(&store, 1), *v1.new_state());
        assert_eq!(
            chain_tail(&store, 2),
            vec![entry(0, None), entry(1, Some(&user))]
        );
    }

    /// A verification's locks move by one compare-and-set per user; two
    /// changes of one user (the bank makes none) are checked together as
    /// before: both expecting the stored lock, it saves the last new one;
    /// one expecting another lock, nothing is saved.
    #[test]
    fn a_users_two_lock_changes_are_checked_together() {
        let (_dir, store) = open();
        let user = bound(&store, "W0002", 1);
        let l = lock(&store, &user);
        let (l1, l2) = (IdLock { unlocks: 1, ..l }, IdLock { unlocks: 2, ..l });
        let expected = state(&store, 1);
        let moved = TokenState {
            floor: expected.floor + 1,
            ..expected
        };
        let twice = |first: IdLock| {
            Verification::for_test(
                user.clone(),
                serial(1),
                state(&store, 1),
                TokenState {
                    floor: state(&store, 1).floor + 1,
                    ..state(&store, 1)
                },
                vec![
                    LockChange::for_test(user.clone(), first, l1),
                    LockChange::for_test(user.clone(), l, l2),
                ],
                vec![entry(1, Some(&user))],
            )
        };
        assert_eq!(store.record_verification(&twice(l1), &key()), Ok(false));
        assert_eq!((state(&store, 1), lock(&store, &user)), (expected, l));
        assert_eq!(store.record_verification(&twice(l), &key()), Ok(true));
        assert_eq!((state(&store, 1), lock(&store, &user)), (moved, l2));
    }

    /// In one batch: a verification whose compare-and-set fails after it
    /// wrote (the operator's lock changed), a lock change on an unknown
    /// user (an error) and the saved jobs around them: the refused and
    /// failed jobs leave nothing (not a write, not an audit record, not a
    /// gap in the chain) and the others are saved.
    #[test]
    fn a_refusal_and_an_error_do_not_fail_their_batch_mates() {
        let (_dir, store) = open();
        let u2 = bound(&store, "W0002", 1);
        let u3 = bound(&store, "W0003", 2);
        let s2 = state(&store, 2);
        let good = verification(&store, &u2, 1, 1, entry(1, Some(&u2)));
        // Token 2's compare-and-set holds, then the operator's lock does not.
        let mut stale = verification(&store, &u3, 2, 5, entry(2, Some(&u3)));
        let operator = LockChange::for_test(
            u2.clone(),
            IdLock {
                locked: true,
                ..lock(&store, &u2)
            },
            lock(&store, &u2),
        );
        stale = Verification::for_test(
            u3.clone(),
            serial(2),
            *stale.expected_state(),
            *stale.new_state(),
            vec![stale.locks()[0].clone(), operator],
            stale.audit().to_vec(),
        );
        let unknown = LockChange::for_test(uid("W0099"), IdLock::default(), IdLock::default());
        let later = verification(&store, &u3, 2, 1, entry(4, Some(&u3)));
        let (g, st, l) = (good.clone(), stale, later.clone());
        type Out = Result<String, StoreError>;
        let (out, sizes) = second_batch::<Out>(
            &store,
            entry(0, None),
            vec![
                Box::new(move |s: &SqliteStore| {
                    s.record_verification(&g, &key()).map(|b| b.to_string())
                }),
                Box::new(move |s: &SqliteStore| {
                    s.record_verification(&st, &key()).map(|b| b.to_string())
                }),
                Box::new(move |s: &SqliteStore| {
                    s.update_locks(&[unknown], &[entry(9, None)], &key())
                        .map(|b| b.to_string())
                }),
                Box::new(move |s: &SqliteStore| {
                    s.append_audit(&entry(3, None), &key())
                        .map(|r| r.seq.to_string())
                }),
                Box::new(move |s: &SqliteStore| {
                    s.record_verification(&l, &key()).map(|b| b.to_string())
                }),
            ],
        );
        assert_eq!(sizes, vec![1, 5]);
        assert_eq!(out[0], Ok("true".into()));
        assert_eq!(out[1], Ok("false".into()));
        assert!(
            matches!(out[2], Err(StoreError::NotFound(_))),
            "{:?}",
            out[2]
        );
        assert_eq!(out[4], Ok("true".into()));
        let head = store.audit_head().unwrap().unwrap();
        assert_eq!(out[3], Ok((head.seq - 1).to_string()));
        assert_eq!(state(&store, 1), *good.new_state());
        assert_eq!(state(&store, 2), *later.new_state());
        assert_eq!(later.expected_state(), &s2);
        assert_eq!(
            chain_tail(&store, 4),
            vec![
                entry(0, None),
                entry(1, Some(&u2)),
                entry(3, None),
                entry(4, Some(&u3))
            ]
        );
    }

    /// Every caller's answer comes after its batch's COMMIT: the record it
    /// was answered with is already visible to another connection (which
    /// sees committed data only), though each commit is held back.
    #[test]
    fn no_answer_before_its_batch_committed() {
        let (_dir, store) = open();
        *store.hook.lock().unwrap() = Some(Arc::new(|stage| {
            if stage == Stage::BeforeCommit {
                thread::sleep(Duration::from_micros(300));
            }
        }));
        thread::scope(|s| {
            for t in 0..8u64 {
                let store = &store;
                s.spawn(move || {
                    for i in 0..40 {
                        let r = store
                            .append_audit(&entry(t * 100 + i, None), &key())
                            .unwrap();
                        let head = store.audit_head().unwrap().unwrap();
                        assert!(head.seq >= r.seq, "answered {} before its commit", r.seq);
                    }
                });
            }
        });
        let (batches, jobs) = store.group.stats();
        assert_eq!(jobs, 8 * 40);
        assert!(batches < jobs, "no batch held more than one job");
        chain_tail(&store, 1);
    }
}
