//! Time: the trait both a bank and a token read, and the operating
//! system's clock. (A simulated clock is the simulator's: otp-token's
//! `SimClock`.)

use core::fmt;
use std::sync::Arc;

/// Something that tells the time in Unix seconds.
///
/// # Examples
///
/// ```
/// use otp_provision::{Clock, SystemClock};
/// fn login_time(clock: &dyn Clock) -> u64 { clock.now() }
/// assert!(login_time(&SystemClock) > 1_700_000_000);
/// ```
pub trait Clock: fmt::Debug + Send + Sync {
    /// The current time in Unix seconds.
    fn now(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

/// The operating system's clock. A time before 1970 reads as 0.
///
/// # Examples
///
/// ```
/// use otp_provision::{Clock, SystemClock};
/// assert!(SystemClock.now() > 1_700_000_000);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
