//! The one lock authority: how an attempt is reserved before it is
//! evaluated and settled after, as pure functions of an [`IdLock`], and
//! the bank's compare-and-set loops that apply them.
//!
//! - A code (login, the current token's, the new token's) counts against
//!   the user whose token it is ([`Counter::Codes`]).
//! - An approval or per-transfer password counts against the administrator
//!   who typed it ([`Counter::Passwords`]); only a right password (or an
//!   unlock) clears it, never a right code.
//! - Before a password is evaluated, one attempt is reserved: the
//!   reservation fails when the ID is locked or when wrong entries plus
//!   attempts in flight reach the limit, so N concurrent guesses spend N of
//!   the limit. Settling a wrong entry that reaches the limit locks the ID.
//! - A code is counted by the compare-and-set that commits its verdict
//!   (the verdict is answered only once committed, and verified again if
//!   the commit lost a race), which spends the limit the same way.

use otp_core::Window;

use crate::{Attempts, AuditEntry, IdLock, Policy};

/// Which counter an attempt is measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    /// One-time passwords from the user's tokens.
    Codes,
    /// The administrator's approval or per-transfer password.
    Passwords,
}

/// How an evaluated attempt counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Right: the counter's wrong entries are cleared.
    Right,
    /// Wrong: one more wrong entry; the ID locks at the limit.
    Wrong,
    /// Neither (the last code typed again, a system failure, a conflict):
    /// the reservation is released, nothing counted.
    Neutral,
}

/// What a reservation attempt leaves: the lock to store (it may differ
/// even when refused: stale reservations counted), and whether an attempt
/// was reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reservation {
    pub(crate) lock: IdLock,
    pub(crate) granted: bool,
}

impl Policy {
    /// The lock limit, never 0: a lock cannot be switched off.
    pub(crate) fn limit(&self) -> u32 {
        self.max_wrong_entries.max(1)
    }

    /// The bank's calendar day of `now`, in the policy's time zone.
    pub(crate) fn day(&self, now: u64) -> u64 {
        now.saturating_add_signed(self.utc_offset_seconds) / 86_400
    }

    /// The verification window for a bound token.
    pub(crate) const fn window(&self) -> Window {
        self.window
    }
}

impl IdLock {
    const fn counter(&mut self, which: Counter) -> &mut Attempts {
        match which {
            Counter::Codes => &mut self.codes,
            Counter::Passwords => &mut self.passwords,
        }
    }

    /// Reserves one attempt of `which` at `now`.
    pub(crate) fn reserve(self, which: Counter, now: u64, policy: &Policy) -> Reservation {
        let limit = policy.limit();
        let mut next = self;
        let a = next.counter(which);
        // Reservations never settled (a server died mid-evaluation) count
        // as wrong entries once they are older than the TTL.
        if a.pending > 0 && now > a.pending_since.saturating_add(policy.reservation_ttl) {
            a.failures = a.failures.saturating_add(a.pending);
            a.pending = 0;
            if a.failures >= limit {
                next.locked = true;
            }
        }
        if next.locked || next.counter(which).spent() >= limit {
            return Reservation {
                lock: next,
                granted: false,
            };
        }
        let a = next.counter(which);
        a.pending = a.pending.saturating_add(1);
        a.pending_since = now;
        Reservation {
            lock: next,
            granted: true,
        }
    }

    /// Settles one reserved attempt of `which`.
    pub(crate) fn settle(self, which: Counter, outcome: Outcome, policy: &Policy) -> Self {
        let mut next = self;
        let a = next.counter(which);
        a.pending = a.pending.saturating_sub(1);
        next.count(which, outcome, policy)
    }

    /// Counts one attempt of `which` that was not reserved (a code, counted
    /// by the compare-and-set that commits its verdict).
    pub(crate) fn count(self, which: Counter, outcome: Outcome, policy: &Policy) -> Self {
        let limit = policy.limit();
        let mut next = self;
        let a = next.counter(which);
        match outcome {
            Outcome::Right => a.failures = 0,
            Outcome::Wrong => {
                a.failures = a.failures.saturating_add(1);
                if a.failures >= limit {
                    next.locked = true;
                }
            }
            Outcome::Neutral => {}
        }
        next
    }

    /// Unlocked: wrong entries of both kinds cleared (attempts in flight
    /// stay reserved), one more unlock counted on `day`.
    pub(crate) const fn unlocked(self, day: u64) -> Self {
        let unlocks = if self.unlock_day == day {
            self.unlocks.saturating_add(1)
        } else {
            1
        };
        Self {
            codes: Attempts {
                failures: 0,
                ..self.codes
            },
            passwords: Attempts {
                failures: 0,
                ..self.passwords
            },
            locked: false,
            unlock_day: day,
            unlocks,
            binding: self.binding,
        }
    }

    /// Unlocks already made on `day`.
    pub(crate) const fn unlocks_on(&self, day: u64) -> u32 {
        if self.unlock_day == day {
            self.unlocks
        } else {
            0
        }
    }
}

/// The audit record of a lock reached by wrong entries.
pub(crate) fn lock_entry(at: u64, user: &crate::UserId, which: Counter, limit: u32) -> AuditEntry {
    let mut entry = AuditEntry::new(at, "policy", Some(user), crate::Action::Lock);
    entry.reason = Some(match which {
        Counter::Codes => format!("{limit} consecutive wrong codes"),
        Counter::Passwords => format!("{limit} consecutive wrong passwords"),
    });
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_reservations_then_none_and_six_wrong_settlements_lock() {
        let policy = Policy::default();
        let mut lock = IdLock::default();
        for _ in 0..6 {
            let r = lock.reserve(Counter::Passwords, 10, &policy);
            assert!(r.granted);
            lock = r.lock;
        }
        assert!(!lock.reserve(Counter::Passwords, 10, &policy).granted);
        // Codes are a separate counter.
        assert!(lock.reserve(Counter::Codes, 10, &policy).granted);
        for i in 0..6 {
            assert!(!lock.locked, "locked after {i}");
            lock = lock.settle(Counter::Passwords, Outcome::Wrong, &policy);
        }
        assert!(lock.locked);
        assert_eq!(lock.passwords.pending, 0);
    }

    #[test]
    fn a_right_entry_clears_only_its_own_counter_and_not_attempts_in_flight() {
        let policy = Policy::default();
        let mut lock = IdLock::default();
        lock.passwords.failures = 4;
        lock.codes.failures = 3;
        lock = lock.reserve(Counter::Passwords, 1, &policy).lock;
        lock = lock.reserve(Counter::Passwords, 1, &policy).lock;
        assert!(!lock.reserve(Counter::Passwords, 1, &policy).granted);
        lock = lock.settle(Counter::Passwords, Outcome::Right, &policy);
        assert_eq!(lock.passwords.failures, 0);
        assert_eq!(lock.passwords.pending, 1);
        assert_eq!(lock.codes.failures, 3);
    }

    #[test]
    fn stale_reservations_count_as_wrong_entries() {
        let policy = Policy::default();
        let mut lock = IdLock::default();
        for _ in 0..6 {
            lock = lock.reserve(Counter::Codes, 100, &policy).lock;
        }
        // Within the TTL: still in flight, refused.
        assert!(!lock.reserve(Counter::Codes, 100, &policy).granted);
        let later = lock.reserve(Counter::Codes, 100 + policy.reservation_ttl + 1, &policy);
        assert!(!later.granted);
        assert!(later.lock.locked);
        assert_eq!(later.lock.codes.failures, 6);
    }

    #[test]
    fn a_zero_limit_still_locks_at_one() {
        let policy = Policy {
            max_wrong_entries: 0,
            ..Policy::default()
        };
        let lock = IdLock::default()
            .reserve(Counter::Codes, 0, &policy)
            .lock
            .settle(Counter::Codes, Outcome::Wrong, &policy);
        assert!(lock.locked);
    }

    #[test]
    fn unlocks_are_counted_per_day() {
        let lock = IdLock::default().unlocked(5).unlocked(5);
        assert_eq!(lock.unlocks_on(5), 2);
        assert_eq!(lock.unlocks_on(6), 0);
        assert_eq!(lock.unlocked(6).unlocks_on(6), 1);
    }
}
