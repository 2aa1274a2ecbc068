//! Typed errors. None of them carries a secret or the code a user typed.

use core::fmt;

/// A parameter (algorithm name, digit count, time step) was not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParamError {
    /// The algorithm name is not SHA1, SHA256 or SHA512.
    UnknownAlgorithm,
    /// The digit count is not 6, 7 or 8.
    UnsupportedDigits,
    /// The TOTP time step is zero seconds.
    ZeroTimeStep,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownAlgorithm => "unknown algorithm: use SHA1, SHA256 or SHA512",
            Self::UnsupportedDigits => "unsupported digit count: use 6, 7 or 8",
            Self::ZeroTimeStep => "the time step must be at least one second",
        })
    }
}

impl core::error::Error for ParamError {}

/// A secret could not become a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyError {
    /// Shorter than the 128 bits RFC 4226 (R6) requires.
    TooShort {
        /// The minimum, in bytes (16).
        min: usize,
        /// The length given, in bytes.
        found: usize,
    },
    /// Longer than a [`Secret`](crate::Secret) can hold.
    TooLong {
        /// The maximum, in bytes.
        max: usize,
        /// The length given, in bytes.
        found: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min, found } => write!(
                f,
                "the secret is {found} bytes; at least {min} bytes (128 bits) are required"
            ),
            Self::TooLong { max, found } => {
                write!(
                    f,
                    "the secret is {found} bytes; at most {max} bytes are supported"
                )
            }
        }
    }
}

impl core::error::Error for KeyError {}

/// What is wrong with a code as typed. A UI can turn each kind into a
/// sentence such as "type the 6 half-width digits shown on the token".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeError {
    /// Nothing was typed.
    Empty,
    /// Full-width digits (０–９), as a Japanese input method types them.
    FullWidthDigits,
    /// Spaces, dashes or other separators between or around the digits.
    Separator,
    /// Letters or other characters that are not digits.
    NotDigit,
    /// Characters that are not hex digits, in a response shown in hex (an
    /// OCRA suite without truncation).
    NotHex,
    /// Only digits, but not as many as the token shows.
    WrongLength {
        /// How many digits the token shows.
        expected: u8,
        /// How many digits were typed.
        found: usize,
    },
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no code was entered: type the digits shown on the token"),
            Self::FullWidthDigits => {
                f.write_str("the code has full-width digits: type half-width digits (0-9)")
            }
            Self::Separator => f.write_str(
                "the code has spaces or separators: type the digits only, without spaces or dashes",
            ),
            Self::NotDigit => {
                f.write_str("the code has characters other than digits: type digits only")
            }
            Self::NotHex => f.write_str(
                "the response has characters other than hex digits: type 0-9 and a-f only",
            ),
            Self::WrongLength { expected, found } => write!(
                f,
                "the code has {found} digits: type all {expected} digits shown on the token"
            ),
        }
    }
}

impl core::error::Error for CodeError {}

/// A clock value the verifier cannot use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClockError {
    /// The time is earlier than the TOTP epoch T0.
    BeforeT0,
}

impl fmt::Display for ClockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BeforeT0 => {
                "the clock reads earlier than the token's start time T0: check the server clock"
            }
        })
    }
}

impl core::error::Error for ClockError {}

/// Why a code was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejected {
    /// No code in the window matched. Counts as a failed attempt.
    Invalid,
    /// The code matched a step or counter at or below the replay floor: it
    /// was used already (or is older than one that was).
    Replayed {
        /// `true` when it is exactly the last accepted code, typed again.
        /// That is not counted as a failed guess; an older code is.
        repeat_of_last: bool,
    },
    /// Too many consecutive failures: every code is refused until an
    /// administrator unlocks the token ([`TokenState::unlocked`](crate::TokenState::unlocked)).
    Locked,
    /// The code has a different number of digits from the token's.
    DigitsMismatch,
    /// The clock value cannot be used (not counted as a failure).
    Clock(ClockError),
    /// The window would need a step or counter beyond `u64::MAX - 1`.
    CounterExhausted,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid => f.write_str("the one-time password is not correct"),
            Self::Replayed { .. } => f.write_str(
                "the same password cannot be used twice in a row: wait for the next code (15-30 s) and try again",
            ),
            Self::Locked => f.write_str(
                "too many wrong passwords: the token is locked until an administrator unlocks it",
            ),
            Self::DigitsMismatch => f.write_str("the code has the wrong number of digits for this token"),
            Self::Clock(e) => fmt::Display::fmt(e, f),
            Self::CounterExhausted => f.write_str("the token's counter is exhausted: replace the token"),
        }
    }
}

impl core::error::Error for Rejected {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Clock(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ClockError> for Rejected {
    fn from(e: ClockError) -> Self {
        Self::Clock(e)
    }
}
