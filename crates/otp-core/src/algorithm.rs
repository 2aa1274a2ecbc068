//! The public parameters of a token: hash algorithm and number of digits.

use core::fmt;

use crate::error::ParamError;

/// The HMAC hash function of a token (RFC 4226 uses SHA-1; RFC 6238 adds
/// SHA-256 and SHA-512).
///
/// # Examples
///
/// ```
/// use otp_core::Algorithm;
/// assert_eq!(Algorithm::default(), Algorithm::Sha1);
/// assert_eq!(Algorithm::Sha256.to_string(), "SHA256");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA-1, the default of hardware tokens and of RFC 4226.
    #[default]
    Sha1,
    /// HMAC-SHA-256 (RFC 6238).
    Sha256,
    /// HMAC-SHA-512 (RFC 6238).
    Sha512,
}

impl Algorithm {
    /// The HMAC output length in bytes (20, 32 or 64).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Algorithm::Sha512.output_len(), 64);
    /// ```
    #[must_use]
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The name used by `otpauth://` URIs and oathtool (`SHA1`, `SHA256`, `SHA512`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Algorithm::Sha1.name(), "SHA1");
    /// ```
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// Parses `SHA1`, `SHA256` or `SHA512`, ignoring ASCII case and an
    /// optional dash (`sha-256`).
    ///
    /// # Errors
    ///
    /// [`ParamError::UnknownAlgorithm`] for any other name.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::Algorithm;
    /// assert_eq!(Algorithm::from_name("sha-256"), Ok(Algorithm::Sha256));
    /// assert!(Algorithm::from_name("md5").is_err());
    /// ```
    pub fn from_name(name: &str) -> Result<Self, ParamError> {
        let mut buf = [0u8; 6];
        let mut len = 0usize;
        for b in name.bytes().filter(|&b| b != b'-') {
            let slot = buf.get_mut(len).ok_or(ParamError::UnknownAlgorithm)?;
            *slot = b.to_ascii_uppercase();
            len = len.saturating_add(1);
        }
        match buf.get(..len) {
            Some(b"SHA1") => Ok(Self::Sha1),
            Some(b"SHA256") => Ok(Self::Sha256),
            Some(b"SHA512") => Ok(Self::Sha512),
            _ => Err(ParamError::UnknownAlgorithm),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many decimal digits a code has: 6 (the default and the manual's
/// hardware token), 7 or 8.
///
/// # Examples
///
/// ```
/// use otp_core::Digits;
/// assert_eq!(Digits::default(), Digits::Six);
/// assert_eq!(Digits::new(8), Ok(Digits::Eight));
/// assert!(Digits::new(5).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Digits {
    /// Six digits: 10^6 codes.
    #[default]
    Six = 6,
    /// Seven digits: 10^7 codes.
    Seven = 7,
    /// Eight digits: 10^8 codes.
    Eight = 8,
}

impl Digits {
    /// Returns the digit count for 6, 7 or 8.
    ///
    /// # Errors
    ///
    /// [`ParamError::UnsupportedDigits`] for any other count.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Digits::new(7).map(|d| d.get()), Ok(7));
    /// ```
    pub const fn new(count: u8) -> Result<Self, ParamError> {
        match count {
            6 => Ok(Self::Six),
            7 => Ok(Self::Seven),
            8 => Ok(Self::Eight),
            _ => Err(ParamError::UnsupportedDigits),
        }
    }

    /// The digit count as a number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Digits::Six.get(), 6);
    /// ```
    #[must_use]
    pub const fn get(self) -> u8 {
        self as u8
    }

    /// 10 to the power of the digit count: how many codes there are.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Digits::Six.modulus(), 1_000_000);
    /// ```
    #[must_use]
    pub const fn modulus(self) -> u32 {
        match self {
            Self::Six => 1_000_000,
            Self::Seven => 10_000_000,
            Self::Eight => 100_000_000,
        }
    }

    /// Reduces a 31-bit dynamic-truncation value to a code. Each arm divides
    /// by a constant, so the compiler emits a multiply, not a `div` whose
    /// latency could depend on the (secret) dividend.
    #[inline]
    pub(crate) const fn reduce(self, truncated: u32) -> u32 {
        match self {
            Self::Six => truncated % 1_000_000,
            Self::Seven => truncated % 10_000_000,
            Self::Eight => truncated % 100_000_000,
        }
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}
