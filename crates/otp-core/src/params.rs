//! Verification parameters: time steps, windows and the lockout policy.

use crate::{ClockError, Digits, ParamError};

/// A TOTP time base (RFC 6238 §4): step length `X` and epoch `T0`, both in
/// Unix seconds. Defaults: 30 s steps from 0.
///
/// # Examples
///
/// ```
/// use otp_core::TimeStep;
/// let ts = TimeStep::default();
/// assert_eq!(ts.step_at(59), Ok(1));
/// assert_eq!(ts.next_change_after(59), Some(60));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeStep {
    seconds: u64,
    t0: u64,
}

impl Default for TimeStep {
    fn default() -> Self {
        Self { seconds: 30, t0: 0 }
    }
}

impl TimeStep {
    /// A time base with a step of `seconds` from epoch `t0`.
    ///
    /// # Errors
    ///
    /// [`ParamError::ZeroTimeStep`] when `seconds` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(otp_core::TimeStep::new(60, 0).is_ok());
    /// assert!(otp_core::TimeStep::new(0, 0).is_err());
    /// ```
    pub const fn new(seconds: u64, t0: u64) -> Result<Self, ParamError> {
        if seconds == 0 {
            Err(ParamError::ZeroTimeStep)
        } else {
            Ok(Self { seconds, t0 })
        }
    }

    /// The step length in seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::TimeStep::default().seconds(), 30);
    /// ```
    #[must_use]
    pub const fn seconds(&self) -> u64 {
        self.seconds
    }

    /// The epoch T0 in Unix seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::TimeStep::default().t0(), 0);
    /// ```
    #[must_use]
    pub const fn t0(&self) -> u64 {
        self.t0
    }

    /// The step counter `T = floor((now - T0) / X)` at Unix time `now`.
    ///
    /// # Errors
    ///
    /// [`ClockError::BeforeT0`] when `now` is earlier than T0.
    ///
    /// # Examples
    ///
    /// ```
    /// // RFC 6238 Appendix B: 2603-10-11 11:33:20 UTC is step 0x27BC86AA.
    /// assert_eq!(otp_core::TimeStep::default().step_at(20_000_000_000), Ok(0x27BC86AA));
    /// ```
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "`seconds` is never zero (checked by `new`), and a u64 quotient cannot overflow"
    )]
    pub const fn step_at(&self, now: u64) -> Result<u64, ClockError> {
        match now.checked_sub(self.t0) {
            Some(elapsed) => Ok(elapsed / self.seconds),
            None => Err(ClockError::BeforeT0),
        }
    }

    /// The Unix time at which step `step` begins, or `None` past `u64::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::TimeStep::default().start_of(2), Some(60));
    /// ```
    #[must_use]
    pub const fn start_of(&self, step: u64) -> Option<u64> {
        match step.checked_mul(self.seconds) {
            Some(s) => s.checked_add(self.t0),
            None => None,
        }
    }

    /// The first instant after `now` at which a new code appears (the start
    /// of the next step; T0 itself when `now` is before T0), or `None` past
    /// `u64::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::TimeStep::default().next_change_after(30), Some(60));
    /// ```
    #[must_use]
    pub const fn next_change_after(&self, now: u64) -> Option<u64> {
        match self.step_at(now) {
            Ok(step) => match step.checked_add(1) {
                Some(next) => self.start_of(next),
                None => None,
            },
            Err(_) => Some(self.t0),
        }
    }
}

/// How far from the expected position a code may be: `behind` steps or
/// counters before it and `ahead` after it. The bounds are `u16`, so a
/// misconfiguration cannot ask for billions of hashes.
///
/// # Examples
///
/// ```
/// let w = otp_core::Window::new(1, 1);
/// assert_eq!(w.candidates(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Positions before the expected one.
    pub behind: u16,
    /// Positions after the expected one.
    pub ahead: u16,
}

impl Window {
    /// A window of `behind` positions before and `ahead` after.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Window::new(0, 10).ahead, 10);
    /// ```
    #[must_use]
    pub const fn new(behind: u16, ahead: u16) -> Self {
        Self { behind, ahead }
    }

    /// `behind + ahead + 1`: how many codes a verification computes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Window::new(10, 10).candidates(), 21);
    /// ```
    #[must_use]
    pub const fn candidates(&self) -> u32 {
        // Two u16 plus one never overflows a u32.
        (self.behind as u32)
            .saturating_add(self.ahead as u32)
            .saturating_add(1)
    }
}

/// Time-based or event-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// RFC 4226 event token: the position is a counter that advances on
    /// every button press.
    Hotp,
    /// RFC 6238 time token: the position is the time step.
    Totp(TimeStep),
}

/// Everything a bank configures about verifying one kind of token.
///
/// Defaults: TOTP with 30 s steps from T0 = 0, 6 digits, a ±1 window,
/// resync over ±100 steps, lock after 6 consecutive failures.
///
/// # Examples
///
/// ```
/// use otp_core::{Mode, Params, Window};
/// let hotp = Params { mode: Mode::Hotp, window: Window::new(0, 10), ..Params::default() };
/// assert_eq!(hotp.max_failures, 6);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Params {
    /// Time-based or event-based, with the time base for TOTP.
    pub mode: Mode,
    /// Digits per code.
    pub digits: Digits,
    /// The verification window around the expected position (plus the
    /// learned drift, for TOTP). For HOTP, `behind` serves only to tell a
    /// replayed code from a wrong one.
    pub window: Window,
    /// Half-width of the resynchronisation search (RFC 4226 §7.4).
    pub resync_window: u16,
    /// Consecutive failures after which the token locks (RFC 4226 §7.3).
    /// Zero disables the lock (not recommended).
    pub max_failures: u32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            mode: Mode::Totp(TimeStep::default()),
            digits: Digits::Six,
            window: Window::new(1, 1),
            resync_window: 100,
            max_failures: 6,
        }
    }
}

impl Params {
    /// Default TOTP parameters with the given time base.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{Params, TimeStep};
    /// let p = Params::totp(TimeStep::new(60, 0)?);
    /// assert_eq!(p.window.candidates(), 3);
    /// # Ok::<(), otp_core::ParamError>(())
    /// ```
    #[must_use]
    pub fn totp(step: TimeStep) -> Self {
        Self {
            mode: Mode::Totp(step),
            ..Self::default()
        }
    }

    /// Default HOTP parameters: a look-ahead of 10 counters and one behind
    /// (to recognise the last code typed again).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Params::hotp().window.ahead, 10);
    /// ```
    #[must_use]
    pub fn hotp() -> Self {
        Self {
            mode: Mode::Hotp,
            window: Window::new(1, 10),
            ..Self::default()
        }
    }
}
