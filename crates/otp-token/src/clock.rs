//! The simulator's clocks: a simulated clock that tests advance by hand,
//! and the token's drifting crystal. (The [`Clock`] trait both a bank and
//! a token read, and the system clock, are otp-provision's.)

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use otp_provision::Clock;

/// A simulated clock that moves only when told to. Clones share the same
/// time, so one `SimClock` can drive a bank and many tokens.
///
/// # Examples
///
/// ```
/// use otp_provision::Clock;
/// use otp_token::SimClock;
/// let clock = SimClock::new(1_000);
/// let bank_view = clock.clone();
/// clock.advance(30);
/// assert_eq!(bank_view.now(), 1_030);
/// clock.set(5);
/// assert_eq!(bank_view.now(), 5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct SimClock(Arc<AtomicU64>);

impl SimClock {
    /// A clock reading `start` (Unix seconds).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::Clock;
    /// assert_eq!(otp_token::SimClock::new(7).now(), 7);
    /// ```
    #[must_use]
    pub fn new(start: u64) -> Self {
        Self(Arc::new(AtomicU64::new(start)))
    }

    /// Moves the clock forward by `seconds` (saturating at `u64::MAX`) and
    /// returns the new time.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_token::SimClock::new(1).advance(2), 3);
    /// ```
    pub fn advance(&self, seconds: u64) -> u64 {
        let mut now = self.0.load(Ordering::SeqCst);
        loop {
            let next = now.saturating_add(seconds);
            match self
                .0
                .compare_exchange(now, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(actual) => now = actual,
            }
        }
    }

    /// Sets the clock to `now`, forward or backward.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::Clock;
    /// let c = otp_token::SimClock::new(100);
    /// c.set(50);
    /// assert_eq!(c.now(), 50);
    /// ```
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The largest crystal error accepted, in parts per million. Real token
/// crystals are within ±2 to ±20 ppm (about ±1 to ±10 minutes a year);
/// the limit leaves room for deliberately bad tokens in tests.
pub const MAX_DRIFT_PPM: i32 = 1_000;

/// A token's quartz crystal: how fast it runs (`drift_ppm`, positive is
/// fast) and where it was set at activation (`offset`, seconds ahead of
/// true time, negative when behind).
///
/// At true time `t`, a token activated at `a` reads
/// `t + offset + (t - a) * drift_ppm / 1_000_000` (rounded toward
/// negative infinity, never below 0).
///
/// # Examples
///
/// ```
/// use otp_token::Crystal;
/// let fast = Crystal::new(20, 0)?; // 20 ppm fast
/// let year = 365 * 86_400;
/// // After a year it reads about 10.5 minutes ahead.
/// assert_eq!(fast.local_time(0, year) - year, 630);
/// # Ok::<(), otp_token::TokenError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Crystal {
    drift_ppm: i32,
    offset: i64,
}

impl Crystal {
    /// A perfect crystal, set exactly right.
    pub const PERFECT: Self = Self {
        drift_ppm: 0,
        offset: 0,
    };

    /// A crystal running `drift_ppm` parts per million fast (negative:
    /// slow), set `offset` seconds ahead (negative: behind) at activation.
    ///
    /// # Errors
    ///
    /// [`TokenError::DriftOutOfRange`](crate::TokenError::DriftOutOfRange)
    /// beyond ±[`MAX_DRIFT_PPM`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(otp_token::Crystal::new(-15, 2).is_ok());
    /// assert!(otp_token::Crystal::new(5_000, 0).is_err());
    /// ```
    pub const fn new(drift_ppm: i32, offset: i64) -> Result<Self, crate::TokenError> {
        if drift_ppm > MAX_DRIFT_PPM || drift_ppm < -MAX_DRIFT_PPM {
            Err(crate::TokenError::DriftOutOfRange { ppm: drift_ppm })
        } else {
            Ok(Self { drift_ppm, offset })
        }
    }

    /// The drift in parts per million.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_token::Crystal::new(3, 0)?.drift_ppm(), 3);
    /// # Ok::<(), otp_token::TokenError>(())
    /// ```
    #[must_use]
    pub const fn drift_ppm(&self) -> i32 {
        self.drift_ppm
    }

    /// The offset at activation, in seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_token::Crystal::new(0, -4)?.offset(), -4);
    /// # Ok::<(), otp_token::TokenError>(())
    /// ```
    #[must_use]
    pub const fn offset(&self) -> i64 {
        self.offset
    }

    /// What the token's clock reads at true time `at`, for a token activated
    /// at `activated_at`. Saturates at 0 and `u64::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = otp_token::Crystal::new(-10, 0)?;
    /// assert_eq!(c.local_time(0, 1_000_000), 999_990);
    /// # Ok::<(), otp_token::TokenError>(())
    /// ```
    #[must_use]
    pub fn local_time(&self, activated_at: u64, at: u64) -> u64 {
        let elapsed = i128::from(at) - i128::from(activated_at);
        let gained = (elapsed * i128::from(self.drift_ppm)).div_euclid(1_000_000);
        let local = i128::from(at) + i128::from(self.offset) + gained;
        u64::try_from(local.max(0)).unwrap_or(u64::MAX)
    }

    /// The earliest true time at or after `not_before` at which the token's
    /// clock reads at least `local`, or `None` if it never does before
    /// `u64::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = otp_token::Crystal::new(0, 5)?; // 5 s ahead
    /// assert_eq!(c.true_time_of(0, 0, 65), Some(60));
    /// # Ok::<(), otp_token::TokenError>(())
    /// ```
    #[must_use]
    pub fn true_time_of(&self, activated_at: u64, not_before: u64, local: u64) -> Option<u64> {
        if self.local_time(activated_at, not_before) >= local {
            return Some(not_before);
        }
        // local(t) is non-decreasing in t (|drift| < 10^6 ppm), so binary
        // search the first t with local(t) >= local.
        let (mut lo, mut hi) = (not_before, u64::MAX);
        if self.local_time(activated_at, hi) < local {
            return None;
        }
        while hi.saturating_sub(lo) > 1 {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            if self.local_time(activated_at, mid) >= local {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_ppm_is_about_ten_minutes_a_year() {
        let c = Crystal::new(20, 0).unwrap();
        let year = 365 * 86_400;
        assert_eq!(c.local_time(1_000, 1_000 + year), 1_000 + year + 630);
        let slow = Crystal::new(-20, 0).unwrap();
        assert_eq!(slow.local_time(1_000, 1_000 + year), 1_000 + year - 631);
    }

    #[test]
    fn true_time_inverts_local_time() {
        for ppm in [-20, -2, 0, 2, 20, 1_000] {
            let c = Crystal::new(ppm, -3).unwrap();
            for target in [10u64, 1_000_000, 1_790_000_000] {
                let t = c.true_time_of(0, 0, target).unwrap();
                assert!(c.local_time(0, t) >= target);
                assert!(t == 0 || c.local_time(0, t - 1) < target);
            }
        }
    }

    #[test]
    fn shared_sim_clock() {
        let c = SimClock::new(0);
        let d = c.clone();
        let arc: Arc<dyn Clock> = Arc::new(c.clone());
        c.advance(10);
        assert_eq!(d.now(), 10);
        assert_eq!(arc.now(), 10);
        c.set(u64::MAX);
        assert_eq!(c.advance(1), u64::MAX);
    }
}
