//! Typed errors of OCRA: a malformed suite string, and inputs that do not
//! fit the suite. None of them carries a secret, a password hash or a
//! response.

use core::fmt;

use crate::Algorithm;

/// One of the data inputs an OCRA suite can name (RFC 6287 §5.1, §6.3).
///
/// # Examples
///
/// ```
/// assert_eq!(otp_core::OcraField::PasswordHash.to_string(), "password hash (P)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OcraField {
    /// `C`: the 8-byte counter.
    Counter,
    /// `Q`: the challenge question(s).
    Question,
    /// `P`: the hash of the PIN or password.
    PasswordHash,
    /// `S`: the session information.
    Session,
    /// `T`: the number of time steps since the Unix epoch.
    Time,
}

impl OcraField {
    /// The field's letter in a suite string (`C`, `Q`, `P`, `S`, `T`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::OcraField::Time.letter(), 'T');
    /// ```
    #[must_use]
    pub const fn letter(self) -> char {
        match self {
            Self::Counter => 'C',
            Self::Question => 'Q',
            Self::PasswordHash => 'P',
            Self::Session => 'S',
            Self::Time => 'T',
        }
    }
}

impl fmt::Display for OcraField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Counter => "counter",
            Self::Question => "question",
            Self::PasswordHash => "password hash",
            Self::Session => "session information",
            Self::Time => "time step",
        };
        write!(f, "{name} ({})", self.letter())
    }
}

/// What is wrong with an OCRA suite string (RFC 6287 §6), one variant per
/// part of the grammar `OCRA-1:HOTP-<hash>-<digits>:<data inputs>`.
///
/// # Examples
///
/// ```
/// use otp_core::{OcraSuite, SuiteError};
/// assert_eq!(OcraSuite::parse("OCRA-1:HOTP-SHA1-3:QN08"), Err(SuiteError::BadDigits));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SuiteError {
    /// The suite string is empty.
    Empty,
    /// Longer than any suite the grammar allows.
    TooLong {
        /// The longest well-formed suite, in bytes ([`MAX_SUITE_LEN`](crate::MAX_SUITE_LEN)).
        max: usize,
        /// The length given, in bytes.
        found: usize,
    },
    /// The first part is not `OCRA-<version>`.
    BadAlgorithm,
    /// `OCRA-<version>` with a version other than 1.
    UnsupportedVersion,
    /// No `:` after the algorithm: the crypto function is missing.
    MissingCryptoFunction,
    /// The crypto function is not `HOTP-<hash>-<digits>`.
    UnknownCryptoFunction,
    /// The crypto function's hash is not `SHA1`, `SHA256` or `SHA512`.
    UnknownHash,
    /// The truncation is not 0 (no truncation) or 4 to 10 digits.
    BadDigits,
    /// No `:` after the crypto function: the data inputs are missing.
    MissingDataInput,
    /// A third `:` and more after the data inputs.
    TrailingGarbage,
    /// An empty data input: two hyphens in a row, or one at an end.
    EmptyDataInput,
    /// A data input whose letter is not `C`, `Q`, `P`, `S` or `T`.
    UnknownDataInput,
    /// `C` followed by something.
    BadCounter,
    /// The question format is not `A`, `N` or `H` (as in `QN08`).
    BadQuestionFormat,
    /// The question length is not 04 to 64 (one or two digits).
    BadQuestionLength,
    /// The password hash is not `PSHA1`, `PSHA256` or `PSHA512` (or `P`).
    BadPasswordHash,
    /// The session length is not three digits from `001` to `512` (or `S`).
    BadSessionLength,
    /// The time step is not 1-59 `S`, 1-59 `M` or 1-48 `H` (or `T`).
    BadTimeStep,
    /// The same data input twice.
    Duplicate(OcraField),
    /// The data inputs are not in the order `C`, `Q`, `P`, `S`, `T`.
    OutOfOrder,
    /// No question: `Q` is mandatory.
    MissingQuestion,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => {
                f.write_str("the OCRA suite is empty: write it as OCRA-1:HOTP-SHA1-6:QN08")
            }
            Self::TooLong { max, found } => write!(
                f,
                "the OCRA suite is {found} bytes; no well-formed suite is longer than {max}"
            ),
            Self::BadAlgorithm => f.write_str("the OCRA suite must start with OCRA-1:"),
            Self::UnsupportedVersion => f.write_str("only OCRA version 1 (OCRA-1) is supported"),
            Self::MissingCryptoFunction => {
                f.write_str("the OCRA suite has no crypto function: add :HOTP-SHA1-6 after OCRA-1")
            }
            Self::UnknownCryptoFunction => {
                f.write_str("the crypto function must be HOTP-<hash>-<digits>, as in HOTP-SHA1-6")
            }
            Self::UnknownHash => {
                f.write_str("the crypto function's hash must be SHA1, SHA256 or SHA512")
            }
            Self::BadDigits => {
                f.write_str("the response length must be 0 (no truncation) or 4 to 10 digits")
            }
            Self::MissingDataInput => {
                f.write_str("the OCRA suite has no data inputs: add :QN08 (a question) at the end")
            }
            Self::TrailingGarbage => {
                f.write_str("the OCRA suite has more than three parts separated by ':'")
            }
            Self::EmptyDataInput => {
                f.write_str("the data inputs have an empty item: check the hyphens")
            }
            Self::UnknownDataInput => f.write_str("a data input is not C, Q, P, S or T"),
            Self::BadCounter => f.write_str("the counter input is written C, alone"),
            Self::BadQuestionFormat => {
                f.write_str("the question format must be A, N or H, as in QN08")
            }
            Self::BadQuestionLength => {
                f.write_str("the question length must be 04 to 64, as in QN08")
            }
            Self::BadPasswordHash => {
                f.write_str("the password hash must be PSHA1, PSHA256 or PSHA512")
            }
            Self::BadSessionLength => {
                f.write_str("the session length must be three digits from 001 to 512, as in S064")
            }
            Self::BadTimeStep => f.write_str(
                "the time step must be 1-59 seconds (T30S), 1-59 minutes (T1M) or 1-48 hours (T1H)",
            ),
            Self::Duplicate(field) => write!(f, "the {field} appears twice in the OCRA suite"),
            Self::OutOfOrder => f.write_str("the data inputs must be in the order C, Q, P, S, T"),
            Self::MissingQuestion => f.write_str("the OCRA suite has no question: Q is mandatory"),
        }
    }
}

impl core::error::Error for SuiteError {}

/// An OCRA input that does not fit its suite, or a key made for another
/// hash.
///
/// # Examples
///
/// ```
/// use otp_core::{OcraField, OcraInput, OcraInputError, OcraSuite};
/// let suite: OcraSuite = "OCRA-1:HOTP-SHA1-6:C-QN08".parse()?;
/// assert_eq!(
///     suite.validate(&OcraInput::new("12345678")),
///     Err(OcraInputError::Missing(OcraField::Counter))
/// );
/// # Ok::<(), otp_core::SuiteError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OcraInputError {
    /// The suite names this input and none was given.
    Missing(OcraField),
    /// An input the suite does not name.
    Unexpected(OcraField),
    /// The counter or time step was given to a verification, which takes
    /// them from the token state and the clock.
    SetByVerifier(OcraField),
    /// A question (or one of the two, in mutual mode) is empty.
    EmptyQuestion,
    /// A question is longer than the suite's `Q` length.
    QuestionTooLong {
        /// The suite's maximum, in characters.
        max: u8,
        /// The length given, in bytes.
        found: usize,
    },
    /// A numeric (`QN`) question has characters other than ASCII digits.
    QuestionNotDecimal,
    /// A hexadecimal (`QH`) question has characters other than `0-9`,
    /// `a-f`, `A-F`.
    QuestionNotHex,
    /// An alphanumeric (`QA`) question has characters other than ASCII
    /// letters and digits.
    QuestionNotAlphanumeric,
    /// The password hash is not as long as the suite's hash output.
    PasswordHashLength {
        /// The digest length of the suite's `P` hash.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The session information is not the suite's `S` length.
    SessionLength {
        /// The suite's session length.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The key was made for another hash than the suite's crypto function.
    KeyAlgorithm {
        /// The suite's hash.
        suite: Algorithm,
        /// The key's hash.
        key: Algorithm,
    },
}

impl fmt::Display for OcraInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(field) => write!(f, "the OCRA suite needs the {field}: give it"),
            Self::Unexpected(field) => {
                write!(f, "the OCRA suite has no {field}: leave it out")
            }
            Self::SetByVerifier(field) => write!(
                f,
                "the verifier takes the {field} from the token state and the clock: leave it out"
            ),
            Self::EmptyQuestion => f.write_str("the challenge question is empty"),
            Self::QuestionTooLong { max, found } => write!(
                f,
                "the challenge question has {found} characters; the suite allows at most {max}"
            ),
            Self::QuestionNotDecimal => {
                f.write_str("the numeric challenge must be half-width digits (0-9) only")
            }
            Self::QuestionNotHex => {
                f.write_str("the hexadecimal challenge must be 0-9 and a-f only")
            }
            Self::QuestionNotAlphanumeric => {
                f.write_str("the alphanumeric challenge must be ASCII letters and digits only")
            }
            Self::PasswordHashLength { expected, found } => write!(
                f,
                "the password hash is {found} bytes; the suite's hash gives {expected}"
            ),
            Self::SessionLength { expected, found } => write!(
                f,
                "the session information is {found} bytes; the suite requires exactly {expected}"
            ),
            Self::KeyAlgorithm { suite, key } => write!(
                f,
                "the key was made for {key} but the suite computes with {suite}"
            ),
        }
    }
}

impl core::error::Error for OcraInputError {}
