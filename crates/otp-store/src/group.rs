//! Group commit: a leader/follower queue that lets concurrent writes share
//! one transaction (and so one `fsync` or one round trip).
//!
//! Every caller [`Group::submit`]s one job and blocks until that job's own
//! result is known. Under the queue's lock, a caller that finds no active
//! leader becomes the leader; the others queue their job and wait on their
//! own slot. The leader drains up to [`Group::cap`] queued jobs (its own
//! first, then the others in the order they were queued), hands the whole
//! batch to the `run` closure it was given, which executes it in **one**
//! transaction and returns one result per job, in order; then the leader
//! wakes each caller with its own result, and if more jobs were queued in
//! the meantime it hands the leadership to the oldest of their callers (who
//! drains the next batch with its own closure) before returning.
//!
//! What it guarantees, and what the tests below check:
//!
//! - **Each caller gets its own job's result**, and only after `run`
//!   returned, that is after the batch's transaction committed (or
//!   failed): nothing is answered early.
//! - **Order**: jobs run in the order their callers queued them, so two
//!   jobs on the same row in one batch see each other's effects in order
//!   (the backend's compare-and-set then refuses the second if the first
//!   moved the row).
//! - **One caller, no cost**: a caller alone becomes the leader at once and
//!   runs a batch of one on its own thread: no extra thread, no waiting,
//!   no timer. Batches form only because callers arrive while a leader is
//!   busy; the leader never waits for more.
//! - **No hang**: a `run` that panics, or returns the wrong number of
//!   results, answers every affected caller with
//!   [`StoreError::Unavailable`], and the leadership still passes on. A
//!   poisoned lock (a panic elsewhere while it was held) is answered the
//!   same way for new callers; callers already queued are still answered.
//!
//! It is generic over the job `J` and the result `R` so that the SQLite and
//! PostgreSQL stores share it: the backend lives entirely in the closure.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use otp_exchange::StoreError;

/// The default most jobs in one batch.
pub(crate) const DEFAULT_CAP: usize = 256;

/// A group-commit queue of jobs `J` answered with `R` (see the module
/// documentation).
pub(crate) struct Group<J, R> {
    queue: Mutex<Queue<J, R>>,
    cap: usize,
    batches: AtomicU64,
    jobs: AtomicU64,
}

impl<J, R> core::fmt::Debug for Group<J, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group")
            .field("cap", &self.cap)
            .field("batches", &self.batches.load(Ordering::Relaxed))
            .field("jobs", &self.jobs.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

struct Queue<J, R> {
    /// Whether a leader is running a batch (or has been chosen).
    leading: bool,
    /// Jobs waiting for a leader, oldest first.
    pending: VecDeque<(J, Arc<Slot<R>>)>,
}

/// Where one caller waits for its answer.
struct Slot<R> {
    state: Mutex<SlotState<R>>,
    ready: Condvar,
}

enum SlotState<R> {
    Waiting,
    /// This caller leads the next batch.
    Lead,
    Done(Result<R, StoreError>),
    /// The answer was taken.
    Taken,
}

impl<R> Slot<R> {
    fn new() -> Self {
        Self {
            state: Mutex::new(SlotState::Waiting),
            ready: Condvar::new(),
        }
    }

    fn set(&self, value: SlotState<R>) {
        // A slot's lock guards one assignment: a poisoned one is still
        // consistent, so it is taken over rather than left to hang.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = value;
        drop(state);
        self.ready.notify_one();
    }

    /// Blocks until the slot is answered or made the leader's.
    fn wait(&self) -> SlotState<R> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match core::mem::replace(&mut *state, SlotState::Taken) {
                SlotState::Waiting | SlotState::Taken => {
                    *state = SlotState::Waiting;
                    state = self
                        .ready
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                other => return other,
            }
        }
    }
}

fn unavailable(why: &str) -> StoreError {
    StoreError::Unavailable(format!("group commit: {why}"))
}

impl<J, R> Group<J, R> {
    /// A queue whose batches hold at most `cap` jobs (at least 1).
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            queue: Mutex::new(Queue {
                leading: false,
                pending: VecDeque::new(),
            }),
            cap: cap.max(1),
            batches: AtomicU64::new(0),
            jobs: AtomicU64::new(0),
        }
    }

    /// The most jobs in one batch.
    #[cfg_attr(not(test), allow(dead_code, reason = "read by tests"))]
    pub(crate) const fn cap(&self) -> usize {
        self.cap
    }

    /// Batches run and jobs answered so far (for tests and figures).
    #[cfg_attr(not(test), allow(dead_code, reason = "read by tests"))]
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.jobs.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> Result<MutexGuard<'_, Queue<J, R>>, StoreError> {
        self.queue
            .lock()
            .map_err(|_| unavailable("the queue's lock is poisoned"))
    }

    /// Runs `job` in a batch and returns its own result, once the batch's
    /// `run` has returned.
    ///
    /// `run` receives the batch's jobs in queue order and must return one
    /// result per job, in the same order, having made the batch durable
    /// (or failed it) before returning. It is called on this thread if this
    /// caller leads a batch, and not at all otherwise.
    ///
    /// # Errors
    ///
    /// The job's own result from `run`; [`StoreError::Unavailable`] if the
    /// queue's lock is poisoned, or if the batch's `run` panicked or
    /// returned too few results.
    pub(crate) fn submit<F>(&self, job: J, run: F) -> Result<R, StoreError>
    where
        F: Fn(&[J]) -> Vec<Result<R, StoreError>>,
    {
        let slot = Arc::new(Slot::new());
        {
            let mut queue = self.lock()?;
            queue.pending.push_back((job, Arc::clone(&slot)));
            if queue.leading {
                drop(queue);
                match slot.wait() {
                    SlotState::Done(result) => return result,
                    // Chosen to lead: our job is at the head of the queue.
                    SlotState::Lead => {}
                    SlotState::Waiting | SlotState::Taken => {
                        return Err(unavailable("a slot was answered twice"));
                    }
                }
            } else {
                queue.leading = true;
            }
        }
        self.lead(&run);
        match slot.wait() {
            SlotState::Done(result) => result,
            _ => Err(unavailable("the leader's own job was not answered")),
        }
    }

    /// Drains one batch, runs it, answers it, and passes the leadership on.
    fn lead<F>(&self, run: &F)
    where
        F: Fn(&[J]) -> Vec<Result<R, StoreError>>,
    {
        let (jobs, slots): (Vec<J>, Vec<Arc<Slot<R>>>) = {
            // The queue is only ever changed by short, panic-free code, so
            // a poisoned lock still guards a consistent queue: the leader
            // takes it over rather than leave its batch-mates hanging.
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let n = queue.pending.len().min(self.cap);
            queue.pending.drain(..n).unzip()
        };
        let results = catch_unwind(AssertUnwindSafe(|| run(&jobs)));
        drop(jobs);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.jobs.fetch_add(slots.len() as u64, Ordering::Relaxed);
        match results {
            Ok(results) => {
                let mut results = results.into_iter();
                for slot in &slots {
                    slot.set(SlotState::Done(results.next().unwrap_or_else(|| {
                        Err(unavailable("the batch returned too few results"))
                    })));
                }
            }
            Err(_) => {
                for slot in &slots {
                    slot.set(SlotState::Done(Err(unavailable(
                        "the batch failed (a panic); nothing of it is known to be saved",
                    ))));
                }
            }
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.pending.front() {
            Some((_, next)) => next.set(SlotState::Lead),
            None => queue.leading = false,
        }
    }
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
    use std::sync::{Barrier, mpsc};
    use std::thread;
    use std::time::Duration;

    use super::*;

    fn echo(jobs: &[u32]) -> Vec<Result<u32, StoreError>> {
        jobs.iter().map(|j| Ok(j * 10)).collect()
    }

    #[test]
    fn a_caller_alone_runs_a_batch_of_one_on_its_own_thread() {
        let g = Group::new(DEFAULT_CAP);
        let me = thread::current().id();
        for i in 0..5 {
            let r = g.submit(i, |jobs| {
                assert_eq!(thread::current().id(), me);
                assert_eq!(jobs, &[i]);
                echo(jobs)
            });
            assert_eq!(r.unwrap(), i * 10);
        }
        assert_eq!(g.stats(), (5, 5));
    }

    /// Holds the first batch open until the others are queued, so the
    /// second batch is known to hold them all, in their queue order.
    #[test]
    fn queued_jobs_form_one_batch_in_order_with_their_own_results() {
        let g = Arc::new(Group::<u32, u32>::new(DEFAULT_CAP));
        let (entered_tx, entered_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let first = {
            let (g, batches) = (Arc::clone(&g), Arc::clone(&batches));
            thread::spawn(move || {
                g.submit(0, |jobs| {
                    batches.lock().unwrap().push(jobs.to_vec());
                    entered_tx.send(()).unwrap();
                    go_rx.lock().unwrap().recv().unwrap();
                    echo(jobs)
                })
            })
        };
        entered_rx.recv().unwrap();
        let mut others = Vec::new();
        for i in 1..=20u32 {
            let (g2, batches) = (Arc::clone(&g), Arc::clone(&batches));
            others.push(thread::spawn(move || {
                g2.submit(i, |jobs| {
                    batches.lock().unwrap().push(jobs.to_vec());
                    jobs.iter()
                        .map(|&j| {
                            if j % 3 == 0 {
                                Err(StoreError::NotFound(j.to_string()))
                            } else {
                                Ok(j * 10)
                            }
                        })
                        .collect()
                })
            }));
            // Queue them one after another, so their order is known.
            while g.queue.lock().unwrap().pending.len() < i as usize {
                thread::sleep(Duration::from_millis(1));
            }
        }
        go_tx.send(()).unwrap();
        assert_eq!(first.join().unwrap().unwrap(), 0);
        for (i, t) in (1..=20u32).zip(others) {
            match t.join().unwrap() {
                Ok(v) => assert_eq!(v, i * 10),
                Err(StoreError::NotFound(m)) => {
                    assert_eq!(i % 3, 0);
                    assert_eq!(m, i.to_string());
                }
                Err(e) => panic!("{e}"),
            }
        }
        let batches = batches.lock().unwrap();
        assert_eq!(*batches, vec![vec![0], (1..=20).collect::<Vec<_>>()]);
        assert_eq!(g.stats(), (2, 21));
        assert!(!g.queue.lock().unwrap().leading);
    }

    #[test]
    fn batches_hold_at_most_cap_jobs() {
        let g = Arc::new(Group::<u32, u32>::new(4));
        assert_eq!(g.cap(), 4);
        let biggest = Arc::new(AtomicU64::new(0));
        thread::scope(|s| {
            for i in 0..32 {
                let (g, biggest) = (&g, &biggest);
                s.spawn(move || {
                    for k in 0..50 {
                        let r = g.submit(i * 1000 + k, |jobs| {
                            biggest.fetch_max(jobs.len() as u64, Ordering::Relaxed);
                            thread::yield_now();
                            echo(jobs)
                        });
                        assert_eq!(r.unwrap(), (i * 1000 + k) * 10);
                    }
                });
            }
        });
        assert!(biggest.load(Ordering::Relaxed) <= 4);
        assert_eq!(g.stats().1, 32 * 50);
    }

    /// Many threads, many rounds: every caller gets exactly its own
    /// answer, only after its batch's `run` returned, and no caller hangs.
    #[test]
    fn many_threads_each_get_their_own_answer_after_the_batch() {
        let g = Group::<(usize, u64), (usize, u64)>::new(DEFAULT_CAP);
        let committed = Mutex::new(std::collections::HashSet::new());
        let threads = 16;
        let rounds = 300u64;
        let barrier = Barrier::new(threads);
        thread::scope(|s| {
            for t in 0..threads {
                let (g, committed, barrier) = (&g, &committed, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    for r in 0..rounds {
                        let got = g
                            .submit((t, r), |jobs| {
                                let out = jobs.iter().map(|&j| Ok(j)).collect();
                                // "Commit": only now are these answers true.
                                committed.lock().unwrap().extend(jobs.iter().copied());
                                out
                            })
                            .unwrap();
                        assert_eq!(got, (t, r));
                        assert!(committed.lock().unwrap().contains(&(t, r)));
                    }
                });
            }
        });
        let (batches, jobs) = g.stats();
        assert_eq!(jobs, threads as u64 * rounds);
        assert!(batches <= jobs);
    }

    #[test]
    fn a_panicking_batch_fails_its_callers_and_hangs_no_one() {
        let g = Arc::new(Group::<u32, u32>::new(DEFAULT_CAP));
        let (entered_tx, entered_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let first = {
            let g = Arc::clone(&g);
            thread::spawn(move || {
                g.submit(0, |jobs| {
                    entered_tx.send(()).unwrap();
                    go_rx.lock().unwrap().recv().unwrap();
                    echo(jobs)
                })
            })
        };
        entered_rx.recv().unwrap();
        // These queue behind the first batch; the oldest leads the next
        // batch, which panics.
        let mut others = Vec::new();
        for i in 1..=6u32 {
            let g2 = Arc::clone(&g);
            others.push(thread::spawn(move || {
                g2.submit(i, |jobs| -> Vec<Result<u32, StoreError>> {
                    panic!("batch of {} fails", jobs.len())
                })
            }));
            while g.queue.lock().unwrap().pending.len() < i as usize {
                thread::sleep(Duration::from_millis(1));
            }
        }
        go_tx.send(()).unwrap();
        assert_eq!(first.join().unwrap().unwrap(), 0);
        for t in others {
            assert!(matches!(t.join().unwrap(), Err(StoreError::Unavailable(_))));
        }
        // The queue still works.
        assert_eq!(g.submit(7, echo).unwrap(), 70);
    }

    #[test]
    fn too_few_results_answer_the_rest_unavailable() {
        let g = Group::<u32, u32>::new(DEFAULT_CAP);
        let r = g.submit(1, |_| Vec::new());
        assert!(matches!(r, Err(StoreError::Unavailable(_))));
        assert_eq!(g.submit(2, echo).unwrap(), 20);
    }

    #[test]
    fn a_poisoned_queue_is_unavailable_not_a_hang() {
        let g = Arc::new(Group::<u32, u32>::new(DEFAULT_CAP));
        {
            let g = Arc::clone(&g);
            let _ = thread::spawn(move || {
                let _guard = g.queue.lock().unwrap();
                panic!("poison the queue");
            })
            .join();
        }
        let r = g.submit(1, echo);
        assert!(matches!(r, Err(StoreError::Unavailable(_))));
    }
}
