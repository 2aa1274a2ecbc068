//! One-time password codes: strict parsing of what a person typed, and
//! zero-padded display without allocating.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};

use crate::{CodeError, Digits};

/// A one-time password: a number below 10^digits, shown zero-padded.
///
/// `Code` has no `PartialEq`: compare codes with [`ConstantTimeEq`], or
/// better, let [`verify`](crate::verify) do it. `Debug` hides the
/// digits (a code must not reach a log); `Display` shows them, for a
/// token's display.
///
/// # Examples
///
/// ```
/// use otp_core::{Code, CodeError, Digits};
/// let code = Code::parse("012345", Digits::Six)?;
/// assert_eq!(code.to_string(), "012345");
/// assert_eq!(Code::parse("０１２３４５", Digits::Six).unwrap_err(), CodeError::FullWidthDigits);
/// assert_eq!(format!("{code:?}"), "Code { digits: 6, .. }");
/// # Ok::<(), CodeError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Code {
    value: u32,
    digits: Digits,
}

/// Characters people type between digit groups, on Western and Japanese
/// keyboards.
pub(crate) const SEPARATORS: [char; 11] = [
    ' ', '-', '_', '.', ',', '\t', '\u{3000}', // ideographic space
    '\u{2212}', // minus sign
    '\u{30FC}', // katakana prolonged sound mark, typed for a dash
    '\u{FF0D}', // full-width hyphen-minus
    '\u{2010}', // hyphen
];

impl Code {
    /// Parses exactly `digits` half-width ASCII digits, nothing else: no
    /// trimming, no separators. A UI that wants to forgive surrounding
    /// spaces trims before calling.
    ///
    /// # Errors
    ///
    /// In this order of precedence: [`CodeError::Empty`],
    /// [`CodeError::FullWidthDigits`], [`CodeError::Separator`],
    /// [`CodeError::NotDigit`], [`CodeError::WrongLength`].
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{Code, CodeError, Digits};
    /// assert_eq!(Code::parse("123 456", Digits::Six).unwrap_err(), CodeError::Separator);
    /// assert_eq!(
    ///     Code::parse("12345", Digits::Six).unwrap_err(),
    ///     CodeError::WrongLength { expected: 6, found: 5 }
    /// );
    /// ```
    pub fn parse(input: &str, digits: Digits) -> Result<Self, CodeError> {
        if input.is_empty() {
            return Err(CodeError::Empty);
        }
        let (mut full_width, mut separator, mut other) = (false, false, false);
        let mut count = 0usize;
        let mut value = 0u32;
        for c in input.chars() {
            if let Some(d) = c.to_digit(10) {
                count = count.saturating_add(1);
                // Only the first `digits` digits are accumulated, so the
                // value stays below 10^8 and cannot overflow.
                if count <= usize::from(digits.get()) {
                    value = value.wrapping_mul(10).wrapping_add(d);
                }
            } else if ('\u{FF10}'..='\u{FF19}').contains(&c) {
                full_width = true;
            } else if SEPARATORS.contains(&c) {
                separator = true;
            } else {
                other = true;
            }
        }
        if full_width {
            Err(CodeError::FullWidthDigits)
        } else if separator {
            Err(CodeError::Separator)
        } else if other {
            Err(CodeError::NotDigit)
        } else if count != usize::from(digits.get()) {
            Err(CodeError::WrongLength {
                expected: digits.get(),
                found: count,
            })
        } else {
            Ok(Self { value, digits })
        }
    }

    /// A code from its numeric value, or `None` when `value` has more
    /// digits than `digits`.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{Code, Digits};
    /// assert_eq!(Code::from_value(42, Digits::Six).map(|c| c.to_string()), Some("000042".into()));
    /// assert!(Code::from_value(1_000_000, Digits::Six).is_none());
    /// ```
    #[must_use]
    pub const fn from_value(value: u32, digits: Digits) -> Option<Self> {
        if value < digits.modulus() {
            Some(Self { value, digits })
        } else {
            None
        }
    }

    /// A code from a value already reduced modulo `10^digits`.
    pub(crate) const fn from_reduced(value: u32, digits: Digits) -> Self {
        Self { value, digits }
    }

    /// The numeric value (leading zeros are not kept; see `Display`).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = otp_core::Code::parse("000123", otp_core::Digits::Six)?;
    /// assert_eq!(c.value(), 123);
    /// # Ok::<(), otp_core::CodeError>(())
    /// ```
    #[must_use]
    pub const fn value(&self) -> u32 {
        self.value
    }

    /// How many digits the code has.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = otp_core::Code::parse("12345678", otp_core::Digits::Eight)?;
    /// assert_eq!(c.digits(), otp_core::Digits::Eight);
    /// # Ok::<(), otp_core::CodeError>(())
    /// ```
    #[must_use]
    pub const fn digits(&self) -> Digits {
        self.digits
    }
}

impl ConstantTimeEq for Code {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.value.ct_eq(&other.value) & self.digits.get().ct_eq(&other.digits.get())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:0width$}",
            self.value,
            width = usize::from(self.digits.get())
        )
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Code")
            .field("digits", &self.digits.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    reason = "test data built from small loop indices"
)]
mod tests {
    use super::*;

    #[test]
    fn each_mistake_has_its_own_error() {
        let six = Digits::Six;
        assert_eq!(Code::parse("", six).unwrap_err(), CodeError::Empty);
        assert_eq!(
            Code::parse("１２３４５６", six).unwrap_err(),
            CodeError::FullWidthDigits
        );
        assert_eq!(
            Code::parse("123４５６", six).unwrap_err(),
            CodeError::FullWidthDigits
        );
        assert_eq!(
            Code::parse("123-456", six).unwrap_err(),
            CodeError::Separator
        );
        assert_eq!(
            Code::parse(" 123456", six).unwrap_err(),
            CodeError::Separator
        );
        assert_eq!(
            Code::parse("123\u{3000}456", six).unwrap_err(),
            CodeError::Separator
        );
        assert_eq!(Code::parse("12a456", six).unwrap_err(), CodeError::NotDigit);
        assert_eq!(Code::parse("12٣456", six).unwrap_err(), CodeError::NotDigit);
        assert_eq!(
            Code::parse("1234567", six).unwrap_err(),
            CodeError::WrongLength {
                expected: 6,
                found: 7
            }
        );
        assert_eq!(
            Code::parse("99999999999999999999", Digits::Eight).unwrap_err(),
            CodeError::WrongLength {
                expected: 8,
                found: 20
            }
        );
    }

    #[test]
    fn display_zero_pads_to_the_digit_count() {
        for (value, digits, shown) in [
            (0, Digits::Six, "000000"),
            (7, Digits::Seven, "0000007"),
            (99_999_999, Digits::Eight, "99999999"),
            (123_456, Digits::Eight, "00123456"),
        ] {
            let code = Code::from_value(value, digits).unwrap();
            assert_eq!(code.to_string(), shown);
            assert_eq!(Code::parse(shown, digits).unwrap().value(), value);
        }
    }

    #[test]
    fn constant_time_equality_compares_value_and_digits() {
        let a = Code::parse("123456", Digits::Six).unwrap();
        let b = Code::parse("123456", Digits::Six).unwrap();
        let c = Code::parse("123457", Digits::Six).unwrap();
        let d = Code::parse("00123456", Digits::Eight).unwrap();
        assert!(bool::from(a.ct_eq(&b)));
        assert!(!bool::from(a.ct_eq(&c)));
        assert!(!bool::from(a.ct_eq(&d)));
    }
}
