//! What a token is, as the bank sees it: its kind, hash and digits.

use otp_core::{Algorithm, Digits, Mode, ParamError, Params, TimeStep};

/// Time-based or event-based.
///
/// # Examples
///
/// ```
/// use otp_provision::TokenKind;
/// assert_eq!(TokenKind::default(), TokenKind::Totp(otp_core::TimeStep::default()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// RFC 6238: the code changes every time step (30 s by default; 60 s
    /// tokens exist).
    Totp(TimeStep),
    /// RFC 4226: the counter advances on every press.
    Hotp,
}

impl Default for TokenKind {
    fn default() -> Self {
        Self::Totp(TimeStep::default())
    }
}

/// The public parameters of a token model: kind, hash and digits.
/// Defaults: TOTP with 30 s steps from T0 = 0, SHA-1, 6 digits, like the
/// token of the bank's manual.
///
/// # Examples
///
/// ```
/// use otp_provision::Profile;
/// let p = Profile::default();
/// assert_eq!(p.digits, otp_core::Digits::Six);
/// assert_eq!(p.verifier_params(), otp_core::Params::default());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Profile {
    /// Time-based (with its time base) or event-based.
    pub kind: TokenKind,
    /// The HMAC hash.
    pub algorithm: Algorithm,
    /// Digits on the display.
    pub digits: Digits,
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
    /// assert!(matches!(p.kind, otp_provision::TokenKind::Totp(s) if s.seconds() == 60));
    /// # Ok::<(), otp_core::ParamError>(())
    /// ```
    pub fn totp(seconds: u64) -> Result<Self, ParamError> {
        Ok(Self {
            kind: TokenKind::Totp(TimeStep::new(seconds, 0)?),
            ..Self::default()
        })
    }

    /// An event-based profile: SHA-1, 6 digits.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_provision::Profile::hotp().kind, otp_provision::TokenKind::Hotp);
    /// ```
    #[must_use]
    pub fn hotp() -> Self {
        Self {
            kind: TokenKind::Hotp,
            ..Self::default()
        }
    }

    /// The bank's default verification parameters for this profile
    /// (`Params::totp` or `Params::hotp` of `otp_core`, with these digits).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = otp_provision::Profile::hotp().verifier_params();
    /// assert_eq!(p.mode, otp_core::Mode::Hotp);
    /// ```
    #[must_use]
    pub fn verifier_params(&self) -> Params {
        let base = match self.kind {
            TokenKind::Totp(step) => Params::totp(step),
            TokenKind::Hotp => Params::hotp(),
        };
        Params {
            digits: self.digits,
            ..base
        }
    }

    /// The core [`Mode`] of this profile.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_provision::Profile::hotp().mode(), otp_core::Mode::Hotp);
    /// ```
    #[must_use]
    pub const fn mode(&self) -> Mode {
        match self.kind {
            TokenKind::Totp(step) => Mode::Totp(step),
            TokenKind::Hotp => Mode::Hotp,
        }
    }
}
