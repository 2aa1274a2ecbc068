//! The battery: presses or years, `bAtt` near the end, then nothing.

use super::SECONDS_PER_YEAR;

/// The battery: it lasts a number of presses or a number of years from
/// activation, whichever ends first. Near the end the display shows
/// `bAtt` next to the code; after it, nothing.
///
/// # Examples
///
/// ```
/// use otp_token::Battery;
/// let b = Battery::new(10_000, 5);
/// assert_eq!(b.presses(), 10_000);
/// assert_eq!(b.lifetime_seconds(), 5 * otp_token::SECONDS_PER_YEAR);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Battery {
    presses: u64,
    lifetime: u64,
    warn_presses: u64,
    warn_seconds: u64,
}

impl Default for Battery {
    /// 5 years or 30,000 presses; `bAtt` for the last 5 % of either.
    fn default() -> Self {
        Self::new(30_000, 5)
    }
}

impl Battery {
    /// A battery good for `presses` presses or `years` years from
    /// activation. `bAtt` shows during the last 5 % of either (at least one
    /// press or one day).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_token::Battery::new(100, 1).warning_presses(), 5);
    /// ```
    #[must_use]
    pub const fn new(presses: u64, years: u32) -> Self {
        let lifetime = (years as u64).saturating_mul(SECONDS_PER_YEAR);
        Self {
            presses,
            lifetime,
            warn_presses: max(presses / 20, 1),
            warn_seconds: max(lifetime / 20, 86_400),
        }
    }

    /// A battery that never runs out (for tests that age a token by
    /// decades).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_token::Battery::unlimited().presses(), u64::MAX);
    /// ```
    #[must_use]
    pub const fn unlimited() -> Self {
        Self {
            presses: u64::MAX,
            lifetime: u64::MAX,
            warn_presses: 0,
            warn_seconds: 0,
        }
    }

    /// The same battery with `bAtt` shown for the last `presses` presses or
    /// the last `seconds` of its life.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = otp_token::Battery::new(100, 1).with_warning(10, 0);
    /// assert_eq!(b.warning_presses(), 10);
    /// ```
    #[must_use]
    pub const fn with_warning(self, presses: u64, seconds: u64) -> Self {
        Self {
            warn_presses: presses,
            warn_seconds: seconds,
            ..self
        }
    }

    /// How many presses the battery lasts.
    #[must_use]
    pub const fn presses(&self) -> u64 {
        self.presses
    }

    /// How many seconds after activation the battery lasts.
    #[must_use]
    pub const fn lifetime_seconds(&self) -> u64 {
        self.lifetime
    }

    /// For how many of the last presses `bAtt` shows.
    #[must_use]
    pub const fn warning_presses(&self) -> u64 {
        self.warn_presses
    }

    /// For how many of the last seconds `bAtt` shows.
    #[must_use]
    pub const fn warning_seconds(&self) -> u64 {
        self.warn_seconds
    }

    pub(super) fn level(&self, used_presses: u64, age: u64) -> Level {
        let presses_left = self.presses.saturating_sub(used_presses);
        let seconds_left = self.lifetime.saturating_sub(age);
        if presses_left == 0 || seconds_left == 0 {
            Level::Empty
        } else if presses_left <= self.warn_presses || seconds_left <= self.warn_seconds {
            Level::Low
        } else {
            Level::Good
        }
    }
}

const fn max(a: u64, b: u64) -> u64 {
    if a > b { a } else { b }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Good,
    Low,
    Empty,
}
