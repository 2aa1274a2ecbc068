//! Rate limits per node, in memory: token buckets keyed by API key id or
//! target user ID. Memory is bounded: at most `max_entries` buckets; when
//! full, the bucket idle longest is forgotten (a forgotten bucket is a
//! full one, which only ever allows more, never refuses a caller who was
//! within the limit).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many buckets a limiter keeps at most.
pub const MAX_BUCKETS: usize = 100_000;

/// A token-bucket limiter: `capacity` requests at once, refilled at
/// `per_second`.
#[derive(Debug)]
pub(crate) struct Limiter {
    capacity: f64,
    per_second: f64,
    max_entries: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Limiter {
    /// `capacity` at once, `refill` tokens every `period`.
    pub(crate) fn new(capacity: u32, refill: u32, period: Duration, max_entries: usize) -> Self {
        let seconds = period.as_secs_f64().max(f64::EPSILON);
        Self {
            capacity: f64::from(capacity.max(1)),
            per_second: f64::from(refill.max(1)) / seconds,
            max_entries: max_entries.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket at `now`: `Ok` if there was
    /// one, else `Err(seconds)` until there is (whole seconds, at least 1).
    pub(crate) fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock: a thread panicked while holding it. Refuse
            // (fail closed) rather than allow without limit.
            return Err(1);
        };
        if !buckets.contains_key(key) && buckets.len() >= self.max_entries {
            let oldest = buckets
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                buckets.remove(&oldest);
            }
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = elapsed
            .mul_add(self.per_second, bucket.tokens)
            .min(self.capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / self.per_second).ceil();
            // At most a day: a float that is not a whole number of seconds
            // in range is clamped.
            Err(if wait.is_finite() && wait >= 1.0 {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "clamped to 1..=86400 first"
                )]
                let seconds = wait.min(86_400.0) as u64;
                seconds
            } else {
                1
            })
        }
    }

    /// How many buckets are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().map_or(0, |b| b.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_capacity_then_says_when_to_retry() {
        let limiter = Limiter::new(3, 3, Duration::from_secs(10), 10);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("W0002", t0), Ok(()));
        }
        // 3 per 10 s: the next token in 3.33 s, said as 4.
        assert_eq!(limiter.check("W0002", t0), Err(4));
        // Another key has its own bucket.
        assert_eq!(limiter.check("W0005", t0), Ok(()));
        assert_eq!(
            limiter.check("W0002", t0 + Duration::from_millis(3_400)),
            Ok(())
        );
        assert_eq!(
            limiter.check("W0002", t0 + Duration::from_millis(3_400)),
            Err(4)
        );
    }

    #[test]
    fn memory_is_bounded_and_the_longest_idle_bucket_goes_first() {
        let limiter = Limiter::new(1, 1, Duration::from_secs(60), 3);
        let t0 = Instant::now();
        for (i, key) in ["a", "b", "c"].iter().enumerate() {
            let at = t0 + Duration::from_secs(u64::try_from(i).unwrap());
            assert_eq!(limiter.check(key, at), Ok(()));
        }
        assert_eq!(limiter.check("d", t0 + Duration::from_secs(3)), Ok(()));
        assert_eq!(limiter.len(), 3);
        // "a" was forgotten (full again); "b" and "c" are still empty.
        assert_eq!(limiter.check("b", t0 + Duration::from_secs(4)), Err(57));
        assert_eq!(limiter.check("a", t0 + Duration::from_secs(4)), Ok(()));
        assert_eq!(limiter.len(), 3);
    }
}
