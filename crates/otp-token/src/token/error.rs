//! Why a token cannot be built or cannot show a code.

use core::fmt;

use otp_core::ClockError;

/// Why a token cannot be built or cannot show a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenError {
    /// A crystal drift beyond ±[`MAX_DRIFT_PPM`](crate::MAX_DRIFT_PPM).
    DriftOutOfRange {
        /// The drift asked for, in ppm.
        ppm: i32,
    },
    /// A parameter the core refuses (zero time step).
    Param(otp_core::ParamError),
    /// The display time is zero seconds.
    ZeroDisplayTime,
    /// The button was pressed before the token was activated.
    BeforeActivation,
    /// The token's clock reads before its T0.
    Clock(ClockError),
    /// The event counter is at its maximum: the token cannot show another
    /// code without wrapping, which would reuse old codes.
    CounterExhausted,
    /// A challenge was typed on a token without a keypad.
    NoKeypad,
    /// The OCRA suite needs a PIN hash or session information, which a
    /// keypad token has no way to be given.
    KeypadSuite,
    /// The typed challenge does not fit the token's OCRA suite.
    Challenge(otp_core::OcraInputError),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DriftOutOfRange { ppm } => write!(
                f,
                "a crystal drift of {ppm} ppm is out of range: use a value within ±{} ppm (real tokens are within ±20)",
                crate::MAX_DRIFT_PPM
            ),
            Self::Param(e) => fmt::Display::fmt(e, f),
            Self::ZeroDisplayTime => f.write_str("the display time must be at least one second"),
            Self::BeforeActivation => f.write_str(
                "the token is not activated yet: press the button after its activation date",
            ),
            Self::Clock(e) => write!(f, "the token's clock cannot show a code: {e}"),
            Self::CounterExhausted => {
                f.write_str("the token's event counter is exhausted: replace the token")
            }
            Self::NoKeypad => f.write_str(
                "this token has no keypad: it shows a code on a press, without a challenge",
            ),
            Self::KeypadSuite => f.write_str(
                "a keypad token cannot use an OCRA suite with a PIN hash (P) or session (S): choose a suite without them",
            ),
            Self::Challenge(e) => write!(f, "the challenge cannot be typed: {e}"),
        }
    }
}

impl core::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Param(e) => Some(e),
            Self::Clock(e) => Some(e),
            Self::Challenge(e) => Some(e),
            _ => None,
        }
    }
}

impl From<otp_core::ParamError> for TokenError {
    fn from(e: otp_core::ParamError) -> Self {
        Self::Param(e)
    }
}

impl From<ClockError> for TokenError {
    fn from(e: ClockError) -> Self {
        Self::Clock(e)
    }
}
