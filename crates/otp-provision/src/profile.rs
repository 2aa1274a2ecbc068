//! What a token is, as the bank sees it: its mode, hash and digits.

use otp_core::{Algorithm, Digits, Mode, ParamError, TimeStep};

/// The public parameters of a token model: mode (time-based with its time
/// base, or event-based), hash and digits. Defaults: TOTP with 30 s steps
/// from T0 = 0, SHA-1, 6 digits, like the token of the bank's manual.
///
/// A profile describes the device. How the bank verifies its codes (the
/// window, the first-use window, the lock limit) is the bank's policy: it
/// builds `otp_core::Params` from the profile's mode and digits.
///
/// # Examples
///
/// ```
/// use otp_core::{Mode, Params};
/// use otp_provision::Profile;
/// let p = Profile::default();
/// assert_eq!(p.digits, otp_core::Digits::Six);
/// let params = Params { mode: p.mode, digits: p.digits, ..Params::default() };
/// assert_eq!(params, Params::default());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Profile {
    /// Time-based (with its time base) or event-based.
    pub mode: Mode,
    /// The HMAC hash.
    pub algorithm: Algorithm,
    /// Digits on the display.
    pub digits: Digits,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            mode: Mode::Totp(TimeStep::default()),
            algorithm: Algorithm::default(),
            digits: Digits::default(),
        }
    }
}

impl Profile {
    /// A time-based profile with `seconds`-long steps from T0 = 0, SHA-1,
    /// 6 digits.
    ///
    /// # Errors
    ///
    /// [`ParamError`] when `seconds` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = otp_provision::Profile::totp(60)?;
    /// assert!(matches!(p.mode, otp_core::Mode::Totp(s) if s.seconds() == 60));
    /// # Ok::<(), otp_core::ParamError>(())
    /// ```
    pub fn totp(seconds: u64) -> Result<Self, ParamError> {
        Ok(Self {
            mode: Mode::Totp(TimeStep::new(seconds, 0)?),
            ..Self::default()
        })
    }

    /// An event-based profile: SHA-1, 6 digits.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_provision::Profile::hotp().mode, otp_core::Mode::Hotp);
    /// ```
    #[must_use]
    pub fn hotp() -> Self {
        Self {
            mode: Mode::Hotp,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_manuals_token() {
        assert_eq!(
            Profile::default(),
            Profile {
                mode: Mode::Totp(TimeStep::new(30, 0).unwrap()),
                algorithm: Algorithm::Sha1,
                digits: Digits::Six,
            }
        );
    }
}
