//! Why a token file cannot be parsed, rendered or turned into a token.

use core::fmt;

use otp_core::{KeyError, ParamError};
use otp_provision::SerialError;

use crate::TokenError;

/// Why a token file cannot be parsed, rendered or turned into a [`Token`].
///
/// Never carries the secret: the messages name the field at fault, not its
/// value.
///
/// [`Token`]: crate::Token
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenFileError {
    /// The text is not TOML of the token file's shape (a missing or unknown
    /// field, a wrong type).
    Syntax {
        /// The TOML reader's message, without the quoted input.
        message: String,
    },
    /// The file is of another format than
    /// [`TokenFile::FORMAT`](crate::TokenFile::FORMAT).
    Format {
        /// The `format` the file declares.
        found: String,
    },
    /// The file cannot be written as TOML.
    Encode {
        /// The TOML writer's message.
        message: String,
    },
    /// The secret is not base32.
    SecretEncoding,
    /// The secret decodes to a length the core refuses.
    Secret(KeyError),
    /// The serial is not a valid serial number.
    Serial(SerialError),
    /// The algorithm, digits or time step cannot be used.
    Param(ParamError),
    /// The crystal or the token cannot be built (drift out of range).
    Token(TokenError),
    /// The keypad token's OCRA suite is malformed.
    Suite(otp_core::SuiteError),
    /// The token has no `otpauth://` URI (a keypad token: the URI cannot
    /// carry its OCRA suite).
    Uri(otp_provision::UriError),
}

impl fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { message } => write!(f, "not a token file ({message})"),
            Self::Format { found } => write!(
                f,
                "the token file has format `{found}`; this reader reads `{}`",
                crate::TokenFile::FORMAT
            ),
            Self::Encode { message } => write!(f, "cannot encode the token file: {message}"),
            Self::SecretEncoding => f.write_str("the token file's secret is not valid base32"),
            Self::Secret(e) => write!(f, "the token file's secret cannot be used: {e}"),
            Self::Serial(e) => write!(f, "the token file's serial: {e}"),
            Self::Param(e) => fmt::Display::fmt(e, f),
            Self::Token(e) => fmt::Display::fmt(e, f),
            Self::Suite(e) => write!(f, "the token file's OCRA suite: {e}"),
            Self::Uri(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for TokenFileError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Secret(e) => Some(e),
            Self::Serial(e) => Some(e),
            Self::Param(e) => Some(e),
            Self::Token(e) => Some(e),
            Self::Suite(e) => Some(e),
            Self::Uri(e) => Some(e),
            Self::Syntax { .. }
            | Self::Format { .. }
            | Self::Encode { .. }
            | Self::SecretEncoding => None,
        }
    }
}

impl From<ParamError> for TokenFileError {
    fn from(e: ParamError) -> Self {
        Self::Param(e)
    }
}

impl From<TokenError> for TokenFileError {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}
