//! Token serial numbers: 12 half-width alphanumeric characters, as printed
//! on the back of the token.

use core::{fmt, str::FromStr};

/// How many characters a serial number has.
pub const SERIAL_LEN: usize = 12;

/// A token's serial number: exactly 12 half-width ASCII letters and digits,
/// stored upper case.
///
/// [`SerialNumber::parse`] accepts what a person types into the "new
/// token's serial number" field, as a bank would:
///
/// - surrounding ASCII spaces and tabs are trimmed;
/// - lower-case letters are turned into upper case (`ab12...` is `AB12...`).
///
/// Nothing else is forgiven: full-width characters (as a Japanese input
/// method types them), spaces or dashes between the characters, and any
/// other character are refused with their own [`SerialError`], so the
/// screen can say exactly what to fix.
///
/// `Display` shows the whole serial (it is printed on the token and is not
/// a secret); [`SerialNumber::masked`] shows only the last four characters,
/// as the selection screen does.
///
/// # Examples
///
/// ```
/// use otp_provision::{SerialError, SerialNumber};
/// let serial = SerialNumber::parse(" ab12cd345678 ")?;
/// assert_eq!(serial.as_str(), "AB12CD345678");
/// assert_eq!(serial.masked().to_string(), "●●●●●●●●5678");
/// assert_eq!(SerialNumber::parse("ＡＢ12CD345678"), Err(SerialError::FullWidth));
/// # Ok::<(), SerialError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerialNumber([u8; SERIAL_LEN]);

impl SerialNumber {
    /// Parses a serial number as typed by a person (see the type's docs for
    /// exactly what is accepted).
    ///
    /// # Errors
    ///
    /// In this order of precedence: [`SerialError::Empty`] when nothing but
    /// spaces was typed, [`SerialError::FullWidth`] for any full-width
    /// character (U+FF01..U+FF5E or the ideographic space U+3000),
    /// [`SerialError::InvalidCharacter`] for anything else that is not an
    /// ASCII letter or digit (inner spaces, dashes, other scripts), and
    /// [`SerialError::WrongLength`] when the letters and digits are not
    /// exactly 12.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{SerialError, SerialNumber};
    /// assert!(SerialNumber::parse("A1B2C3D4E5F6").is_ok());
    /// assert_eq!(
    ///     SerialNumber::parse("A1B2C3"),
    ///     Err(SerialError::WrongLength { expected: 12, found: 6 })
    /// );
    /// assert_eq!(
    ///     SerialNumber::parse("A1B2-C3D4-E5F6"),
    ///     Err(SerialError::InvalidCharacter { position: 5 })
    /// );
    /// ```
    pub fn parse(input: &str) -> Result<Self, SerialError> {
        let trimmed = input.trim_matches(|c| c == ' ' || c == '\t');
        if trimmed.is_empty() {
            return Err(SerialError::Empty);
        }
        if trimmed
            .chars()
            .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c) || c == '\u{3000}')
        {
            return Err(SerialError::FullWidth);
        }
        if let Some(position) = trimmed.chars().position(|c| !c.is_ascii_alphanumeric()) {
            return Err(SerialError::InvalidCharacter {
                position: position.saturating_add(1),
            });
        }
        let bytes = trimmed.as_bytes();
        let mut out = [0u8; SERIAL_LEN];
        if bytes.len() != SERIAL_LEN {
            return Err(SerialError::WrongLength {
                expected: SERIAL_LEN,
                found: bytes.len(),
            });
        }
        for (slot, b) in out.iter_mut().zip(bytes) {
            *slot = b.to_ascii_uppercase();
        }
        Ok(Self(out))
    }

    /// The serial number of the `index`-th token of a batch whose serials
    /// start with `prefix` (up to 4 characters; the rest is the index in
    /// decimal, zero-padded). Used by the factory.
    ///
    /// # Errors
    ///
    /// [`SerialError`] when the prefix is not up to 4 ASCII letters or
    /// digits, or the index does not fit in the remaining characters.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::SerialNumber;
    /// assert_eq!(SerialNumber::numbered("VT", 42)?.as_str(), "VT0000000042");
    /// # Ok::<(), otp_provision::SerialError>(())
    /// ```
    pub fn numbered(prefix: &str, index: u64) -> Result<Self, SerialError> {
        if prefix.len() > 4 {
            return Err(SerialError::WrongLength {
                expected: 4,
                found: prefix.len(),
            });
        }
        let width = SERIAL_LEN.saturating_sub(prefix.len());
        Self::parse(&format!("{prefix}{index:0width$}"))
    }

    /// The serial as 12 upper-case ASCII characters.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = otp_provision::SerialNumber::parse("abcdef123456")?;
    /// assert_eq!(s.as_str(), "ABCDEF123456");
    /// # Ok::<(), otp_provision::SerialError>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The serial with all but the last four characters hidden, for lists
    /// such as the token selection screen: `●●●●●●●●5678`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = otp_provision::SerialNumber::parse("ABCDEF123456")?;
    /// assert_eq!(s.masked().to_string(), "●●●●●●●●3456");
    /// # Ok::<(), otp_provision::SerialError>(())
    /// ```
    #[must_use]
    pub const fn masked(&self) -> MaskedSerial {
        MaskedSerial(*self)
    }
}

impl FromStr for SerialNumber {
    type Err = SerialError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for SerialNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SerialNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SerialNumber").field(&self.as_str()).finish()
    }
}

/// A serial number shown with all but its last four characters masked,
/// by `Display` and `Debug` alike (so that a masked serial logged with
/// `{:?}` stays masked).
///
/// # Examples
///
/// ```
/// let s = otp_provision::SerialNumber::parse("ABCDEF123456")?;
/// assert_eq!(format!("{}", s.masked()), "●●●●●●●●3456");
/// assert_eq!(format!("{:?}", s.masked()), "MaskedSerial(\"●●●●●●●●3456\")");
/// # Ok::<(), otp_provision::SerialError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaskedSerial(SerialNumber);

impl fmt::Debug for MaskedSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MaskedSerial")
            .field(&format_args!("\"{self}\""))
            .finish()
    }
}

impl fmt::Display for MaskedSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_str();
        let shown = SERIAL_LEN.saturating_sub(4);
        for _ in 0..shown {
            f.write_str("●")?;
        }
        f.write_str(s.get(shown..).unwrap_or_default())
    }
}

/// What is wrong with a serial number as typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SerialError {
    /// Nothing (or only spaces) was typed.
    Empty,
    /// Full-width characters, as a Japanese input method types them.
    FullWidth,
    /// A character that is not a half-width letter or digit.
    InvalidCharacter {
        /// Its 1-based position in the trimmed input.
        position: usize,
    },
    /// Only letters and digits, but not 12 of them.
    WrongLength {
        /// How many characters are required.
        expected: usize,
        /// How many were typed.
        found: usize,
    },
}

impl fmt::Display for SerialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str(
                "no serial number was entered: type the 12 characters printed on the back of the token",
            ),
            Self::FullWidth => f.write_str(
                "the serial number has full-width characters: type half-width letters and digits",
            ),
            Self::InvalidCharacter { position } => write!(
                f,
                "character {position} of the serial number is not a letter or digit: type only the 12 half-width letters and digits, without spaces or dashes"
            ),
            Self::WrongLength { expected, found } => write!(
                f,
                "the serial number has {found} characters: type all {expected} characters printed on the back of the token"
            ),
        }
    }
}

impl core::error::Error for SerialError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mistake_has_its_own_error() {
        assert_eq!(SerialNumber::parse("   "), Err(SerialError::Empty));
        assert_eq!(SerialNumber::parse(""), Err(SerialError::Empty));
        assert_eq!(
            SerialNumber::parse("１２３４５６７８９０１２"),
            Err(SerialError::FullWidth)
        );
        assert_eq!(
            SerialNumber::parse("123456\u{3000}789012"),
            Err(SerialError::FullWidth)
        );
        assert_eq!(
            SerialNumber::parse("123456 789012"),
            Err(SerialError::InvalidCharacter { position: 7 })
        );
        assert_eq!(
            SerialNumber::parse("12345678901é"),
            Err(SerialError::InvalidCharacter { position: 12 })
        );
        assert_eq!(
            SerialNumber::parse("1234567890123"),
            Err(SerialError::WrongLength {
                expected: 12,
                found: 13
            })
        );
    }

    #[test]
    fn accepts_what_a_person_types() {
        let s = SerialNumber::parse("\t abcdef123456  ").unwrap();
        assert_eq!(s.to_string(), "ABCDEF123456");
        assert_eq!(s, "ABCDEF123456".parse().unwrap());
        assert_eq!(format!("{s:?}"), "SerialNumber(\"ABCDEF123456\")");
    }

    #[test]
    fn masked_serial_debug_is_masked_like_display() {
        // On the original code `{:?}` printed `MaskedSerial(SerialNumber("ABCDEF123456"))`.
        let masked = SerialNumber::parse("ABCDEF123456").unwrap().masked();
        let debug = format!("{masked:?}");
        assert!(!debug.contains("ABCDEF123456"), "{debug}");
        assert!(!debug.contains("ABCDEF"), "{debug}");
        assert_eq!(debug, "MaskedSerial(\"●●●●●●●●3456\")");
        assert_eq!(
            format!("{masked:#?}"),
            "MaskedSerial(\n    \"●●●●●●●●3456\",\n)"
        );
    }

    #[test]
    fn numbered_serials_are_unique_and_valid() {
        let a = SerialNumber::numbered("VT", 0).unwrap();
        let b = SerialNumber::numbered("VT", 1).unwrap();
        assert_ne!(a, b);
        assert!(SerialNumber::numbered("VT", 10_000_000_000).is_err());
        assert!(SerialNumber::numbered("TOOLONG", 1).is_err());
    }
}
