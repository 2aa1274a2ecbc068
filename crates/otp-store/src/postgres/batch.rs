//! Group commit for `record_verification`: concurrent verifications (of
//! one `PgStore`) share one transaction, through [`crate::group::Group`]:
//! BEGIN, each job's compare-and-set (users in byte order of their IDs,
//! jobs of one user in queue order), the chain's head locked once, the
//! audit records of the jobs that applied (their MACs chained here, in
//! queue order), the head moved, COMMIT. A job whose compare-and-set does
//! not apply is answered `Ok(false)` without failing the others; nobody is
//! answered before COMMIT returned. If the batch's transaction fails, its
//! jobs are run again one by one (each in its own transaction, answered
//! by its own outcome): nothing uncommitted is ever answered accepted.

use otp_exchange::{AuditKey, StoreError, Verification};

use super::PgStore;
use super::rows::col;
use super::to_store;
use super::verify::{APPEND, CAS, FastCas, HEAD, append_to};
use crate::codec::corrupt;
use crate::group::Group;

/// The most verifications in one batch.
pub(super) const BATCH_CAP: usize = crate::group::DEFAULT_CAP;

/// The queue of a store's verifications.
pub(super) type Batcher = Group<Job, bool>;

/// One verification waiting in the queue, with the key its records are
/// sealed under.
pub(super) struct Job {
    pub(super) v: Verification,
    pub(super) fast: FastCas,
    pub(super) key: AuditKey,
}

impl PgStore {
    /// `v` through the group commit queue (see the module documentation):
    /// answered once the transaction holding it has committed.
    pub(super) fn record_grouped(
        &self,
        v: &Verification,
        fast: FastCas,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let job = Job {
            v: v.clone(),
            fast,
            key: key.clone(),
        };
        self.group.submit(job, |jobs| self.run_batch(jobs))
    }

    /// Saves several verifications in ONE transaction (as group commit
    /// does for concurrent callers): the result of each, in order, as
    /// [`otp_exchange::Store::record_verification`] would give it. Two of
    /// the same token are applied in order (the second is `Ok(false)` if
    /// the first moved the state it expects); one that does not apply
    /// does not fail the others. If the shared transaction fails, each is
    /// run again alone and answered by its own outcome.
    #[must_use]
    pub fn record_batch(
        &self,
        batch: &[Verification],
        key: &AuditKey,
    ) -> Vec<Result<bool, StoreError>> {
        let mut out: Vec<Option<Result<bool, StoreError>>> = Vec::with_capacity(batch.len());
        let mut jobs = Vec::new();
        for v in batch {
            match FastCas::of(v) {
                Some(fast) => {
                    jobs.push(Job {
                        v: v.clone(),
                        fast,
                        key: key.clone(),
                    });
                    out.push(None);
                }
                None => out.push(Some(otp_exchange::Store::record_verification(self, v, key))),
            }
        }
        let mut fast = self.run_batch(&jobs).into_iter();
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    fast.next().unwrap_or_else(|| {
                        Err(StoreError::Unavailable("a batch result is missing".into()))
                    })
                })
            })
            .collect()
    }

    /// Runs a batch: one transaction, else each job alone.
    pub(super) fn run_batch(&self, jobs: &[Job]) -> Vec<Result<bool, StoreError>> {
        if let [job] = jobs {
            return vec![self.run_one(job)];
        }
        match self.try_batch(jobs) {
            Ok(applied) => applied.into_iter().map(Ok).collect(),
            Err(_) => jobs.iter().map(|j| self.run_one(j)).collect(),
        }
    }

    fn run_one(&self, job: &Job) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        job.fast.run(&mut c, &job.v, &job.key)
    }

    /// The batch in one transaction: whether each job applied.
    pub(super) fn try_batch(&self, jobs: &[Job]) -> Result<Vec<bool>, StoreError> {
        let mut c = self.conn()?;
        let cas = c.prepared(CAS).map_err(to_store)?;
        let head = c.prepared(HEAD).map_err(to_store)?;
        let append = c.prepared(APPEND).map_err(to_store)?;
        let mut tx = c.client().transaction().map_err(to_store)?;
        // Users locked in byte order of their IDs, as every writer does
        // (a stable sort: one user's jobs keep their queue order).
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (jobs.get(a), jobs.get(b));
            a.map(|j| j.v.user().as_str())
                .cmp(&b.map(|j| j.v.user().as_str()))
        });
        let mut applied = vec![false; jobs.len()];
        for i in order {
            if let (Some(job), Some(done)) = (jobs.get(i), applied.get_mut(i)) {
                *done = job.fast.execute(&mut tx, &cas)?.is_some();
            }
        }
        if applied.iter().any(|a| *a) {
            let row = tx.query_opt(&head, &[]).map_err(to_store)?;
            let row = row.ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
            let mut at: (i64, Vec<u8>) = (col(&row, 0)?, col(&row, 1)?);
            for (job, _) in jobs.iter().zip(&applied).filter(|(_, a)| **a) {
                for entry in job.v.audit() {
                    at = append_to(&mut tx, &append, at, entry, &job.key)?;
                }
            }
        }
        tx.commit().map_err(to_store)?;
        Ok(applied)
    }
}
